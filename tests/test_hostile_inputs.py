"""The corpus of hostile extract files (``hostile_files``): each gives row errors, or one clear
fatal line (exit 2 naming the file and, where it helps, the line): never a traceback, a hang,
unbounded memory, or a silently empty or garbled submission.

Fatal cases run through ``nis validate`` (what a data officer runs first); row cases through the
reader and validation, checking each finding's rule, row and column and what reaches the clean
frames.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from extract_builders import HEADERS, fresh_rows, write_extracts
from foundation_support import EXTRACT_DATE, finding_tuples, validate_folder
from hostile_files import (
    Build,
    binary_junk,
    blank_lines_only,
    bom_then_cp1252,
    column_bomb_declared,
    csv_text,
    data_on_second_sheet,
    duplicate_header,
    empty_file,
    encrypted_workbook,
    header_only_families,
    header_only_people,
    macro_workbook,
    macro_workbook_by_content_type,
    mixed_encodings,
    nul_in_header,
    parquet_bomb,
    parquet_bytes,
    parquet_garbage,
    parquet_too_many_rows,
    parquet_truncated,
    pdf_named_csv,
    people_parquet_table,
    people_sheet,
    people_with,
    rewrite_zip,
    sparse_row_bomb_declared,
    sparse_row_bomb_on_second_sheet,
    sparse_row_bomb_undeclared,
    stray_cp1252_byte,
    unterminated_quote,
    utf16_with_bom,
    utf16_without_bom,
    workbook_named_csv,
    xlsx_bytes,
    xlsx_not_a_zip,
    xlsx_truncated,
    xlsx_zip_bomb,
    zip_without_workbook,
)
from typer.testing import CliRunner

from extracts.reader import read_extract
from flows.settings import load_settings
from nis_pipeline.cli import app
from schemas.validation import ValidationResult

# (builder, rule, what the one line must say besides the file name)
FATAL: dict[str, tuple[Build, str, tuple[str, ...]]] = {
    "empty-file": (empty_file, "F002", ("the file is empty",)),
    "blank-lines-only": (blank_lines_only, "F002", ("the file is empty",)),
    "header-only-people": (header_only_people, "F007", ("extract holds no rows",)),
    "header-only-families": (header_only_families, "F007", ("extract holds no rows",)),
    "binary-junk": (binary_junk, "F002", ("binary data, not CSV text",)),
    "pdf-named-csv": (pdf_named_csv, "F002", ("not CSV text: it is a PDF document",)),
    "workbook-named-csv": (workbook_named_csv, "F002", ("not CSV text: it is a zip archive",)),
    "nul-in-header": (nul_in_header, "F002", ("binary data, not CSV text",)),
    "utf16-with-bom": (utf16_with_bom, "F002", ("UTF-16 or UTF-32 text", "CSV UTF-8")),
    "utf16-without-bom": (utf16_without_bom, "F002", ("binary data, not CSV text", "UTF-16")),
    "mixed-encodings": (
        mixed_encodings,
        "F002",
        ("mixed encodings: line 2 is UTF-8 but line 6 is not",),
    ),
    "stray-cp1252-byte": (
        stray_cp1252_byte,
        "F002",
        ("mixed encodings: line 2 is UTF-8 but line 4 is not",),
    ),
    "bom-then-cp1252": (bom_then_cp1252, "F002", ("starts as UTF-8 but line 4 is not UTF-8",)),
    "unterminated-quote": (unterminated_quote, "F002", ("the record starting on line 3",)),
    "duplicate-header": (duplicate_header, "F002", ("column surname appears twice",)),
    "xlsx-not-a-zip": (xlsx_not_a_zip, "F002", ("not an .xlsx workbook", "CSV file")),
    "xlsx-truncated": (xlsx_truncated, "F002", ("damaged or truncated zip archive",)),
    "xlsx-zip-bomb": (xlsx_zip_bomb, "F002", ("inflates more than 250 times",)),
    "sparse-row-bomb-declared": (sparse_row_bomb_declared, "F002", ("declares rows past",)),
    "sparse-row-bomb-on-second-sheet": (
        sparse_row_bomb_on_second_sheet,
        "F002",
        ("declares rows past",),
    ),
    "sparse-row-bomb-undeclared": (
        sparse_row_bomb_undeclared,
        "F002",
        ("rows past Excel's last row 1,048,576",),
    ),
    "encrypted-workbook": (encrypted_workbook, "F002", ("password-protected",)),
    "macro-workbook": (macro_workbook, "F002", ("holds macros",)),
    "macro-workbook-by-content-type": (macro_workbook_by_content_type, "F002", ("holds macros",)),
    "zip-without-workbook": (zip_without_workbook, "F002", ("the zip archive holds no workbook",)),
    "column-bomb-declared": (
        column_bomb_declared,
        "F002",
        ("declares columns past Excel's last column 16,384",),
    ),
    "data-on-second-sheet": (
        data_on_second_sheet,
        "F002",
        ("the first sheet is empty; the data seems to be on sheet 2",),
    ),
    "parquet-truncated": (parquet_truncated, "F002", ("truncated",)),
    "parquet-garbage": (parquet_garbage, "F002", ("Parquet",)),
    "parquet-bomb": (parquet_bomb, "F002", ("far more values than its size can hold",)),
    "parquet-too-many-rows": (
        parquet_too_many_rows,
        "F002",
        ("declares more than 50,000,000 rows",),
    ),
}


def _source_with(folder: Path, build: Build) -> tuple[Path, str]:
    source = write_extracts(folder)
    name, data = build()
    extract = name.split(".")[0]
    (source / f"{extract}.csv").unlink()
    (source / name).write_bytes(data)
    return source, name


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("case", sorted(FATAL))
def test_each_fatal_file_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    build, rule, says = FATAL[case]
    source, name = _source_with(tmp_path / "in", build)
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["validate", "--source", str(source), "--report", str(tmp_path / "r.xlsx")]
    )
    seconds = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: [{rule}] {name}: "), lines[0]
    for text in says:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.xlsx").exists()  # nothing written
    # Bombs are refused from their sizes, not after inflating them.
    assert seconds < 60, f"{case} took {seconds:.0f}s"


def test_a_workbook_whose_parts_together_inflate_past_the_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The limit is on all parts together, from the sizes the archive declares: two parts of
    600 kB each, under a limit of 1 MiB here (4 GiB in real use, too much for a test to hold),
    neither past it alone nor past the ratio limit."""
    import random

    from extracts import guards

    noise = random.Random(5)
    parts = {f"xl/media/image{i}.bin": noise.randbytes(600_000) for i in (1, 2)}
    data = rewrite_zip(xlsx_bytes([people_sheet()]), lambda name, part: part, parts)
    monkeypatch.setattr(guards, "XLSX_MAX_INFLATED", 2**20)
    with pytest.raises(guards.FileRefused, match="the workbook inflates to more than"):
        guards.check_xlsx(data)
    monkeypatch.setattr(guards, "XLSX_MAX_INFLATED", 2 * 2**20)
    guards.check_xlsx(data)  # 1.2 MB and the sheets: within 2 MiB


