"""Access to the clean extracts handed over by validation, and the date helpers the transforms
share.

An extract missing from the mapping is treated as empty (no events of that kind), so a council
that keeps no exclusions, say, still gets a submission; ``families`` and ``people`` are required.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache

import numpy as np
import pandas as pd

from schemas.models import MODELS

_KIND_DTYPES = {"date": "datetime64[ns]", "int": "Int64", "flag": "Int64"}
REQUIRED = ("families", "people")


@cache
def contract_dtypes(name: str) -> tuple[tuple[str, str], ...]:
    """(column, dtype) of extract ``name`` in contract order, as validation hands them over."""
    columns = MODELS[name].to_schema().columns
    return tuple(
        (column, _KIND_DTYPES.get((spec.metadata or {}).get("kind", ""), "str"))
        for column, spec in columns.items()
    )


def empty_extract(name: str) -> pd.DataFrame:
    """An empty frame with the contract columns and dtypes of extract ``name``."""
    return pd.DataFrame(
        {column: pd.Series([], dtype=dtype) for column, dtype in contract_dtypes(name)}
    )


def extract(extracts: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The clean extract ``name``; an empty one when the mapping lacks it (not for the
    required extracts, whose absence is a programming error)."""
    frame = extracts.get(name)
    if frame is None:
        if name in REQUIRED:
            raise KeyError(f"the {name} extract is required")
        return empty_extract(name)
    return frame


def timestamp(day: date) -> pd.Timestamp:
    return pd.Timestamp(day).normalize()


def day_numbers(values: pd.Series, *, missing: int) -> np.ndarray:
    """Dates as int64 days since 1970-01-01, with ``missing`` for NaT (for interval arithmetic
    on plain arrays)."""
    days = values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = days.astype(np.int64)
    out[np.isnat(days)] = missing
    return out


def day_number(day: date) -> int:
    return int(np.datetime64(pd.Timestamp(day).date(), "D").astype(np.int64))


def int_flags(values: np.ndarray | pd.Series) -> pd.arrays.IntegerArray:
    """Booleans as an Int64 0/1 array."""
    return pd.arrays.IntegerArray(
        np.asarray(values, dtype=bool).astype(np.int64), np.zeros(len(values), dtype=bool)
    )


def census_column(census: date, length: int) -> pd.Series:
    """The ``census_date`` column: the census date on every row, datetime64[ns]."""
    return pd.Series(np.full(length, np.datetime64(census, "D")).astype("datetime64[ns]"))
