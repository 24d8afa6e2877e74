"""Garbage rows through validation and export.

Hypothesis writes the hand-made extracts with cells replaced by hostile text (control and
invisible characters, U+FFFF, formula prefixes, quotes, commas, line breaks, other scripts'
digits, over-long values, near-valid codes and dates) and raw lines appended without quoting.
The run must either stop with one fatal line naming the file, or succeed with every row
accounted for (kept + quarantined = read) and a submission whose workbook opens, holds no
formula, and says what its CSV says; no CSV cell of it may start a spreadsheet formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from extract_builders import HEADERS, fresh_rows, write_extracts
from foundation_support import EXTRACT_DATE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from exports.submission import write_submission
from extracts.reader import read_extracts
from flows.settings import load_settings
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult, validate
from transforms.changes import no_changes
from transforms.periods import Period
from transforms.statistics import build_statistics
from transforms.submission import build_submission

LA = "E08000012"
CENSUS = dt.date(2025, 3, 31)
PERIOD = Period(CENSUS)
HOSTILE = [
    "\x00", "\x1b", "\x7f", "\uffff", "\ufffe", "\u200b", "\u2060", "\ufeff", "\u00a0", "\u3000",
    "=", "+", "-", "@", ",", '"', "'", "\n", "\r", "\r\n", "\t", " ", "１", "٣", "é", "ß", "İ",
    "P1", "P2", "F1", "F2", "2024-01-01", "31/02/2024", "01/01/24", "1799-12-31", "2200-12-31",
    "MAIN_CARER", "CHILD", "UNBORN", "M", "Female", "E08000012", "AB123456C", "B801200005001",
    "9434765870", "L1 8JQ", "=1+1", "0", "1", "Y", "x" * 120,
]  # fmt: skip
garbage = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=3), max_size=4).map("".join)
EXTRACTS = ("families", "people", "offences", "eligibility")
mutation = st.tuples(st.sampled_from(EXTRACTS), st.integers(0, 6), st.integers(0, 15), garbage)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMULA_CELL = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _write(folder: Path, mutations: list[tuple[str, int, int, str]], raw_lines: list[str]) -> Path:
    rows = fresh_rows()
    for extract, index, column, value in mutations:
        header = HEADERS[extract]
        target = rows[extract]
        if index >= len(target):
            target.append(dict(target[index % len(target)]))  # a copy, then broken
            index = len(target) - 1
        target[index][header[column % len(header)]] = value
    write_extracts(folder, rows)
    if raw_lines:
        with open(folder / "people.csv", "a", encoding="utf-8", newline="") as handle:
            handle.write("".join(line + "\n" for line in raw_lines))
    return folder


def _accounted_for(result: ValidationResult) -> None:
    for count in result.counts.itertuples(index=False):
        kept = len(result.clean[count.extract])
        assert kept + count.quarantined == count.rows_read, count


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return str(value)


def _check_submission(folder: Path) -> None:
    workbook_path = next(folder.glob("nis_*.xlsx"))
    with zipfile.ZipFile(workbook_path) as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                assert not FORMULA_CELL.search(package.read(name)), name
    book = load_workbook(workbook_path, read_only=True)
    try:
        sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()
    for sheet, suffix in (("Individuals", "_individuals.csv"), ("FPD", "_fpd.csv")):
        with open(next(folder.glob(f"nis_*{suffix}")), encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), "a CSV cell would run"
        # Percentages are written with one decimal in the CSV and as numbers in the workbook.
        book_rows = [[_cell_text(v) for v in r] for r in sheets[sheet]]
        assert len(book_rows) == len(rows)
        for csv_row, book_row in zip(rows, book_rows, strict=True):
            # A sheet row ends at its last value; a CSV row has every field.
            assert len(book_row) <= len(csv_row)
            book_row = book_row + [""] * (len(csv_row) - len(book_row))
            for a, b in zip(csv_row, book_row, strict=True):
                assert a == b or float(a) == float(b), (sheet, a, b)


@SETTINGS
@given(mutations=st.lists(mutation, max_size=8), raw_lines=st.lists(garbage, max_size=2))
def test_garbage_rows_are_accounted_for_or_stop_with_one_fatal_line(
    mutations: list[tuple[str, int, int, str]], raw_lines: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as temp:
        source = _write(Path(temp) / "in", mutations, raw_lines)
        settings_ = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
        try:
            result = validate(read_extracts(settings_.extract_source()), EXTRACT_DATE, LA)
        except FatalInputError as fatal:
            message = str(fatal)
            assert "\n" not in message and "\r" not in message
            assert re.match(r"\[F00\d\] [a-z_]+\.csv: ", message), message
            return
        _accounted_for(result)
        tables = build_submission(result.clean, PERIOD)
        written = write_submission(
            Path(temp) / "out", LA, PERIOD, tables, build_statistics(tables),
            result.findings, result.counts, changes=no_changes(), previous=None,
        )  # fmt: skip
        _check_submission(written.folder)


def test_hostile_values_that_are_kept_reach_both_files_alike(tmp_path: Path) -> None:
    """The deterministic case of the property: values cleaned while parsing (W206) are sent,
    the same in the CSV and the workbook; names that would run are sent empty."""
    rows = fresh_rows()
    rows["people"][0].update(forename="Si\x00ân\uffff", surname="O'Bri\x1b\r\nen")
    rows["people"][1].update(forename="=cmd|' /C calc'!A0", surname="@Brien")
    rows["people"][2].update(forename="Ann\ufffe", surname="Smith\u200b")
    source = write_extracts(tmp_path / "in", rows)
    settings_ = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
    result = validate(read_extracts(settings_.extract_source()), EXTRACT_DATE, LA)
    tables = build_submission(result.clean, PERIOD)
    written = write_submission(
        tmp_path / "out", LA, PERIOD, tables, build_statistics(tables), result.findings,
        result.counts, changes=no_changes(), previous=None,
    )  # fmt: skip
    _check_submission(written.folder)
    individuals = pd.read_csv(
        written.folder / f"nis_{LA}_{CENSUS}_individuals.csv", dtype=str, keep_default_na=False
    ).set_index("person_id")
    assert individuals.loc["P1", ["forename", "surname"]].tolist() == ["Siân", "O'Bri\nen"]
    assert individuals.loc["P2", ["forename", "surname"]].tolist() == ["", ""]
    assert individuals.loc["P3", ["forename", "surname"]].tolist() == ["Ann", "Smith"]