def test_bombs_are_refused_before_they_inflate(tmp_path: Path) -> None:
    before = _peak_rss_mib()
    for build in (sparse_row_bomb_undeclared, parquet_bomb):
        source, _ = _source_with(tmp_path / build.__name__, build)
        settings = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
        with pytest.raises(Exception) as caught:
            read_extract(settings.extract_source(), "people")
        assert str(caught.value).startswith("[F002] people.")
    # Building the parquet bomb itself costs some memory; reading it must not cost gigabytes.
    assert _peak_rss_mib() - before < 1024


# --- row errors, not the extract's --------------------------------------------------------------


def _validate_with(folder: Path, name: str, data: bytes) -> ValidationResult:
    source = write_extracts(folder)
    extract = name.split(".")[0]
    (source / f"{extract}.csv").unlink()
    (source / name).write_bytes(data)
    return validate_folder(source)


def test_nul_and_forbidden_characters_in_cells_are_removed_with_a_warning(tmp_path: Path) -> None:
    rows = people_with(0, forename="Si\x00\x00ân", surname="O'Bri\uffffen")
    result = _validate_with(tmp_path, "people.csv", csv_text("people", rows).encode())
    assert finding_tuples(result.findings) == {
        ("people", 2, "forename", "W206"),
        ("people", 2, "surname", "W206"),
    }
    person = result.clean["people"].set_index("person_id").loc["P1"]
    assert (person["forename"], person["surname"]) == ("Siân", "O'Brien")


