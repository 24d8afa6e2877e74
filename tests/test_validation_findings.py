"""The findings frame built from the rows the rules found (schemas.validation._findings_of): one
row per finding, its source row number (not its position), its record's keys, the rule's code,
severity and message, in the order found; with the dtypes of an empty findings frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.rules import FINDING_COLUMNS, RULES, empty_findings
from schemas.validation import Found, _findings_of


def _text(values: list[str | None], index: list[int] | None = None) -> pd.Series:
    return pd.Series([np.nan if v is None else v for v in values], index=index, dtype="str")


def test_each_row_found_with_its_source_row_and_keys() -> None:
    too_long = "F" * 65  # longer than any id: never copied into the report (E117's)
    typed = {
        # Source row numbers as the readers give them: rows 4 and 6 of the file were dropped.
        "families": pd.DataFrame(
            {
                "family_id": _text(["F1", "F2", too_long], [2, 3, 5]),
                "la_code": _text(["E1"] * 3, [2, 3, 5]),
            }
        ),
        "people": pd.DataFrame(
            {
                "person_id": _text(["P1", None, "P3"], [2, 7, 8]),
                "family_id": _text(["F1", "F1", "F2"], [2, 7, 8]),
            }
        ),
    }
    e105, w201, e101 = RULES["E105"], RULES["W201"], RULES["E101"]
    found = [
        Found(e105, "people", "gender", np.array([2, 0])),
        Found(e101, "families", "date_identified", np.array([0, 2])),
        Found(w201, "people", "nino", np.array([1])),
    ]
    got = _findings_of(found, typed)
    want = pd.DataFrame(
        {
            "extract": _text(["people", "people", "families", "families", "people"]),
            "row": pd.array([8, 2, 2, 5, 7], dtype="Int64"),
            "family_id": _text(["F2", "F1", "F1", None, "F1"]),
            "person_id": _text(["P3", "P1", None, None, None]),
            "column": _text(["gender", "gender", "date_identified", "date_identified", "nino"]),
            "rule": _text(["E105", "E105", "E101", "E101", "W201"]),
            "severity": _text([e105.severity.value] * 2 + [e101.severity.value] * 2 + ["warning"]),
            "message": _text([e105.message] * 2 + [e101.message] * 2 + [w201.message]),
        }
    )
    assert list(got.columns) == FINDING_COLUMNS
    pd.testing.assert_frame_equal(got, want)
    assert (got.dtypes == empty_findings().dtypes).all()


def test_nothing_found_is_an_empty_findings_frame() -> None:
    pd.testing.assert_frame_equal(_findings_of([], {}), empty_findings())
