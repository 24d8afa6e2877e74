"""Column maps that help: a council's own headers, a config that maps all but one, and what
``nis columns`` and ``nis validate`` then say (the issue's new-analyst case)."""

from __future__ import annotations

from pathlib import Path

import pytest
from extract_builders import HEADERS, fresh_rows, write_extracts
from typer.testing import CliRunner

from nis_pipeline.cli import app
from schemas.columns import column_notes, looks_like_a_value, match_headers, suggest

# The people extract as a case system exports it: its own headers for the contract's columns.
LOCAL = {
    "person_id": "Person Reference",
    "family_id": "Family Reference",
    "role": "Role in Family",
    "dob": "Date of Birth",
    "gender": "Sex",
    "nino": "NI Number",
}


def _council_extracts(folder: Path) -> Path:
    headers = dict(HEADERS)
    headers["people"] = [LOCAL.get(h, h) for h in HEADERS["people"]] + ["Keyworker"]
    rows = fresh_rows()
    for person in rows["people"]:
        for contract, local in LOCAL.items():
            person[local] = person.pop(contract)
        person["Keyworker"] = "someone"
    return write_extracts(folder, rows, headers=headers)


def _config(path: Path, *, with_dob: bool = False) -> Path:
    lines = [
        "extract_date = 2025-06-01",
        "[column_map.people]",
        '"Person Reference" = "person_id"',
        '"Family Reference" = "family_id"',
        '"Role in Family" = "role"',
        '"Sex" = "gender"',
        '"NI Number" = "nino"',
    ]
    if with_dob:
        lines.append('"Date of Birth" = "dob"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


DOB_NOTE = (
    "'Date of Birth' in people: not a contract column, and people has no 'dob' column; did you "
    'mean \'dob\'? add "Date of Birth" = "dob" under [column_map.people]'
)


def test_columns_names_each_header_and_the_column_map_line_missing(tmp_path: Path) -> None:
    source = _council_extracts(tmp_path / "extracts")
    code, out, err = _invoke("columns", "--source", source, "--config", _config(tmp_path / "c"))
    assert code == 0, err  # dob is optional: the extracts can be read, but see the note
    people = out[out.index("people (people.csv)") : out.index("eligibility (")]
    assert "'Person Reference'               -> person_id (column_map)" in people
    assert "'Sex'                            -> gender (column_map)" in people
    assert "'forename'                       -> forename\n" in people
    assert f"  {DOB_NOTE}\n" in people
    assert "'Keyworker' in people: not a contract column; ignored" in people
    # The note that matters comes before the one that does not.
    assert people.index(DOB_NOTE) < people.index("'Keyworker'")
    assert "missing, read as empty: dob" in people
    assert out.rstrip().endswith("every required column is found")


def test_columns_exits_2_when_a_required_column_is_missing(tmp_path: Path) -> None:
    source = _council_extracts(tmp_path / "extracts")
    config = _config(tmp_path / "c")
    config.write_text(config.read_text().replace('"Sex" = "gender"\n', ""), encoding="utf-8")
    code, out, err = _invoke("columns", "--source", source, "--config", config)
    assert code == 2
    people = out[out.index("people (people.csv)") : out.index("eligibility (")]
    assert "MISSING (required): gender" in people
    assert "'Sex' in people: not a contract column, and people has no 'gender' column" in people
    assert err.strip() == "error: 1 of 10 extracts cannot be used as they are: people"
    assert "Traceback" not in out + err


def test_columns_reports_an_extract_that_is_not_there(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "extracts")
    (source / "offences.csv").unlink()
    code, out, err = _invoke("columns", "--source", source)
    assert code == 2
    assert "offences: [F001]" in out and "offences.csv" in out
    assert "families (families.csv)" in out  # the others are still shown


def test_validate_calls_out_the_unmapped_date_of_birth_before_the_counts(tmp_path: Path) -> None:
    source = _council_extracts(tmp_path / "extracts")
    report = tmp_path / "report.xlsx"
    code, out, _ = _invoke(
        "validate", "--source", source, "--config", _config(tmp_path / "c"), "--report", report
    )
    # Every born person lacks a date of birth, so most people rows are quarantined (E121) ...
    assert code == 1
    lines = out.splitlines()
    # ... and the reason is the first thing said, before the table of counts.
    assert lines[0] == "headers the contract does not know:"
    assert lines[1] == f"  {DOB_NOTE}"
    assert lines.index(f"  {DOB_NOTE}") < next(
        i for i, line in enumerate(lines) if line.startswith("extract ")
    )

    # With the mapping added, nothing is called out and nobody is quarantined for it.
    code, out, _ = _invoke(
        "validate",
        "--source",
        source,
        "--config",
        _config(tmp_path / "c", with_dob=True),
        "--report",
        report,
    )
    assert code == 0
    assert "did you mean" not in out
    assert "'Keyworker' in people: not a contract column; ignored" in out


def test_a_file_without_its_header_row_shows_none_of_its_first_row(tmp_path: Path) -> None:
    """The first data row taken for headers holds a person's details: none of them is printed."""
    source = write_extracts(tmp_path / "in")
    people = source / "people.csv"
    lines = people.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[1].rstrip("\n").split(",")
    people.write_text("".join(lines[1:]), encoding="utf-8")
    code, out, err = _invoke("columns", "--source", source)
    assert code == 2
    assert "people: " in out and "is the header row missing?" in out
    shown = [value for value in first if len(value) > 1 and value in out + err]
    assert shown == []


def test_a_file_without_its_header_row_with_one_cell_named_like_a_column_shows_none(
    tmp_path: Path,
) -> None:
    """One cell of the first data row reads like a column's name (a role written "person_id",
    say): one header is found, and the rest of the row, a person's details, is still not
    printed."""
    source = write_extracts(tmp_path / "in")
    people = source / "people.csv"
    lines = people.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[1].rstrip("\n").split(",")
    first[2] = "person_id"
    people.write_text(",".join(first) + "\n" + "".join(lines[2:]), encoding="utf-8")
    code, out, err = _invoke("columns", "--source", source)
    assert code == 2
    assert "is the header row missing?" in out
    shown = [v for v in first if len(v) > 1 and v != "person_id" and v in out + err]
    assert shown == []


def test_a_file_without_its_header_row_and_with_guid_ids_shows_none_of_its_first_row(
    tmp_path: Path,
) -> None:
    """Ids that are not numbers (GUIDs) and a first record with few dates or numbers: the first
    row is still data, not a council's headers, and none of it is printed."""
    source = write_extracts(tmp_path / "in")
    first = [
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "ZZGUIDFAMILY-7c1e",
        "MAIN_CARER",
        "Wilhelmina",
        "Featherstonehaugh",
    ]
    offences = source / "offences.csv"
    offences.write_text("3f2504e0-4f89-11d3-9a0c-0305e82c3301,2024-02-03,Arson\n", encoding="utf-8")
    people = source / "people.csv"
    people.write_text(",".join(first) + ",,,F,,,,,,,,,\n", encoding="utf-8")
    code, out, err = _invoke("columns", "--source", source)
    assert code == 2
    assert "people: 6 headers are no contract column and none is named like one" in out
    assert "offences: 3 headers are no contract column" in out
    shown = [v for v in [*first, "2024-02-03", "Arson"] if v in out + err]
    assert shown == []


def test_a_workbook_without_its_header_row_shows_no_date_cell_in_a_warning(
    tmp_path: Path,
) -> None:
    """openpyxl warns about a date cell out of Excel's range quoting its serial value: the first
    row of a headerless workbook is a person's, so no warning may reach the terminal."""
    import warnings

    from openpyxl import Workbook

    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    book = Workbook()
    book.active.append(["P1", "F1", "MAIN_CARER", 28473619, "F"])
    book.active.cell(row=1, column=4).number_format = "dd/mm/yyyy"
    book.save(source / "people.xlsx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = _invoke("columns", "--source", source)
    assert code == 2
    assert "28473619" not in out + err + "".join(str(w.message) for w in caught)


def test_a_surname_like_a_column_name_does_not_make_a_data_row_a_header_row() -> None:
    match = match_headers("people", ["a1b2-c3", "f9e8-d7", "Dobb", "Keyworth"])
    [note] = column_notes(match)
    assert "Dobb" not in note.text and "Keyworth" not in note.text


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("2012-05-06", True),
        ("06/05/12", True),
        ("9434765919", True),
        ("QQ123456C", True),
        ("A123456789012", True),
        ("L1 8JQ", True),
        ("sw1a1aa", True),
        ("12", True),
        ("jo@example.org", True),
        ("E08000012", True),
        ("Date of Birth", False),
        ("Keyworker", False),
        ("Sessions Possible", False),
        ("ethnicity_code", False),
        ("Term 1 end", False),
        ("Address line 2", False),
        ("Offences 2024/25", False),
        ("Attendance 2024/25", False),
        ("Referral Date 2023", False),
        ("Person Ref", False),
        ("943 476 5919", True),
        ("2012-05-06 00:00:00", True),
    ],
)
def test_what_looks_like_a_value(header: str, value: bool) -> None:
    assert looks_like_a_value(header) is value