def test_more_fields_than_the_header_is_that_rows_error(tmp_path: Path) -> None:
    lines = csv_text("people").splitlines(keepends=True)
    lines[3] = lines[3].replace("Ann,Smith", "Ann,Smith,Jr", 1)  # P3, line 4: a stray comma
    result = _validate_with(tmp_path, "people.csv", "".join(lines).encode())
    assert finding_tuples(result.findings) == {("people", 4, None, "E119")}
    assert sorted(result.clean["people"]["person_id"]) == ["P1", "P2", "P4", "P5"]


def test_line_breaks_in_fields_and_mixed_line_ends_keep_line_numbers(tmp_path: Path) -> None:
    rows = people_with(0, forename="Si\nân", surname="O'\r\nBrien")  # P1 spans lines 2-4
    rows[1]["forename"] = "Zo\rë"  # P2 spans lines 5-6
    rows[2]["gender"] = "Q"  # P3, line 7: E105
    # (The csv module quotes a value holding "\n" but not one holding only "\r": quote it here.)
    text = csv_text("people", rows).replace("Zo\rë", '"Zo\rë"')
    lines = text.split("\n")
    # The rest of the file in three line-end styles: CRLF, LF and a lone CR.
    text = "\n".join(lines[:7]) + "\r\n" + lines[7] + "\r" + "\n".join(lines[8:])
    result = _validate_with(tmp_path, "people.csv", text.encode())
    assert finding_tuples(result.findings) == {("people", 7, "gender", "E105")}
    people = result.clean["people"].set_index("person_id")
    assert people.index.tolist() == ["P1", "P2", "P4", "P5"]
    # Line breaks inside a value are sent as "\n" in both the CSV and the workbook.
    assert people.loc["P1", "surname"] == "O'\nBrien"
    assert people.loc["P2", "forename"] == "Zo\në"


def test_a_50_mb_field_is_a_warning_and_is_not_sent(tmp_path: Path) -> None:
    rows = people_with(2, forename="x" * 50_000_000)
    result = _validate_with(tmp_path, "people.csv", csv_text("people", rows).encode())
    assert finding_tuples(result.findings) == {("people", 4, "forename", "W208")}
    assert pd.isna(result.clean["people"].set_index("person_id").loc["P3", "forename"])


def test_names_and_ids_at_their_length_limits_are_sent_and_one_more_character_is_not(
    tmp_path: Path,
) -> None:
    """100 characters for a name, 64 for an id (schemas.cleaning): a name of 100 is sent as it
    is, though longer than any id; 101 is a warning (sent empty); an id of 65 is an error."""
    rows = people_with(0, forename="N" * 100, surname="S" * 101)
    rows[1]["person_id"] = "P" * 64
    rows[2]["person_id"] = "Q" * 65
    result = _validate_with(tmp_path, "people.csv", csv_text("people", rows).encode())
    # (The other extracts' rows of the two people whose ids changed now name nobody: E108.)
    people_findings = result.findings.loc[result.findings["extract"] == "people"]
    assert finding_tuples(people_findings) == {
        ("people", 2, "surname", "W208"),
        ("people", 4, "person_id", "E117"),
    }
    people = result.clean["people"].set_index("person_id")
    assert people.loc["P1", "forename"] == "N" * 100 and pd.isna(people.loc["P1", "surname"])
    assert "P" * 64 in people.index and "Q" * 65 not in people.index


