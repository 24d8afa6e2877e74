from __future__ import annotations

import os
import stat

import openpyxl
import pandas as pd
import pytest
from exports_builders import findings, sample_counts, sample_findings

from exports import excel
from exports.validation_report import findings_per_rule, sort_findings, write_validation_report
from schemas.rules import FINDING_COLUMNS, empty_findings


def _rows(ws) -> list[tuple]:
    return [tuple(c for c in row) for row in ws.iter_rows(values_only=True)]


def _write(tmp_path, found=None, counts=None):
    path = tmp_path / "validation_report.xlsx"
    write_validation_report(
        sample_findings() if found is None else found,
        sample_counts() if counts is None else counts,
        path,
    )
    return path


def test_findings_sheet_lists_every_finding_in_report_order(tmp_path):
    wb = openpyxl.load_workbook(_write(tmp_path))
    assert wb.sheetnames == ["Summary", "Findings"]
    rows = _rows(wb["Findings"])
    assert rows[0] == tuple(FINDING_COLUMNS)
    # errors before warnings; then contract extract order, source row, rule
    assert [(r[0], r[1], r[5]) for r in rows[1:]] == [
        ("families", 4, "E105"),
        ("people", 3, "E190"),
        ("people", 12, "W201"),
        ("people", 12, "W204"),
    ]
    assert rows[1] == (
        "families",
        4,
        "F9",
        None,
        "status",
        "E105",
        "error",
        "code not in the contract's code list",
    )


def test_severities_and_extracts_not_listed_come_after_the_listed_ones_alphabetically():
    base = {"row": 1, "family_id": "F1", "person_id": "P1", "column": "x", "rule": "E1"}
    rows = [
        {**base, "extract": "zeta", "severity": "note"},
        {**base, "extract": "alpha", "severity": "note"},
        {**base, "extract": "people", "severity": "advice"},
        {**base, "extract": "people", "severity": "warning"},
        {**base, "extract": "families", "severity": "warning"},
        {**base, "extract": "alpha", "severity": "fatal"},
        {**base, "extract": "people", "severity": "fatal"},
    ]
    ordered = sort_findings(findings(rows))
    assert list(zip(ordered["severity"], ordered["extract"], strict=True)) == [
        ("fatal", "people"),
        ("fatal", "alpha"),
        ("warning", "families"),
        ("warning", "people"),
        ("advice", "people"),
        ("note", "alpha"),
        ("note", "zeta"),
    ]


def test_formula_like_text_is_stored_as_text(tmp_path):
    ws = openpyxl.load_workbook(_write(tmp_path))["Findings"]
    cell = ws["H3"]
    assert cell.value.startswith("=quarantined")
    assert cell.data_type == "s"


def test_header_is_bold_and_frozen(tmp_path):
    ws = openpyxl.load_workbook(_write(tmp_path))["Findings"]
    assert ws.freeze_panes == "A2"
    assert all(c.font.b for c in ws[1])
    assert ws.column_dimensions["A"].width >= len("families")


def test_summary_counts_rows_per_extract_and_findings_per_rule(tmp_path):
    rows = _rows(openpyxl.load_workbook(_write(tmp_path))["Summary"])
    start = rows.index(("Rows per extract", None, None, None, None, None, None))
    assert rows[start + 1][:6] == (
        "extract",
        "source",
        "sha256",
        "rows_read",
        "quarantined",
        "warned",
    )
    assert [r[0] for r in rows[start + 2 : start + 5]] == ["families", "people", "eligibility"]
    assert rows[start + 3][3:6] == (40, 1, 1)

    start = rows.index(("Findings per rule", None, None, None, None, None, None))
    assert rows[start + 1] == (
        "rule",
        "severity",
        "rule_message",
        "extract",
        "column",
        "findings",
        "how_to_fix",
    )
    assert [r[:6] for r in rows[start + 2 : start + 6]] == [
        ("E105", "error", "code not in the contract's code list", "families", "status", 1),
        (
            "E190",
            "error",
            "quarantined because a record it depends on is quarantined",
            "people",
            "family_id",
            1,
        ),
        ("W201", "warning", "NINO fails format", "people", "nino", 1),
        ("W204", "warning", "postcode fails UK format", "people", "postcode", 1),
    ]
    # How to fix each: the column's own code list or format, from the rule registry.
    fixes = [r[6] for r in rows[start + 2 : start + 6]]
    assert fixes[0] == "Use one of: IDENTIFIED, ATTACHED, CLOSED, DECLINED, NOT_ELIGIBLE."
    assert fixes[1].startswith(
        "Fix the quarantined family or person row with the same value of family_id"
    )
    assert "final letter A to D" in fixes[2] and "L1 8JQ" in fixes[3]
    assert ("findings", 4, None, None, None, None, None) in rows


def _header_block(tmp_path, census, people_share, submission):
    """The first rows of the Summary of a report written with this header block."""
    import datetime as dt

    from exports.validation_report import ReportContext

    path = tmp_path / "validation_report.xlsx"
    context = ReportContext(
        census=census,
        extract_date=dt.date(2025, 11, 1),
        threshold=0.05,
        people_share=people_share,
        submission=submission,
    )
    write_validation_report(sample_findings(), sample_counts(), path, context)
    return [r[:2] for r in _rows(openpyxl.load_workbook(path)["Summary"])[1:6]]


def test_the_header_block_says_which_run_wrote_the_report(tmp_path):
    import datetime as dt

    assert _header_block(tmp_path, dt.date(2025, 9, 30), 0.0004, "written: this folder") == [
        ("census date", "2025-09-30"),
        ("extract date", "2025-11-01"),
        ("quarantine threshold", "5.0%"),
        ("people quarantined", "0.04%"),
        ("submission", "written: this folder"),
    ]


