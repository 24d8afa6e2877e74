from __future__ import annotations

import datetime as dt
import os

import openpyxl
import pandas as pd
import pytest
from exports_builders import (
    LA,
    PERIOD,
    individual,
    random_tables,
    sample_tables,
    shuffled,
    statistics_of,
    typed_frame,
)

from exports import excel
from exports.tables import prepare_tables
from exports.workbook import write_prepared_workbook
from schemas.dictionary import output_dictionary
from schemas.outputs import FPD_COLUMNS, INDIVIDUALS_COLUMNS, IndividualsRecord
from transforms.submission import SubmissionTables


def _write(path, tables=None) -> str | None:
    tables = sample_tables() if tables is None else tables
    prepared = prepare_tables(tables, LA, PERIOD)
    return write_prepared_workbook(prepared, statistics_of(tables), path, LA, PERIOD)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("wb") / "nis.xlsx"
    assert _write(path) is None
    return openpyxl.load_workbook(path)


def _expected_cell(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


@pytest.mark.parametrize(
    ("sheet", "table", "columns"),
    [("Individuals", "individuals", INDIVIDUALS_COLUMNS), ("FPD", "fpd", FPD_COLUMNS)],
)
def test_table_sheets_hold_the_tables_exactly(book, sheet, table, columns):
    expected = getattr(prepare_tables(sample_tables(), LA, PERIOD), table)
    rows = list(book[sheet].iter_rows(values_only=True))
    assert list(rows[0]) == columns
    assert len(rows) - 1 == len(expected)
    for got, want in zip(rows[1:], expected.itertuples(index=False), strict=True):
        assert list(got) == [_expected_cell(v) for v in want]


def test_rows_are_sorted_by_family_then_person(book):
    keys = [(r[2], r[3]) for r in book["Individuals"].iter_rows(min_row=2, values_only=True)]
    assert keys == sorted(keys)
    assert keys[:2] == [("F1", "P1"), ("F1", "P2")]
    assert [k[0] for k in keys].index("F10") < [k[0] for k in keys].index("F2")


def test_sheets_and_headers(book):
    assert book.sheetnames == ["Individuals", "FPD", "Summary", "Data dictionary"]
    for name in ("Individuals", "FPD", "Data dictionary"):
        ws = book[name]
        assert ws.freeze_panes == "A2"
        assert all(cell.font.b for cell in ws[1])
        widths = [ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width for i in (1, 2)]
        assert all(8 <= w <= 62 for w in widths)


def test_dates_are_real_excel_dates(book):
    ws = book["Individuals"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("dob") + 1)
    assert cell.data_type == "d"
    assert cell.number_format == "yyyy-mm-dd"
    assert cell.value == dt.datetime(2012, 5, 1)
    census = ws.cell(row=2, column=header.index("census_date") + 1)
    assert census.value == dt.datetime(2025, 9, 30)


def test_numbers_are_numbers_and_missing_is_empty(book):
    ws = book["FPD"]
    header = [c.value for c in ws[1]]
    rows = {r[3]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["P3"][header.index("attendance_pct")] == 92.3
    assert rows["P3b"][header.index("attendance_pct")] == 100.0
    assert rows["P10"][header.index("age_at_census")] is None
    assert rows["P7"][header.index("weeks_continuous_employment")] == 27


def test_formula_like_text_is_text(book):
    cells = [c for row in book["Individuals"].iter_rows(min_row=2) for c in row]
    risky = {
        c.value: c.data_type for c in cells if isinstance(c.value, str) and c.value[0] in "=+-@#"
    }
    assert risky == {
        '=HYPERLINK("http://x")': "s",
        "+Smith": "s",
        "-Jo": "s",
        "@Home": "s",
        "#N/A": "s",
    }
    assert not any(c.data_type in ("f", "e") for c in cells)


def test_data_dictionary_is_generated_from_the_schemas(book):
    rows = list(book["Data dictionary"].iter_rows(values_only=True))
    expected = output_dictionary()
    assert list(rows[0]) == list(expected.columns)
    assert [list(r) for r in rows[1:]] == expected.values.tolist()
    documented = [(r[0], r[1]) for r in rows[1:]]
    assert documented == [("individuals", c) for c in INDIVIDUALS_COLUMNS] + [
        ("fpd", c) for c in FPD_COLUMNS
    ]
    described = dict(((r[0], r[1]), r[4]) for r in rows[1:])
    assert (
        described[("individuals", "dob")]
        == IndividualsRecord.to_schema().columns["dob"].description
    )


def test_summary_gives_counts_and_suppressed_statistics(book):
    rows = list(book["Summary"].iter_rows(values_only=True))
    facts = {r[0]: r[1] for r in rows[1:9]}
    assert facts["la_code"] == LA
    assert facts["census_date"] == dt.datetime(2025, 9, 30)
    assert facts["period_start"] == dt.datetime(2025, 4, 1)
    assert facts["individuals rows"] == 6
    assert facts["fpd rows"] == 4
    assert facts["families in individuals"] == 3
    assert facts["people left out by opt-out"] == 2
    stats = {(r[0], r[1], r[2]): r[3] for r in rows if r[0] in ("families", "individuals", "fpd")}
    assert stats[("individuals", "total", "all")] == 6
    assert stats[("families", "total", "all")] == "[c]"
    assert stats[("individuals", "intervention_status", "DECLINED")] == 0


def test_no_identifier_outside_the_contract_appears(book):
    values = {
        str(v).lower()
        for ws in book
        for row in ws.iter_rows(values_only=True)
        for v in row
        if v is not None
    }
    assert not {"nhs_number", "ethnicity"} & values


def test_above_the_row_limit_the_workbook_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 6)  # header + 5 rows; Individuals has 6
    path = tmp_path / "nis.xlsx"
    reason = _write(path)
    assert reason is not None
    assert "Individuals sheet would need 7 rows" in reason and "at most 6" in reason
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_exactly_at_the_row_limit_the_workbook_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 7)
    assert _write(tmp_path / "nis.xlsx") is None


def test_same_tables_in_any_row_order_give_the_same_bytes(tmp_path):
    tables = random_tables(60, seed=4)
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert _write(a, tables) is None
    assert _write(b, shuffled(tables)) is None
    assert a.read_bytes() == b.read_bytes()


def test_characters_excel_cannot_hold_are_dropped(tmp_path):
    tables = sample_tables()
    bad = typed_frame(IndividualsRecord, [individual("F3", "P30", forename="A\x07na")])
    tables = SubmissionTables(
        pd.concat([tables.individuals, bad], ignore_index=True), tables.fpd, tables.opted_out
    )
    path = tmp_path / "nis.xlsx"
    assert _write(path, tables) is None
    names = [r[5] for r in openpyxl.load_workbook(path)["Individuals"].iter_rows(values_only=True)]
    assert "Ana" in names


def test_workbook_read_back_with_pandas(tmp_path):
    tables = random_tables(40, seed=2)
    path = tmp_path / "nis.xlsx"
    assert _write(path, tables) is None
    prepared = prepare_tables(tables, LA, PERIOD)
    back = pd.read_excel(path, sheet_name="FPD", engine="openpyxl")
    assert list(back.columns) == FPD_COLUMNS
    assert len(back) == len(prepared.fpd)
    assert back["person_id"].tolist() == prepared.fpd["person_id"].tolist()
    pd.testing.assert_series_equal(
        back["attendance_pct"].astype("Float64"),
        prepared.fpd["attendance_pct"],
        check_names=False,
    )