def test_twenty_thousand_columns_are_read_and_reported_once_each(tmp_path: Path) -> None:
    header = HEADERS["people"] + [f"col{i}" for i in range(20_000)]
    result = _validate_with(tmp_path, "people.csv", csv_text("people", header=header).encode())
    extra = result.findings.loc[result.findings["rule"] == "W205"]
    assert len(extra) == 20_000 and extra["row"].isna().all()
    assert len(result.findings) == 20_000
    assert len(result.clean["people"]) == 5


def test_ids_that_would_run_as_formulas_and_names_that_would_are_caught(tmp_path: Path) -> None:
    rows = fresh_rows()
    rows["people"][2]["person_id"] = '=HYPERLINK("http://x","y")'  # P3 has no events
    rows["people"][4]["person_id"] = "@SUM(1)"  # P5 neither
    rows["people"][0]["forename"] = "+cmd|' /C calc'!A0"
    rows["people"][1]["surname"] = "-2+3"
    rows["families"][1]["family_id"] = "-F2"  # P3 and P4's family
    for person in rows["people"]:
        if person["family_id"] == "F2":
            person["family_id"] = "-F2"
    source = write_extracts(tmp_path, rows)
    result = validate_folder(source)
    found = finding_tuples(result.findings)
    assert {
        ("people", 4, "person_id", "E118"),
        ("people", 6, "person_id", "E118"),
        ("people", 2, "forename", "W207"),
        ("people", 3, "surname", "W207"),
        ("families", 3, "family_id", "E118"),
        ("people", 4, "family_id", "E118"),
        ("people", 5, "family_id", "E118"),
    } == {f for f in found if f[3] != "E190"}
    clean = result.clean["people"].set_index("person_id")
    assert clean.index.tolist() == ["P1", "P2"]
    assert pd.isna(clean.loc["P1", "forename"]) and pd.isna(clean.loc["P2", "surname"])


@pytest.mark.parametrize(
    "invisible", ["\u200b", " \u2060 ", "\ufeff", "\u00a0\u200d", "\t\u3000"], ids=repr
)
def test_an_id_of_only_invisible_characters_is_missing(tmp_path: Path, invisible: str) -> None:
    rows = fresh_rows()
    rows["offences"][0]["person_id"] = invisible
    source = write_extracts(tmp_path, rows)
    assert finding_tuples(validate_folder(source).findings) == {
        ("offences", 2, "person_id", "E101")
    }


def test_ids_longer_than_the_limit_are_row_errors(tmp_path: Path) -> None:
    rows = fresh_rows()
    rows["offences"][0]["person_id"] = "P1" + "0" * 63  # 65 characters
    rows["asb_incidents"][0]["person_id"] = "P" * 64  # exactly the limit: only unknown
    source = write_extracts(tmp_path, rows)
    found = finding_tuples(validate_folder(source).findings)
    assert found == {
        ("offences", 2, "person_id", "E117"),
        ("offences", 2, "person_id", "E108"),
        ("asb_incidents", 2, "person_id", "E108"),
    }


def test_non_ascii_digits_fail_one_value_not_the_whole_check(tmp_path: Path) -> None:
    rows = fresh_rows()
    people = rows["people"]
    people[0]["nino"] = "AB１23456C"  # fullwidth 1
    people[0]["nhs_number"] = "943476587٠"  # Arabic-Indic 0
    people[2]["upn"] = "B８01200005001"  # fullwidth 8
    people[4]["postcode"] = "L１ 8JQ"
    rows["families"][2]["la_code"] = "E０8000012"
    # Valid identifiers on other rows are still checked and still sent.
    people[3]["upn"] = "B801200005001"
    source = write_extracts(tmp_path, rows)
    result = validate_folder(source)
    assert finding_tuples(result.findings) - {
        f for f in finding_tuples(result.findings) if f[3] == "E190"
    } == {
        ("people", 2, "nino", "W201"),
        ("people", 2, "nhs_number", "W203"),
        ("people", 4, "upn", "W202"),
        ("people", 6, "postcode", "W204"),
        ("families", 4, "la_code", "E110"),
    }
    people_out = result.clean["people"].set_index("person_id")
    assert people_out.loc["P2", "upn"] == "B801200005001"
    assert people_out.loc["P4", "upn"] == "B801200005001"
    assert pd.isna(people_out.loc["P1", "nino"]) and pd.isna(people_out.loc["P3", "upn"])


