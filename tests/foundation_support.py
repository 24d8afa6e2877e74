"""Shared helpers of the foundation tests (readers, rules, CLI, no-personal-data): write the
hand-made extracts of ``extract_builders`` to a folder, read and validate them, and pick findings.

Row numbers follow the reader: the header is row 1, so ``rows[name][i]`` is source row ``i + 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from extract_builders import HEADERS, write_extracts

from extracts.reader import read_extracts
from flows.settings import load_settings
from schemas.validation import ValidationResult, validate

# Pinned so that the date-of-birth rules (E122, E123) do not drift with the calendar.
EXTRACT_DATE = date(2025, 6, 1)


def row_of(index: int) -> int:
    """Source row number of ``rows[name][index]`` in a written CSV."""
    return index + 2


def validate_folder(folder: Path, extract_date: date = EXTRACT_DATE) -> ValidationResult:
    settings = load_settings(None, source_path=folder, extract_date=extract_date)
    return validate(read_extracts(settings.extract_source()), settings.resolved_extract_date())


def validate_rows(
    folder: Path,
    rows: dict[str, list[dict[str, str]]] | None = None,
    extract_date: date = EXTRACT_DATE,
) -> ValidationResult:
    write_extracts(folder, rows)
    return validate_folder(folder, extract_date)


def finding_tuples(findings: pd.DataFrame) -> set[tuple[str, int | None, str | None, str]]:
    """(extract, row, column, rule) of each finding, with missing row/column as None."""
    out: set[tuple[str, int | None, str | None, str]] = set()
    for f in findings.itertuples(index=False):
        row = None if pd.isna(f.row) else int(f.row)
        column = None if pd.isna(f.column) else str(f.column)
        out.add((str(f.extract), row, column, str(f.rule)))
    return out


def direct(findings: pd.DataFrame) -> set[tuple[str, int | None, str | None, str]]:
    """Findings other than the E190 cascade."""
    return finding_tuples(findings.loc[findings["rule"] != "E190"])


def cascaded(findings: pd.DataFrame) -> set[tuple[str, int | None, str | None, str]]:
    return finding_tuples(findings.loc[findings["rule"] == "E190"])


# --- many small scenarios in one validation ---------------------------------------------------

ID_COLUMNS = ("family_id", "person_id")


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's share of a batch, as if it had been validated on its own: source rows
    numbered from 2 again and ids without the batch's suffix."""

    findings: pd.DataFrame
    clean: dict[str, pd.DataFrame]


class Batch:
    """Validate many scenarios in one run (a validation costs about half a second whatever its
    size, so a run per scenario would make the suite slow).

    Scenario ``k`` gets its ids suffixed ``~k`` so that scenarios cannot see each other's
    families or people; its rows of an extract follow the previous scenario's.
    """

    def __init__(self) -> None:
        self._rows: dict[str, list[dict[str, str]]] = {name: [] for name in HEADERS}
        self._place: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {}
        self._result: ValidationResult | None = None

    def add(self, key: str, rows: dict[str, list[dict[str, str]]]) -> None:
        suffix = f"~{len(self._place)}"
        spans: dict[str, tuple[int, int]] = {}
        for name in HEADERS:
            start = len(self._rows[name])
            for row in rows.get(name, []):
                self._rows[name].append(
                    {c: f"{v}{suffix}" if c in ID_COLUMNS and v else v for c, v in row.items()}
                )
            spans[name] = (start, len(self._rows[name]))
        self._place[key] = (suffix, spans)

    def run(self, folder: Path, extract_date: date = EXTRACT_DATE) -> None:
        self._result = validate_rows(folder, self._rows, extract_date)

    def __getitem__(self, key: str) -> ScenarioResult:
        assert self._result is not None, "run the batch first"
        suffix, spans = self._place[key]
        parts = []
        clean: dict[str, pd.DataFrame] = {}
        findings = self._result.findings
        for name, (start, stop) in spans.items():
            rows = findings["row"]
            mine = findings.loc[
                (findings["extract"] == name) & (rows >= row_of(start)) & (rows < row_of(stop))
            ].copy()
            mine["row"] = mine["row"] - start
            parts.append(mine)
            frame = self._result.clean[name]
            frame = frame.loc[(frame.index >= row_of(start)) & (frame.index < row_of(stop))].copy()
            frame.index = frame.index - start
            clean[name] = _strip_suffix(frame, suffix)
        local = pd.concat(parts, ignore_index=True) if parts else findings.iloc[:0]
        return ScenarioResult(findings=_strip_suffix(local, suffix), clean=clean)


def _strip_suffix(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    for column in ID_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].str.removesuffix(suffix)
    return frame