def test_headers_that_look_like_a_row_of_data_are_one_note() -> None:
    match = match_headers("people", ["P00000001", "F0000001", "Keyworker", "2012-05-06"])
    [note] = column_notes(match)
    assert note.serious and "Keyworker" not in note.text and "2012" not in note.text
    assert note.text.startswith("people: 4 headers are no contract column")


def test_a_council_header_with_a_year_in_it_is_still_shown_with_its_hint() -> None:
    # Beside a contract column, or alone among the council's own names: not a row of data.
    for headers in (
        ["person_id", "Date of Birth", "Attendance 2024/25"],
        ["Person Reference", "Date of Birth", "Attendance 2024/25", "Offences 2025/26"],
    ):
        texts = [n.text for n in column_notes(match_headers("people", headers))]
        assert any(t.startswith("'Date of Birth' in people") for t in texts), texts
        assert any(t.startswith("'Attendance 2024/25' in people") for t in texts), texts


@pytest.mark.parametrize(
    ("extract", "header", "column"),
    [
        # an alias declared once (on people) holds for every extract with that column
        ("offences", "Person Ref", "person_id"),
        ("offences", "PERSON REFERENCE", "person_id"),
        ("eligibility", "Person Reference", "person_id"),
        # the same words in any order, with filler words and "ref"/"code"/"number" for "id"
        ("school_attendance", "Sessions Possible", "possible_sessions"),
        ("asb_incidents", "Date of Incident", "incident_date"),
        ("offences", "Date of Offence", "offence_date"),
        ("families", "LA Code", "la_code"),
        # the one column whose words are all in the header
        ("families", "Case Status", "status"),
        ("people", "Role In Family", "role"),
        ("exclusions", "Exclusion Start Date", "start_date"),
        ("school_attendance", "Term Start Date", "term_start"),
        # nothing to go on, or more than one column it could be: no guess
        ("school_attendance", "Sessions Missed", None),
        ("offences", "Offences 2024/25", None),
        ("people", "Date of Last Contact", None),
        ("people", "Keyworker", None),
        ("social_care_episodes", "Date", None),
    ],
)
def test_the_column_a_header_most_likely_means(
    extract: str, header: str, column: str | None
) -> None:
    assert suggest(extract, header) == column