@pytest.mark.parametrize(
    ("day", "valid"),
    [
        ("1800-01-01", True),
        ("01/01/1800", True),
        ("1799-12-31", False),
        ("2200-12-31", True),
        ("31/12/2200", True),
        ("2201-01-01", False),
        ("0001-01-01", False),
        ("9999-12-31", False),
    ],
)
def test_dates_from_1800_to_2200_are_dates(tmp_path: Path, day: str, valid: bool) -> None:
    rows = fresh_rows()
    rows["offences"][0]["offence_date"] = day
    result = validate_folder(write_extracts(tmp_path, rows))
    if valid:
        assert result.findings.empty
        assert result.clean["offences"]["offence_date"].dt.year.tolist() == [
            int(day[-4:] if "/" in day else day[:4])
        ]
    else:
        assert finding_tuples(result.findings) == {("offences", 2, "offence_date", "E103")}


def test_parquet_dates_as_integers_are_invalid_not_1970(tmp_path: Path) -> None:
    table = people_parquet_table()
    dob = pa.array([19_850_520, 20_120_912, 19_900_101, None, 19_700_228], type=pa.int64())
    table = table.set_column(table.schema.get_field_index("dob"), "dob", dob)
    result = _validate_with(tmp_path, "people.parquet", parquet_bytes(table))
    assert finding_tuples(result.findings) >= {
        ("people", 2, "dob", "E103"),
        ("people", 3, "dob", "E103"),
        ("people", 4, "dob", "E103"),
        ("people", 6, "dob", "E103"),
    }
    assert result.clean["people"].empty or not (result.clean["people"]["dob"].dt.year == 1970).any()


def test_parquet_ids_as_floats(tmp_path: Path) -> None:
    # 1234.0 is 1234 (Excel and many exporters store every number as a float); 12.5 stays
    # 12.5; a float of 2**53 or more is not an exact whole number and keeps its float spelling.
    table = pa.table(
        {
            "person_id": pa.array([1234.0, 12.5, 2.0**60, None], type=pa.float64()),
            "offence_date": ["2024-11-11"] * 4,
        }
    )
    source = write_extracts(tmp_path)
    (source / "offences.csv").unlink()
    (source / "offences.parquet").write_bytes(parquet_bytes(table))
    settings = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
    raw = read_extract(settings.extract_source(), "offences")
    assert raw.frame["person_id"].tolist()[:3] == ["1234", "12.5", "1.152921504606847e+18"]
    assert pd.isna(raw.frame["person_id"].iloc[3])


def test_empty_first_sheet_without_data_elsewhere(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    (source / "people.xlsx").write_bytes(xlsx_bytes([[], []]))
    result = CliRunner().invoke(app, ["validate", "--source", str(source)])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: [F002] people.xlsx: extract cannot be read (the first sheet is empty)"
    )


def test_header_below_blank_rows_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    header = HEADERS["offences"]
    sheet: list[list[object]] = [[], [], header, ["P1", "2024-11-11", None], ["P1", "31/02/2024"]]
    result = _validate_with(tmp_path, "offences.xlsx", xlsx_bytes([sheet]))
    assert finding_tuples(result.findings) == {("offences", 5, "offence_date", "E103")}
    assert result.clean["offences"].index.tolist() == [4]


def _people_parquet_with(tmp_path: Path, column: str, values: pa.Array) -> Path:
    table = people_parquet_table()
    table = table.set_column(table.schema.get_field_index(column), column, values)
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    (source / "people.parquet").write_bytes(parquet_bytes(table))
    return source


@pytest.mark.parametrize("kind", [pa.binary(), pa.large_binary()])
def test_parquet_bytes_are_read_as_utf8_text(tmp_path: Path, kind: pa.DataType) -> None:
    surnames = [r["surname"] or None for r in fresh_rows()["people"]]
    surnames[0] = "Ōkẹ́ O'Brien"
    encoded = pa.array([s.encode() if s else None for s in surnames], type=kind)
    source = _people_parquet_with(tmp_path, "surname", encoded)
    settings = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
    raw = read_extract(settings.extract_source(), "people")
    assert [None if pd.isna(v) else v for v in raw.frame["surname"]] == surnames


