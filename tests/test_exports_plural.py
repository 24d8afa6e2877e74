"""Counts on the terminal agree with their number (exports/plural.py, flows/summary.py)."""

from __future__ import annotations

import pytest

from exports.plural import counted
from flows.results import CohortSizes, InputSummary, Outcome, PeriodResult, RunResult
from flows.summary import people_in, run_summary


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0, "0 families"),
        (1, "1 family"),
        (2, "2 families"),
        (11, "11 families"),
        (21, "21 families"),
    ],
)
def test_the_word_agrees_with_the_number(number: int, text: str) -> None:
    assert counted(number, "family", "families") == text


def test_a_cohort_of_one_reads_in_the_singular() -> None:
    assert people_in(1, 1) == "1 person in 1 family"
    assert people_in(3, 1) == "3 people in 1 family"
    assert people_in(0, 0) == "0 people in 0 families"


def test_a_run_of_ones_says_each_count_in_the_singular() -> None:
    cohort = CohortSizes(nis_families=1, nis_people=1, fpd_families=1, fpd_people=1, opted_out=1)
    result = RunResult(
        periods=(PeriodResult("2026-03-31", "E08000012", Outcome.WRITTEN, cohort=cohort),),
        la_code="E08000012",
        inputs=InputSummary(9, 1, 1, 4, 1, 0.5),
    )
    assert run_summary(result) == [
        "NIS E08000012 2026-03-31",
        "  rows read         9",
        "  quarantined       1 row; people 1 of 4 (25.0%, threshold 50.0%)",
        "  warnings          1 row (values sent empty)",
        "2026-03-31: written",
        "  NIS cohort        1 person in 1 family",
        "  FPD cohort        1 person in 1 family",
        "  opted out         1 person (in no file)",
    ]
