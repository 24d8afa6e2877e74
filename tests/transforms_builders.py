"""Builders of tiny clean extracts for the transforms tests, in the dtypes validation hands over
(text ``str``, dates ``datetime64[ns]``, whole numbers ``Int64``). Dates are given as ISO text.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from schemas.models import MODELS
from transforms.inputs import contract_dtypes

LA = "E08000012"
FAMILY_DEFAULTS: dict[str, Any] = {
    "la_code": LA,
    "date_identified": "2023-01-10",
    "date_support_started": "2023-02-01",
    "status": "ATTACHED",
}
PERSON_DEFAULTS: dict[str, Any] = {"role": "CHILD", "dob": "2012-05-01", "gender": "F"}


def frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Extract ``name`` holding ``rows``: every contract column, missing values where a row
    leaves one out, the contract dtypes."""
    dtypes = dict(contract_dtypes(name))
    unknown = {key for row in rows for key in row} - set(dtypes)
    if unknown:
        raise KeyError(f"not columns of {name}: {sorted(unknown)}")
    data = {
        column: pd.Series([row.get(column) for row in rows], dtype=dtype)
        for column, dtype in dtypes.items()
    }
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def family(family_id: str, **values: Any) -> dict[str, Any]:
    return {"family_id": family_id, **FAMILY_DEFAULTS, **values}


def person(person_id: str, family_id: str = "F1", **values: Any) -> dict[str, Any]:
    row = {"person_id": person_id, "family_id": family_id, **PERSON_DEFAULTS, **values}
    if row["role"] == "UNBORN" and "dob" not in values:
        row["dob"] = None
        row.setdefault("expected_dob", "2026-01-01")
    return row


def extracts(**tables: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """All ten extracts; those not given are empty. ``families`` defaults to one family F1 and
    ``people`` to one child P1 of it."""
    tables.setdefault("families", [family("F1")])
    tables.setdefault("people", [person("P1")])
    return {name: frame(name, tables.get(name, [])) for name in MODELS}