def test_parquet_dictionary_of_bytes_is_text(tmp_path: Path) -> None:
    surnames = [r["surname"] or None for r in fresh_rows()["people"]]
    encoded = pa.array([s.encode() if s else None for s in surnames]).dictionary_encode()
    source = _people_parquet_with(tmp_path, "surname", encoded)
    settings = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
    raw = read_extract(settings.extract_source(), "people")
    assert [None if pd.isna(v) else v for v in raw.frame["surname"]] == surnames


def _refused_parquet(source: Path) -> str:
    result = CliRunner().invoke(app, ["validate", "--source", str(source)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    return lines[0]


def test_parquet_bytes_that_are_not_utf8_are_refused_naming_the_column(tmp_path: Path) -> None:
    n = len(fresh_rows()["people"])
    bad = pa.array([b"\xff\xfe"] + [b"x"] * (n - 1), type=pa.binary())
    line = _refused_parquet(_people_parquet_with(tmp_path, "surname", bad))
    assert "people.parquet" in line and "column surname holds bytes that are not UTF-8" in line


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (lambda n: pa.array([["a"]] * n), "list<"),
        (lambda n: pa.array([{"a": 1}] * n), "struct<"),
        (lambda n: pa.array([[("k", "v")]] * n, type=pa.map_(pa.string(), pa.string())), "map<"),
    ],
)
def test_parquet_nested_columns_are_refused_naming_the_column(
    tmp_path: Path, values: Any, shown: str
) -> None:
    n = len(fresh_rows()["people"])
    line = _refused_parquet(_people_parquet_with(tmp_path, "forename", values(n)))
    assert "people.parquet" in line and f"column forename holds {shown}" in line


def test_parquet_repeated_column_is_refused_naming_it(tmp_path: Path) -> None:
    table = people_parquet_table()
    table = table.append_column("dob", table.column("dob"))
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    (source / "people.parquet").write_bytes(parquet_bytes(table))
    line = _refused_parquet(source)
    assert "people.parquet" in line and "column dob appears twice" in line


def test_a_cover_sheet_before_the_data_is_said_in_the_missing_columns_line(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    cover = [["Report", "People export"], ["Run on", "2026-11-01"]]
    (source / "people.xlsx").write_bytes(xlsx_bytes([cover, people_sheet()]))
    result = CliRunner().invoke(app, ["validate", "--source", str(source)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: [F003] people.xlsx: ")
    assert line.endswith(
        "(person_id, family_id, role, gender; only the first of its 2 sheets is read: if the "
        "data is on another, move it to the first)"
    )
    # A workbook of one sheet missing a column says nothing of sheets.
    (source / "people.xlsx").write_bytes(xlsx_bytes([cover]))
    result = CliRunner().invoke(app, ["validate", "--source", str(source)])
    assert result.exit_code == 2 and "sheets" not in result.stderr


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_title_above_the_header_row_is_said(tmp_path: Path, kind: str) -> None:
    source = write_extracts(tmp_path / "in")
    csv_path = source / "exclusions.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    if kind == "csv":
        csv_path.write_text("\n".join(["Exclusions report", "", *lines]) + "\n", encoding="utf-8")
        name = "exclusions.csv"
    else:
        csv_path.unlink()
        rows = [line.split(",") for line in lines]
        (source / "exclusions.xlsx").write_bytes(xlsx_bytes([[["Exclusions report"], [], *rows]]))
        name = "exclusions.xlsx"
    result = CliRunner().invoke(app, ["validate", "--source", str(source)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: [F003] {name}: required column missing (person_id, ")
    assert line.endswith(
        "; the first row has 1 cell filled and the rows below have more: is there a title "
        "above the header row? The header must be the first row)"
    )
    assert "Exclusions report" not in line
