"""Deterministic CSV writing (spec section 5): UTF-8 without BOM, comma separated, a header row,
``\\n`` line ends, ISO dates, whole numbers as digits, percentages with one decimal, empty for
missing, no index, quotes only where a value needs them.

Every column is turned into text by rules that depend on its dtype only, never on the machine,
the locale or pandas' float printing, so the same table gives the same bytes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from exports.files import atomic_path


def format_column(s: pd.Series) -> pd.Series:
    """The CSV text of a column (missing = NaN, written as an empty field).

    - dates (any datetime64 unit, at midnight): ``YYYY-MM-DD``;
    - integers and booleans: digits (booleans as 0/1);
    - floats: one decimal, rounded half away from zero (the percentages of the contract are
      exact tenths, so this only fixes their spelling: ``92.3``, ``100.0``);
    - text: as it is, except that a carriage return inside a value becomes ``\\n``.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            raise TypeError(f"column {s.name!r} has a time zone; dates must be naive")
        return s.dt.strftime("%Y-%m-%d").astype("str")
    if pd.api.types.is_bool_dtype(s):
        return s.astype("Int64").astype("str")
    if pd.api.types.is_integer_dtype(s):
        return s.astype("Int64").astype("str")
    if pd.api.types.is_float_dtype(s):
        return _one_decimal(s.astype("Float64"))
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        # The csv module quotes a field holding "\n" but not one holding a bare "\r", which most
        # readers take for a line end; line breaks inside a value are written as "\n".
        return s.astype("str").str.replace("\r\n?", "\n", regex=True)
    raise TypeError(f"column {s.name!r} has dtype {s.dtype} that has no CSV format")


def _one_decimal(s: pd.Series) -> pd.Series:
    # Integer tenths and string concatenation: no float-to-text conversion, so no "92.30000001"
    # and no dependence on the platform's float printing.
    tenths = np.floor(s.abs() * 10 + 0.5).astype("Int64")
    whole = (tenths // 10).astype("str")
    decimal = (tenths % 10).astype("str")
    sign = pd.Series("", index=s.index, dtype="str").mask((s < 0).fillna(False), "-")
    return (sign + whole + "." + decimal).astype("str")


def format_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every column of ``df`` as CSV text, in the same order."""
    return pd.DataFrame({c: format_column(df[c]) for c in df.columns}, index=df.index)


def write_table_csv(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` (its columns in its order, its rows in its order) to ``path`` atomically,
    mode 0600."""
    text = format_table(df)
    with atomic_path(Path(path)) as tmp:
        text.to_csv(
            tmp,
            index=False,
            encoding="utf-8",
            lineterminator="\n",
            quoting=csv.QUOTE_MINIMAL,
            na_rep="",
        )
