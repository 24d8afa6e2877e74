from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from transforms_builders import family, frame

from schemas.outputs import PROBLEM_COLUMNS
from transforms.status import intervention_status, problems_met

C = date(2025, 9, 30)


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"status": "DECLINED"}, "DECLINED"),
        ({"status": "DECLINED", "date_support_started": None}, "DECLINED"),
        ({"status": "NOT_ELIGIBLE", "date_support_ended": "2025-01-01"}, "NOT_ELIGIBLE"),
        ({"status": "IDENTIFIED", "date_support_started": None}, "IDENTIFIED"),
        # support starts after C: comparison group on C (a backfill of an older period)
        ({"date_support_started": "2025-10-01"}, "IDENTIFIED"),
        ({"date_support_started": "2025-09-30"}, "ATTACHED"),
        ({"date_support_ended": "2025-10-01", "status": "CLOSED"}, "ATTACHED"),
        ({"date_support_ended": "2025-09-30", "status": "CLOSED"}, "CLOSED"),
        # claims count from their claim_date
        (
            {
                "date_support_ended": "2025-05-01",
                "status": "CLOSED",
                "claim_type": "SSP",
                "claim_date": "2025-09-30",
            },
            "CLAIMED_SSP",
        ),
        (
            {
                "date_support_ended": "2025-05-01",
                "status": "CLOSED",
                "claim_type": "CE",
                "claim_date": "2025-06-01",
            },
            "CLAIMED_CE",
        ),
        (
            {
                "date_support_ended": "2025-05-01",
                "status": "CLOSED",
                "claim_type": "SSP",
                "claim_date": "2025-10-01",
            },
            "CLOSED",
        ),
        # a claim while support is still running: ATTACHED comes first
        ({"claim_type": "SSP", "claim_date": "2025-06-01"}, "ATTACHED"),
    ],
)
def test_intervention_status(values: dict, status: str) -> None:
    families = frame("families", [family("F1", **values)])
    result = intervention_status(families, C)
    assert result.tolist() == [status]
    assert result.dtype == "str"


def test_intervention_status_keeps_the_index() -> None:
    families = frame(
        "families",
        [family("F1"), family("F2", status="DECLINED"), family("F3", date_support_started=None)],
    ).set_index(pd.Index([10, 5, 7]))
    result = intervention_status(families, C)
    assert result.to_dict() == {10: "ATTACHED", 5: "DECLINED", 7: "IDENTIFIED"}


def test_problems_met_as_at_census() -> None:
    families = frame("families", [family("F1"), family("F2"), family("F3")])
    eligibility = frame(
        "eligibility",
        [
            {"family_id": "F1", "problem": "CRIME_ASB", "date_met": "2025-09-30"},
            {"family_id": "F1", "problem": "HEALTH", "date_met": "2025-10-01"},  # after C
            {
                "family_id": "F1",
                "problem": "EDUCATION",
                "person_id": "P1",
                "date_met": "2024-01-01",
            },
            {
                "family_id": "F1",
                "problem": "EDUCATION",
                "person_id": "P2",
                "date_met": "2024-02-01",
            },
            {"family_id": "F2", "problem": "DOMESTIC_ABUSE", "date_met": "2023-01-01"},
            {"family_id": "F9", "problem": "WORKLESSNESS", "date_met": "2023-01-01"},  # other
        ],
    )
    result = problems_met(families, eligibility, C)
    assert list(result.columns) == ["family_id", *PROBLEM_COLUMNS.values()]
    assert list(PROBLEM_COLUMNS.values()) == [
        "p_crime_asb",
        "p_education",
        "p_children_need_help",
        "p_worklessness",
        "p_domestic_abuse",
        "p_health",
    ]
    rows = result.set_index("family_id").astype(int).to_dict("index")
    assert rows["F1"] == {
        "p_crime_asb": 1,
        "p_education": 1,
        "p_children_need_help": 0,
        "p_worklessness": 0,
        "p_domestic_abuse": 0,
        "p_health": 0,
    }
    assert sum(rows["F2"].values()) == 1 and rows["F2"]["p_domestic_abuse"] == 1
    assert sum(rows["F3"].values()) == 0
    assert all(result[c].dtype == "Int64" for c in PROBLEM_COLUMNS.values())
