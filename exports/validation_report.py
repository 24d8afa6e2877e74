"""The validation report (``validation_report.xlsx``): every quarantined row and warning of a run.

Internal, not for submission. Sheets:
- ``Summary``: a header block (census date, extract date, threshold, the quarantined share of
  people, whether a submission was written), rows read, quarantined and warned per extract, then
  the number of findings per rule, extract and column with the rule's severity, message and how to
  fix it (from the rule registry: the column's code list or expected format), and a note when the
  ``Findings`` sheet had to be cut at Excel's row limit.
- ``Findings``: one row per finding (``schemas.rules.FINDING_COLUMNS``), fatal first, then errors,
  then warnings; within a severity by extract (contract order), source row, rule and column, with
  an autofilter on its header. The order is total, so the same findings give the same file
  whatever order they arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from exports import excel
from exports.files import make_private_dir
from exports.shares import share_text
from schemas.models import EXTRACT_NAMES
from schemas.rules import FINDING_COLUMNS, RULES, Severity

COUNT_COLUMNS: list[str] = ["extract", "source", "sha256", "rows_read", "quarantined", "warned"]


@dataclass(frozen=True)
class ReportContext:
    """What the report's header block says about the run that wrote it."""

    census: date | None  # None for ``nis validate``, which is not a run of a census date
    extract_date: date
    threshold: float
    people_share: float  # quarantined people rows / people rows read
    submission: str  # whether a submission was written, in words

    def facts(self) -> list[tuple[str, object]]:
        return [
            ("census date", self.census.isoformat() if self.census else "none (nis validate)"),
            ("extract date", self.extract_date.isoformat()),
            ("quarantine threshold", share_text(self.threshold)),
            ("people quarantined", share_text(self.people_share)),
            ("submission", self.submission),
        ]


_SEVERITY_ORDER = [Severity.FATAL.value, Severity.ERROR.value, Severity.WARNING.value]


def _rank(values: pd.Series, order: list[str]) -> pd.Series:
    """Position of each value in ``order``; values not listed come after, alphabetically."""
    extra = sorted(set(values.dropna().astype("str").unique()) - set(order))
    ranks = {v: i for i, v in enumerate([*order, *extra])}
    return values.map(ranks).astype("Int64")


def sort_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings in report order, with the columns of ``FINDING_COLUMNS`` only."""
    missing = [c for c in FINDING_COLUMNS if c not in findings.columns]
    if missing:
        raise ValueError(f"findings lack columns {missing}")
    out = findings[FINDING_COLUMNS].copy()
    keys = pd.DataFrame(
        {
            "_severity": _rank(out["severity"], _SEVERITY_ORDER),
            "_extract": _rank(out["extract"], list(EXTRACT_NAMES)),
        },
        index=out.index,
    )
    by = ["_severity", "_extract", "row", "rule", "column", "family_id", "person_id", "message"]
    order = (
        pd.concat([keys, out], axis=1)
        .reset_index(drop=True)
        .sort_values(by, kind="stable", na_position="last")
        .index
    )
    return out.reset_index(drop=True).loc[order].reset_index(drop=True)


def sort_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Extract counts in contract order, with the columns of ``COUNT_COLUMNS`` only."""
    missing = [c for c in COUNT_COLUMNS if c not in counts.columns]
    if missing:
        raise ValueError(f"extract counts lack columns {missing}")
    out = counts[COUNT_COLUMNS].reset_index(drop=True)
    rank = _rank(out["extract"], list(EXTRACT_NAMES))
    return out.loc[rank.sort_values(kind="stable").index].reset_index(drop=True)


def findings_per_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """Number of findings per rule, extract and column, with the rule's severity, message and
    how to fix it (a table of at most a few hundred rows, however many findings there are)."""
    per = (
        findings.groupby(["rule", "extract", "column"], dropna=False, sort=False)
        .size()
        .rename("findings")
        .reset_index()
    )
    known = per["rule"].isin(list(RULES))
    per.insert(1, "severity", per["rule"].map({c: r.severity.value for c, r in RULES.items()}))
    per.insert(2, "rule_message", per["rule"].map({c: r.message for c, r in RULES.items()}))
    per["how_to_fix"] = [
        RULES[str(rule)].how_to_fix(str(extract), None if pd.isna(column) else str(column))
        if rule in RULES
        else ""
        for rule, extract, column in per[["rule", "extract", "column"]].itertuples(index=False)
    ]
    # A rule missing from the catalogue keeps the text its findings carry.
    first = findings.drop_duplicates("rule").set_index("rule")
    per.loc[~known, "severity"] = per.loc[~known, "rule"].map(first["severity"])
    per.loc[~known, "rule_message"] = per.loc[~known, "rule"].map(first["message"])
    per = per.sort_values(["rule", "extract", "column"], kind="stable", na_position="last")
    return per.reset_index(drop=True).astype({"findings": "Int64"})


def findings_sheet_rows(n_findings: int) -> int:
    """How many findings fit on the ``Findings`` sheet under its header."""
    return min(n_findings, excel.EXCEL_MAX_ROWS - 1)


def write_validation_report(
    findings: pd.DataFrame,
    counts: pd.DataFrame,
    path: Path,
    context: ReportContext | None = None,
) -> None:
    """Write the report to ``path`` atomically (a complete file or none), mode 0600; with
    ``context``, its Summary opens with the header block of the run."""
    path = Path(path)
    make_private_dir(path.parent)
    ordered = sort_findings(findings)
    shown = findings_sheet_rows(len(ordered))
    per_extract = sort_counts(counts)
    per_rule = findings_per_rule(ordered)

    with excel.streaming_workbook(path) as book:
        widths = [26, 24, 66, 14, 14, 12, 60]
        ws = book.sheet("Summary", ["Validation report"], widths, freeze=False)
        if context is not None:
            for item, value in context.facts():
                ws.append([item, excel.safe_value(ws, value)])
        ws.append([])
        ws.append(excel.bold_row(ws, ["Rows per extract"]))
        ws.append(excel.bold_row(ws, ["extract", "source", "sha256", *COUNT_COLUMNS[3:]]))
        excel.append_frame(ws, per_extract)
        ws.append([])
        ws.append(excel.bold_row(ws, ["Findings per rule"]))
        ws.append(excel.bold_row(ws, list(per_rule.columns)))
        excel.append_frame(ws, per_rule)
        ws.append([])
        ws.append(["findings", len(ordered)])
        if shown < len(ordered):
            left_out = len(ordered) - shown
            note = (
                f"The Findings sheet lists the first {shown:,} of {len(ordered):,} findings; "
                f"{left_out:,} were left out because Excel sheets hold at most "
                f"{excel.EXCEL_MAX_ROWS:,} rows."
            )
            ws.append([excel.safe_value(ws, note)])

        excel.write_frame_sheet(book, "Findings", ordered.iloc[:shown], autofilter=True)
        book.save(path)
