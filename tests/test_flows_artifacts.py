"""The artifacts' builders (flows/artifacts.py) on hand-made counts and results, without Prefect:
the text the data team reads in the UI, worked out here line by line. The flow tests check that a
run publishes them; these check what each line says when the numbers differ from one another."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from flows import artifacts
from flows.artifacts import (
    artifact_key,
    backfill_markdown,
    cohort_sizes,
    extract_counts_table,
    period_markdown,
    rules_table,
)
from flows.results import CohortSizes, Outcome, PeriodResult, RunResult

LA = "E08000012"
SHA = "0123456789abcdef" * 4


def _counts() -> pd.DataFrame:
    # Every count differs from every other, so a count put in the wrong place shows.
    return pd.DataFrame(
        {
            "extract": ["families", "people"],
            "source": ["families.csv", "people.csv"],
            "rows_read": [40, 120],
            "quarantined": [3, 7],
            "warned": [11, 13],
            "sha256": [SHA, "f" * 64],
        }
    )


def test_keys_are_lower_case_letters_digits_and_single_inner_dashes() -> None:
    assert artifact_key("nis-summary", LA, "2026-03-31") == "nis-summary-e08000012-2026-03-31"
    # Prefect refuses other characters; a label's spaces, brackets and dots become one dash each
    # run, and none is left at either end.
    assert artifact_key("nis-rules", LA, "(re-run) 2026.03.31!") == (
        "nis-rules-e08000012-re-run-2026-03-31"
    )
    assert artifact_key("", "nis-backfill", "") == "nis-backfill"


def test_the_extracts_table_has_each_extracts_own_counts_and_a_short_hash() -> None:
    assert extract_counts_table(_counts()) == [
        {
            "extract": "families",
            "source": "families.csv",
            "rows_read": 40,
            "quarantined": 3,
            "warned": 11,
            "sha256": "0123456789ab",
        },
        {
            "extract": "people",
            "source": "people.csv",
            "rows_read": 120,
            "quarantined": 7,
            "warned": 13,
            "sha256": "ffffffffffff",
        },
    ]


def test_the_rules_table_keeps_each_rules_severity_message_and_count() -> None:
    top = pd.DataFrame(
        {
            "rule": ["E105", "W201"],
            "severity": ["error", "warning"],
            "message": ["code not in the contract's code list", "UPN check letter is wrong"],
            "count": [9, 4],
        }
    )
    assert rules_table(top) == [
        {
            "rule": "E105",
            "severity": "error",
            "message": "code not in the contract's code list",
            "count": 9,
        },
        {"rule": "W201", "severity": "warning", "message": "UPN check letter is wrong", "count": 4},
    ]


def test_the_period_summary_says_every_count_in_its_place() -> None:
    cohort = CohortSizes(nis_families=5, nis_people=17, fpd_families=4, fpd_people=12, opted_out=2)
    result = PeriodResult(
        "2026-03-31",
        LA,
        Outcome.WRITTEN,
        folder="/out/E08000012/2026-03-31",
        files=("manifest.json", "nis_E08000012_2026-03-31_fpd.csv"),
        message="written with 2 warnings",
        cohort=cohort,
    )
    markdown = period_markdown(result, "2025-10-01", _counts(), 0.0583, 0.05, cohort)
    assert markdown == (
        "# NIS submission E08000012 2026-03-31\n"
        "\n"
        "- period: 2025-10-01 to 2026-03-31\n"
        "- outcome: **written**\n"
        "- note: written with 2 warnings\n"
        "- rows read: 160, quarantined: 10, warned: 24\n"
        "- people quarantined: 5.8% (threshold 5.0%)\n"
        "\n"
        "## Cohorts\n"
        "\n"
        "| cohort | families | people |\n"
        "|---|---:|---:|\n"
        "| NIS | 5 | 17 |\n"
        "| FPD | 4 | 12 |\n"
        "\n"
        "People left out by opt-out: 2\n"
        "\n"
        "## Output files\n"
        "\n"
        "Folder: `/out/E08000012/2026-03-31`\n"
        "\n"
        "- `manifest.json`\n"
        "- `nis_E08000012_2026-03-31_fpd.csv`\n"
    )


def test_a_failed_period_without_tables_or_folder_says_only_what_it_knows() -> None:
    result = PeriodResult(
        "2026-03-31", LA, Outcome.THRESHOLD_EXCEEDED, message="6.0% of people quarantined"
    )
    markdown = period_markdown(result, "2025-10-01", _counts(), 0.06, 0.05)
    assert markdown.splitlines() == [
        "# NIS submission E08000012 2026-03-31",
        "",
        "- period: 2025-10-01 to 2026-03-31",
        "- outcome: **threshold exceeded**",
        "- note: 6.0% of people quarantined",
        "- rows read: 160, quarantined: 10, warned: 24",
        "- people quarantined: 6.0% (threshold 5.0%)",
    ]


def test_the_backfill_summary_counts_the_failed_periods_and_keeps_its_table_whole() -> None:
    result = RunResult(
        periods=(
            PeriodResult("2025-09-30", LA, Outcome.WRITTEN, files=("a", "b", "c")),
            PeriodResult("2026-03-31", LA, Outcome.FAILED, message="in the way | use --replace"),
        ),
        la_code=LA,
    )
    markdown = backfill_markdown(result, "2025-09-30", "2026-03-31", _counts(), 0.01, 0.05)
    assert markdown.splitlines() == [
        "# NIS backfill E08000012 2025-09-30 to 2026-03-31",
        "",
        "- periods: 2, failed: 1",
        "- rows read: 160, quarantined: 10, warned: 24",
        "- people quarantined: 1.0% (threshold 5.0%)",
        "",
        "| census date | outcome | files | note |",
        "|---|---|---:|---|",
        "| 2025-09-30 | written | 3 |  |",
        # A "|" in a message would open a fifth column.
        "| 2026-03-31 | failed | 0 | in the way / use --replace |",
    ]


def test_one_person_in_a_hub_is_not_shown_as_none() -> None:
    result = RunResult(periods=(), la_code=LA)
    markdown = backfill_markdown(result, "2025-09-30", "2026-03-31", _counts(), 1 / 100_000, 0.05)
    assert "- people quarantined: 0.001% (threshold 5.0%)" in markdown.splitlines()


def test_cohort_sizes_count_families_once_and_people_by_row() -> None:
    individuals = pd.DataFrame({"family_id": ["F1", "F1", "F1", "F2", "F3"]})
    fpd = pd.DataFrame({"family_id": ["F1", "F1", "F3"]})
    assert cohort_sizes(individuals, fpd, opted_out=4) == CohortSizes(
        nis_families=3, nis_people=5, fpd_families=2, fpd_people=3, opted_out=4
    )


@pytest.fixture()
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import prefect.artifacts

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        prefect.artifacts, "create_table_artifact", lambda **kwargs: calls.append(kwargs)
    )
    return calls


def test_a_run_without_findings_publishes_a_rules_table_that_says_so(
    published: list[dict[str, Any]],
) -> None:
    empty = pd.DataFrame(columns=["rule", "severity", "message", "count"])
    artifacts.publish_validation(LA, "2026-03-31", _counts(), empty)
    extracts, rules = published
    # Two keys, so neither table replaces the other in the UI's history.
    assert extracts["key"] == "nis-extracts-e08000012-2026-03-31"
    assert rules["key"] == "nis-rules-e08000012-2026-03-31"
    assert extracts["table"] == extract_counts_table(_counts())
    # An empty table shows nothing at all in the UI: one row says there was nothing to show.
    assert rules["table"] == [{"rule": "-", "severity": "-", "message": "no findings", "count": 0}]