def test_findings_per_rule_counts_repeats():
    many = findings(
        [
            {"extract": "people", "row": i, "column": "nino", "rule": "W201",
             "severity": "warning", "message": "NINO fails format"}
            for i in range(7)
        ]
        + [{"extract": "people", "row": 1, "column": "x", "rule": "Z999", "severity": "error",
            "message": "made-up rule"}]
    )  # fmt: skip
    per = findings_per_rule(many)
    assert per[["rule", "severity", "rule_message", "findings"]].values.tolist() == [
        ["W201", "warning", "NINO fails format", 7],
        ["Z999", "error", "made-up rule", 1],
    ]


def test_more_findings_than_a_sheet_holds_are_cut_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 3)  # header + 2 findings
    wb = openpyxl.load_workbook(_write(tmp_path))
    assert len(_rows(wb["Findings"])) == 3
    notes = [r[0] for r in _rows(wb["Summary"]) if r[0] and str(r[0]).startswith("The Findings")]
    assert notes == [
        "The Findings sheet lists the first 2 of 4 findings; 2 were left out because Excel "
        "sheets hold at most 3 rows."
    ]


def test_no_note_when_everything_fits(tmp_path):
    rows = _rows(openpyxl.load_workbook(_write(tmp_path))["Summary"])
    assert not any(r[0] and str(r[0]).startswith("The Findings") for r in rows)


def test_no_findings_gives_a_report_with_an_empty_findings_sheet(tmp_path):
    wb = openpyxl.load_workbook(_write(tmp_path, found=empty_findings()))
    assert _rows(wb["Findings"]) == [tuple(FINDING_COLUMNS)]


def test_same_findings_in_any_order_give_the_same_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _write(tmp_path / "a")
    shuffled = sample_findings().iloc[[3, 1, 0, 2]].set_index(pd.Index([9, 8, 7, 6]))
    counts = sample_counts().iloc[[2, 0, 1]]
    b = _write(tmp_path / "b", found=shuffled, counts=counts)
    assert a.read_bytes() == b.read_bytes()


def test_report_is_private_and_written_whole(tmp_path):
    path = _write(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["validation_report.xlsx"]  # no scratch or temp files left


def test_missing_finding_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match="findings lack columns"):
        _write(tmp_path, found=sample_findings().drop(columns=["rule"]))
    assert not (tmp_path / "validation_report.xlsx").exists()


def test_findings_without_a_column_are_counted_per_rule(tmp_path):
    # E119 (a row with more fields than the header) names no column: a group by column that
    # dropped missing keys would leave it out of the Summary while the Findings sheet lists it.
    found = findings(
        [
            {"extract": "people", "row": r, "rule": "E119", "severity": "error",
             "message": "row has more fields than the header"}
            for r in (5, 9)
        ]
        + [{"extract": "people", "row": 3, "column": "nino", "rule": "W201",
            "severity": "warning", "message": "NINO fails format"}]
    )  # fmt: skip
    per = findings_per_rule(found)
    assert per[["rule", "extract", "findings"]].values.tolist() == [
        ["E119", "people", 2],
        ["W201", "people", 1],
    ]
    assert per["column"].isna().tolist() == [True, False]
    rows = _rows(openpyxl.load_workbook(_write(tmp_path, found=found))["Summary"])
    assert ("E119", "error", "row has more fields than the header", "people", None, 2) in [
        r[:6] for r in rows
    ]


def test_ties_are_broken_by_column_then_ids_and_findings_without_a_row_come_last():
    base = {"extract": "people", "rule": "W201", "severity": "warning", "message": "m"}
    rows = [
        {**base, "row": None, "column": "extra_col", "rule": "W205"},
        {**base, "row": 7, "column": "postcode", "family_id": "F1", "person_id": "P1"},
        {**base, "row": 7, "column": "nino", "family_id": "F2", "person_id": "P2"},
        {**base, "row": 7, "column": "nino", "family_id": "F1", "person_id": "P3"},
        {**base, "row": 2, "column": "upn", "family_id": "F9", "person_id": "P9"},
    ]
    ordered = sort_findings(findings(rows))
    shown = ordered[["row", "column", "family_id"]].astype(object)
    assert shown.where(shown.notna(), None).values.tolist() == [
        [2, "upn", "F9"],
        [7, "nino", "F1"],
        [7, "nino", "F2"],
        [7, "postcode", "F1"],
        [None, "extra_col", None],
    ]


def test_the_header_block_of_nis_validate_says_there_is_no_census_date(tmp_path):
    rows = _header_block(tmp_path, None, 0.0, "none: nis validate writes no submission")
    assert rows[0] == ("census date", "none (nis validate)")
    assert rows[3] == ("people quarantined", "0.0%")


def test_extract_counts_without_their_columns_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"extract counts lack columns \['sha256'\]"):
        _write(tmp_path, counts=sample_counts().drop(columns=["sha256"]))
    assert not (tmp_path / "validation_report.xlsx").exists()


def test_a_cut_findings_sheet_still_counts_every_finding_and_keeps_its_filter(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 3)  # header + 2 findings
    wb = openpyxl.load_workbook(_write(tmp_path))
    assert ("findings", 4, None, None, None, None, None) in _rows(wb["Summary"])
    assert wb["Findings"].auto_filter.ref == "A1:H3"


def test_the_findings_sheet_has_a_filter_on_its_header(tmp_path):
    ws = openpyxl.load_workbook(_write(tmp_path))["Findings"]
    assert ws.auto_filter.ref == "A1:H5"