def test_a_column_map_entry_naming_no_column_is_said_with_the_likely_one() -> None:
    match = match_headers(
        "families", ["family_id", "Case Status"], {"Case Status": "case_status", "X": "colour"}
    )
    texts = [n.text for n in column_notes(match) if n.serious]
    assert texts[:2] == [
        "column_map.families: 'Case Status' = 'case_status', but families has no column "
        "'case_status'; did you mean 'status'?",
        "column_map.families: 'X' = 'colour', but families has no column 'colour'",
    ]


def test_empty_rows_above_the_header_are_skipped_as_the_reader_skips_them(tmp_path: Path) -> None:
    """`nis columns` read a workbook's row 1 even when empty (every column 'missing') and called a
    CSV with a blank first line empty, while `nis validate` read the same files."""
    from openpyxl import Workbook

    source = write_extracts(tmp_path / "in")
    people = (source / "people.csv").read_text(encoding="utf-8").splitlines()
    (source / "people.csv").unlink()
    book = Workbook()
    sheet = book.active
    for number, line in enumerate(people, start=3):  # rows 1 and 2 left empty
        for column, value in enumerate(line.split(","), start=1):
            sheet.cell(row=number, column=column, value=value or None)
    book.save(source / "people.xlsx")
    offences = (source / "offences.csv").read_bytes()
    (source / "offences.csv").write_bytes(b",,,\r\n\r\n" + offences)

    code, out, err = _invoke("columns", "--source", source)
    assert (code, err) == (0, "")
    assert "'person_id'                      -> person_id" in out
    assert "'offence_date'                   -> offence_date" in out
    assert out.rstrip().endswith("every required column is found")
    code, out, err = _invoke("validate", "--source", source, "--report", tmp_path / "r.xlsx")
    assert code == 0, out + err
