"""The terminal's summaries (flows/summary.py) on hand-made results: the whole text, worked out
here, with every count different from every other so that none can stand in another's place."""

from __future__ import annotations

import pandas as pd

from flows.results import CohortSizes, InputSummary, Outcome, PeriodResult, RunResult
from flows.summary import run_summary, validation_summary
from schemas.rules import empty_findings
from schemas.validation import ValidationResult

LA = "E08000012"


def _validation(source: str = "people.csv", notes: tuple[str, ...] = ()) -> ValidationResult:
    counts = pd.DataFrame(
        {
            "extract": ["families", "people"],
            "source": ["families.csv", source],
            "sha256": ["a" * 64, "b" * 64],
            "rows_read": [40, 120],
            "quarantined": [3, 7],
            "warned": [11, 13],
        }
    )
    return ValidationResult(
        clean={}, findings=empty_findings(), counts=counts, la_code=LA, column_notes=notes
    )


HEADER = f"{'extract':<26}{'source':<32}{'read':>9}{'quarantined':>13}{'warned':>9}"


def test_the_validation_summary_without_header_notes_opens_with_its_table() -> None:
    assert validation_summary(_validation(), 0.1) == [
        HEADER,
        f"{'families':<26}{'families.csv':<32}{40:>9}{3:>13}{11:>9}",
        f"{'people':<26}{'people.csv':<32}{120:>9}{7:>13}{13:>9}",
        "people quarantined: 5.8% (threshold 10.0%)",
    ]
    noted = validation_summary(_validation(notes=("people: 'Surname ' is surname",)), 0.1)
    assert noted[:3] == [
        "headers the contract does not know:",
        "  people: 'Surname ' is surname",
        HEADER,
    ]


def test_a_long_source_name_is_cut_so_the_counts_stay_in_their_columns() -> None:
    long = "people_extract_from_the_case_management_system.csv"
    line = validation_summary(_validation(source=long), 0.1)[2]
    assert len(line) == len(HEADER)
    assert line[26:58] == long[:31] + " "
    assert line[58:].split() == ["120", "7", "13"]


def test_the_summary_of_a_backfill_says_why_each_failed_period_failed() -> None:
    cohort = CohortSizes(nis_families=5, nis_people=17, fpd_families=4, fpd_people=12, opted_out=2)
    result = RunResult(
        periods=(
            PeriodResult(
                "2025-09-30",
                LA,
                Outcome.WRITTEN,
                folder="/out/E08000012/2025-09-30",
                message="the folder that was there is kept as x",
                cohort=cohort,
                report="/out/E08000012/2025-09-30/validation_report.xlsx",
            ),
            PeriodResult("2026-03-31", LA, Outcome.FAILED, message="a submission is in the way"),
        ),
        la_code=LA,
        inputs=InputSummary(160, 10, 24, 120, 7, 0.1),
    )
    assert run_summary(result) == [
        "NIS E08000012 2025-09-30 to 2026-03-31",
        "  rows read         160",
        "  quarantined       10 rows; people 7 of 120 (5.8%, threshold 10.0%)",
        "  warnings          24 rows (values sent empty)",
        "2025-09-30: written - /out/E08000012/2025-09-30",
        "  NIS cohort        17 people in 5 families",
        "  FPD cohort        12 people in 4 families",
        "  opted out         2 people (in no file)",
        "  note              the folder that was there is kept as x",
        "  open the report   /out/E08000012/2025-09-30/validation_report.xlsx",
        "2026-03-31: failed",
        "  why               a submission is in the way",
    ]


def test_a_lone_failed_period_leaves_its_reason_to_the_error_line() -> None:
    result = RunResult(
        periods=(PeriodResult("2026-03-31", LA, Outcome.FAILED, message="in the way"),),
        la_code=None,
    )
    # Said once: the reason is the command's one error line on stderr. No council was named:
    # no double space where it would be.
    assert run_summary(result) == ["NIS 2026-03-31", "2026-03-31: failed"]
