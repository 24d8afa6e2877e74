"""The Prefect artifacts a run publishes for the data team, built from counts and codes only.

The builders are plain functions of counts (no DataFrame of people ever reaches them), so what
appears in the Prefect UI can be tested without Prefect. Keys are stable per LA and period, so
the Artifacts page keeps a history of each period's runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from exports.shares import share_text
from flows.results import CohortSizes, PeriodResult, RunResult

# Dashes are in the class so that a run of them (a part ending in an unsafe character, then the
# joining dash) becomes one.
_KEY_UNSAFE = re.compile(r"[^a-z0-9]+")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key: lower-case letters and digits, with single dashes between them."""
    text = "-".join(p for p in parts if p)
    return _KEY_UNSAFE.sub("-", text.lower()).strip("-")


def extract_counts_table(counts: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows read, quarantined and warned per extract, with the input's hash (first 12 digits)."""
    return [
        {
            "extract": str(row["extract"]),
            "source": str(row["source"]),
            "rows_read": int(row["rows_read"]),
            "quarantined": int(row["quarantined"]),
            "warned": int(row["warned"]),
            "sha256": str(row["sha256"])[:12],
        }
        for row in counts.to_dict(orient="records")
    ]


def rules_table(top_rules: pd.DataFrame) -> list[dict[str, Any]]:
    """The most frequent validation rules: code, severity, fixed message and count."""
    return [
        {
            "rule": str(row["rule"]),
            "severity": str(row["severity"]),
            "message": str(row["message"]),
            "count": int(row["count"]),
        }
        for row in top_rules.to_dict(orient="records")
    ]


def _counts_lines(counts: pd.DataFrame, share: float, threshold: float) -> list[str]:
    read = int(counts["rows_read"].sum())
    quarantined = int(counts["quarantined"].sum())
    warned = int(counts["warned"].sum())
    return [
        f"- rows read: {read}, quarantined: {quarantined}, warned: {warned}",
        f"- people quarantined: {share_text(share)} (threshold {share_text(threshold)})",
    ]


def period_markdown(
    result: PeriodResult,
    period_start: str,
    counts: pd.DataFrame,
    share: float,
    threshold: float,
    cohort: CohortSizes | None = None,
) -> str:
    """The markdown summary of one period's submission (no indentation: Prefect renders it)."""
    lines = [
        f"# NIS submission {result.la_code} {result.census}",
        "",
        f"- period: {period_start} to {result.census}",
        f"- outcome: **{result.outcome.value}**",
    ]
    if result.message:
        lines.append(f"- note: {result.message}")
    lines.extend(_counts_lines(counts, share, threshold))
    if cohort is not None:
        lines += [
            "",
            "## Cohorts",
            "",
            "| cohort | families | people |",
            "|---|---:|---:|",
            f"| NIS | {cohort.nis_families} | {cohort.nis_people} |",
            f"| FPD | {cohort.fpd_families} | {cohort.fpd_people} |",
            "",
            f"People left out by opt-out: {cohort.opted_out}",
        ]
    if result.previous_census is not None:
        lines += [
            "",
            f"## Changes since {result.previous_census}",
            "",
            "| change | rows |",
            "|---|---:|",
        ]
        lines += [f"| {kind} | {n} |" for kind, n in result.change_counts]
    if result.folder:
        lines += ["", "## Output files", "", f"Folder: `{result.folder}`", ""]
        lines += [f"- `{name}`" for name in result.files]
    return "\n".join(lines) + "\n"


def backfill_markdown(
    result: RunResult, first: str, last: str, counts: pd.DataFrame, share: float, threshold: float
) -> str:
    """The markdown summary of a backfill: one line per period."""
    la = result.la_code or "?"
    lines = [
        f"# NIS backfill {la} {first} to {last}",
        "",
        f"- periods: {len(result.periods)}, failed: {len(result.failed)}",
    ]
    lines.extend(_counts_lines(counts, share, threshold))
    lines += ["", "| census date | outcome | files | note |", "|---|---|---:|---|"]
    for period in result.periods:
        note = period.message.replace("|", "/")
        lines.append(f"| {period.census} | {period.outcome.value} | {len(period.files)} | {note} |")
    return "\n".join(lines) + "\n"


def cohort_sizes(individuals: pd.DataFrame, fpd: pd.DataFrame, opted_out: int) -> CohortSizes:
    return CohortSizes(
        nis_families=int(individuals["family_id"].nunique()),
        nis_people=len(individuals),
        fpd_families=int(fpd["family_id"].nunique()),
        fpd_people=len(fpd),
        opted_out=int(opted_out),
    )


def publish_validation(la_code: str, label: str, counts: pd.DataFrame, top: pd.DataFrame) -> None:
    """Publish the per-extract counts table and the top-rules table of a run."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(
        table=extract_counts_table(counts),
        key=artifact_key("nis-extracts", la_code, label),
        description=f"Rows read, quarantined and warned per extract ({la_code} {label})",
    )
    create_table_artifact(
        table=rules_table(top)
        or [{"rule": "-", "severity": "-", "message": "no findings", "count": 0}],
        key=artifact_key("nis-rules", la_code, label),
        description=f"Most frequent validation rules ({la_code} {label})",
    )


def publish_markdown(markdown: str, key_parts: Iterable[str], description: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(
        markdown=markdown, key=artifact_key(*key_parts), description=description
    )
