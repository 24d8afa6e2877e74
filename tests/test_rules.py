"""One hand-made case per rule of ``schemas.rules.RULES``.

Each case takes the valid extracts of ``extract_builders``, changes one or two cells, and checks
the finding: extract, source row (header = row 1), column, rule code and severity; that nothing
else is reported on its own account; and what happened to the row (quarantined for an error,
kept with the value blanked for a warning).

The cases and scenarios are validated together in one run (``foundation_support.Batch``: each
gets its own suffixed ids and is read back with its own row numbers), because a validation
costs about half a second however small its input.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from extract_builders import HEADERS, VALID_ROWS, fresh_rows, write_extracts
from foundation_support import (
    EXTRACT_DATE,
    Batch,
    cascaded,
    direct,
    finding_tuples,
    row_of,
    validate_folder,
    validate_rows,
)

from extracts.reader import read_extract, read_extracts
from flows.settings import Settings, load_settings
from schemas.columns import match_headers
from schemas.models import EXTRACT_NAMES
from schemas.rules import FINDING_COLUMNS, RULES, FatalInputError, Severity
from schemas.validation import ValidationResult, validate


def test_valid_extracts_give_no_findings(tmp_path: Path) -> None:
    # Every case below relies on this: the only findings are the ones its mutation causes.
    result = validate_rows(tmp_path)
    assert result.findings.empty
    assert list(result.findings.columns) == FINDING_COLUMNS
    assert {n: len(f) for n, f in result.clean.items()} == {
        n: len(rows) for n, rows in fresh_rows().items()
    }
    assert result.counts["quarantined"].sum() == 0 and result.counts["warned"].sum() == 0


# --- fatal rules ----------------------------------------------------------------------------


def _settings(folder: Path) -> Settings:
    return load_settings(None, source_path=folder, extract_date=EXTRACT_DATE)


def test_f001_missing_file_names_the_extract(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F001"
    assert "offences.csv" in str(caught.value)
    assert str(caught.value).startswith("[F001] ")


@pytest.mark.parametrize("other", ["offences.xls", "Offences.xlsm"])
def test_f001_names_the_extract_saved_in_a_format_not_read(tmp_path: Path, other: str) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    (tmp_path / other).write_bytes(b"not read")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F001"
    assert caught.value.detail == (
        f"no offences.csv, offences.xlsx or offences.parquet in the folder ({other} is there: "
        "save it as .csv (CSV UTF-8) or .xlsx, without macros)"
    )


def test_f001_missing_source_folder(tmp_path: Path) -> None:
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path / "nowhere").extract_source())
    assert caught.value.rule.code == "F001"
    assert "nowhere" in str(caught.value)


def test_a_dos_end_of_file_mark_is_not_a_row(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    families = tmp_path / "families.csv"
    families.write_bytes(families.read_bytes() + b"\x1a")
    result = validate_folder(tmp_path)
    assert result.findings.empty
    assert len(result.clean["families"]) == len(VALID_ROWS["families"])


def test_f001_a_source_that_is_a_file_says_so(tmp_path: Path) -> None:
    afile = tmp_path / "extracts.zip"
    afile.write_bytes(b"PK")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(afile).extract_source())
    assert str(caught.value) == (
        f"[F001] {afile}: extract not found (source folder is a file, not a folder)"
    )


@pytest.mark.parametrize("kind", ["folder", "pipe", "dangling-link"])
def test_f002_an_extract_that_is_not_a_file_says_so(tmp_path: Path, kind: str) -> None:
    import os

    write_extracts(tmp_path)
    (tmp_path / "people.csv").unlink()
    if kind == "folder":
        (tmp_path / "people.csv").mkdir()
    elif kind == "pipe":
        os.mkfifo(tmp_path / "people.csv")  # never opened: reading it would wait for a writer
    else:
        (tmp_path / "people.csv").symlink_to(tmp_path / "gone" / "people.csv")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    what = (
        "a link to something that does not exist"
        if kind == "dangling-link"
        else "a folder, a pipe or a device, not a file"
    )
    assert str(caught.value) == f"[F002] people.csv: extract cannot be read ({what})"


@pytest.mark.parametrize(
    ("lines", "record"),
    [
        # Text after a closing quote: pandas read O"Brien as OBrien.
        (["P1,F1,MAIN_CARER,F", 'P2,F1,"O"Brien,F', "P3,F1,CHILD,F"], 3),
        # Two stray opening quotes: pandas read every line between them as one value, and the
        # people on those lines vanished with no finding.
        (['P1,F1,"MAIN_CARER,F', "P2,F1,CHILD,F", 'P3,F1,"CHILD,F', "P4,F1,CHILD,F"], 2),
    ],
    ids=["text-after-a-closing-quote", "two-stray-opening-quotes"],
)
def test_f002_quotes_out_of_place_refuse_the_file_naming_the_record(
    tmp_path: Path, lines: list[str], record: int
) -> None:
    write_extracts(tmp_path)
    text = "person_id,family_id,role,gender\n" + "\n".join(lines) + "\n"
    (tmp_path / "people.csv").write_text(text, encoding="utf-8")
    with pytest.raises(FatalInputError) as caught:
        read_extract(_settings(tmp_path).extract_source(), "people")
    assert caught.value.rule.code == "F002"
    assert f"in the record starting on line {record}" in str(caught.value)


@pytest.mark.parametrize(
    ("file_name", "content"),
    [
        ("people.xlsx", b"PK\x03\x04 this is not really a zip archive \x00\xff\x13"),
        ("people.xlsx", b"person_id,family_id\nP1,F1\n"),  # a CSV renamed to .xlsx
        ("people.parquet", b"PAR1 garbage bytes PAR1"),
        ("people.csv", b'person_id,family_id,role,gender\nP1,"F1,MAIN_CARER,F\nP2,F1,CHILD,F\n'),
        ("people.csv", b"person_id,family_id,role,gender\nP1,F1,MAIN_CARER,\x81\x8d\n"),
        ("people.csv", b""),
    ],
    ids=[
        "garbage-xlsx",
        "csv-named-xlsx",
        "garbage-parquet",
        "unclosed-quote",
        "not-utf8-nor-cp1252",
        "empty-file",
    ],
)
def test_f002_unreadable_file(tmp_path: Path, file_name: str, content: bytes) -> None:
    write_extracts(tmp_path)
    (tmp_path / "people.csv").unlink()
    (tmp_path / file_name).write_bytes(content)
    with pytest.raises(FatalInputError) as caught:
        read_extract(_settings(tmp_path).extract_source(), "people")
    assert caught.value.rule.code == "F002"
    assert caught.value.source == file_name
    assert str(caught.value).startswith(f"[F002] {file_name}: ")


@pytest.mark.parametrize(
    "second", ["offence_date", "Offence_Date "], ids=["same-spelling", "other-spelling"]
)
def test_f002_column_given_twice(tmp_path: Path, second: str) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").write_text(
        f"person_id,offence_date,{second}\nP1,2024-11-11,2024-11-12\n", encoding="utf-8"
    )
    with pytest.raises(FatalInputError) as caught:
        read_extract(_settings(tmp_path).extract_source(), "offences")
    assert caught.value.rule.code == "F002"
    assert caught.value.source == "offences.csv"
    assert "offence_date" in caught.value.detail


def test_f003_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    headers = dict(HEADERS)
    headers["families"] = [h for h in HEADERS["families"] if h != "status"]
    write_extracts(tmp_path, headers=headers)
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F003"
    assert caught.value.source == "families.csv"
    assert caught.value.detail == "status"


def test_f003_an_opt_out_column_left_unmapped_stops_the_run(tmp_path: Path) -> None:
    """nis_opt_out may be absent, but not unread: headed "Opt Out" and left unmapped, it was
    read as empty with a W205 only, and the people who opted out were sent. Mapped, it is
    read."""
    write_extracts(tmp_path)
    people = tmp_path / "people.csv"
    text = people.read_text(encoding="utf-8")
    people.write_text(text.replace("nis_opt_out", "Opt Out", 1), encoding="utf-8")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F003"
    assert caught.value.detail == (
        'nis_opt_out; \'Opt Out\' is most likely it: add "Opt Out" = "nis_opt_out" under '
        "[column_map.people], or take that column out of the extract if it is not (read as "
        "empty, every opt-out would be lost)"
    )
    mapped = load_settings(
        None,
        source_path=tmp_path,
        extract_date=EXTRACT_DATE,
        column_map={"people": {"Opt Out": "nis_opt_out"}},
    )
    raw = read_extract(mapped.extract_source(), "people")
    assert "nis_opt_out" in raw.frame.columns
    # Absent altogether (no header like it), it is read as empty, as the contract allows.
    people.write_text(
        "\n".join(",".join(line.split(",")[:-1]) for line in text.splitlines()) + "\n",
        encoding="utf-8",
    )
    assert "nis_opt_out" not in read_extract(_settings(tmp_path).extract_source(), "people").frame


@pytest.mark.parametrize(("separator", "named"), [(";", "semicolons"), ("\t", "tabs")])
def test_f003_a_file_separated_otherwise_says_so(
    tmp_path: Path, separator: str, named: str
) -> None:
    # Every header in one column: "required column missing" alone named columns that are there.
    write_extracts(tmp_path)
    text = (tmp_path / "families.csv").read_text(encoding="utf-8")
    (tmp_path / "families.csv").write_text(text.replace(",", separator), encoding="utf-8")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F003"
    assert caught.value.detail.endswith(
        f"; the header holds {named}: the file must be separated by commas (in Excel, save it "
        "as CSV UTF-8 (Comma delimited))"
    )


@pytest.mark.parametrize(
    ("extract", "column"),
    [  # columns spec section 2 marks `?`, whose absence no other rule minds in these rows
        ("families", "intensity"),
        ("families", "claim_type"),
        ("people", "ethnicity"),
        ("people", "nis_opt_out"),
        ("people", "date_left"),
        ("eligibility", "person_id"),
        ("exclusions", "sessions"),
        ("offences", "offence_category"),
        ("asb_incidents", "incident_category"),
        ("domestic_abuse_incidents", "involvement"),
        ("social_care_episodes", "end_date"),
        ("employment_spells", "end_date"),
    ],
)
def test_absent_optional_column_is_not_fatal(tmp_path: Path, extract: str, column: str) -> None:
    headers = dict(HEADERS)
    headers[extract] = [h for h in HEADERS[extract] if h != column]
    rows = fresh_rows()
    if (extract, column) == ("families", "claim_type"):
        rows["families"][2].update(claim_type="", claim_date="")  # (a claim needs its type)
    write_extracts(tmp_path, rows, headers=headers)
    result = validate_folder(tmp_path)
    assert result.findings.empty
    if column == "nis_opt_out":  # empty means 0
        assert result.clean[extract][column].tolist() == [0, 0, 0, 0, 0]
    else:
        assert result.clean[extract][column].isna().all()
    assert len(result.clean[extract]) == len(VALID_ROWS[extract])


def test_f005_families_of_two_councils_are_fatal(tmp_path: Path) -> None:
    rows = fresh_rows()
    rows["families"][1]["la_code"] = "E08000013"
    write_extracts(tmp_path, rows)
    with pytest.raises(FatalInputError) as caught:
        validate_folder(tmp_path)
    assert caught.value.rule.code == "F005"
    assert caught.value.source == "families.csv"
    n = len(rows["families"])
    assert caught.value.detail == (
        f"families of E08000012 ({n - 1} rows, the first on line 2), "
        "E08000013 (1 row, the first on line 3)"
    )
    # With la_code in the config, the other council is named against it, with its line.
    raw = read_extracts(_settings(tmp_path).extract_source())
    with pytest.raises(FatalInputError) as caught:
        validate(raw, EXTRACT_DATE, "E08000012")
    assert caught.value.detail == (
        "families of E08000013 (1 row, the first on line 3) besides la_code E08000012 of the config"
    )
    # A config naming a council none of the families are of is as fatal.
    with pytest.raises(FatalInputError) as caught:
        validate(raw, EXTRACT_DATE, "E06000001")
    assert caught.value.rule.code == "F005"


def test_f006_no_council_named_is_fatal(tmp_path: Path) -> None:
    rows = fresh_rows()
    for family in rows["families"]:
        family["la_code"] = ""  # each one E101, so no family names a council
    write_extracts(tmp_path, rows)
    raw = read_extracts(_settings(tmp_path).extract_source())
    with pytest.raises(FatalInputError) as caught:
        validate(raw, EXTRACT_DATE)
    assert caught.value.rule.code == "F006"
    # Why none named one, and how to see each row's error: no family was left to name it.
    assert str(caught.value) == (
        "[F006] families.csv: no council named: la_code is not set and the families extract "
        "gives none (every one of its 3 rows has an error, most often E101 in la_code: set "
        "la_code in the config, and the validation report lists them)"
    )
    # With the council named in the config, the run goes on (to quarantine every family).
    result = validate(raw, EXTRACT_DATE, "E08000012")
    assert result.la_code == "E08000012" and result.clean["families"].empty


def test_f006_with_families_in_error_names_the_rule_that_took_most(tmp_path: Path) -> None:
    rows = fresh_rows()
    rows["families"][0]["date_identified"] = "20240115"  # E103, as a date stored as a number
    rows["families"][1]["date_identified"] = "45000"  # E103
    rows["families"][2]["status"] = "OPEN"  # E105
    write_extracts(tmp_path, rows)
    with pytest.raises(FatalInputError) as caught:
        validate(read_extracts(_settings(tmp_path).extract_source()), EXTRACT_DATE)
    assert str(caught.value).endswith(
        "(every one of its 3 rows has an error, most often E103 in date_identified: set "
        "la_code in the config, and the validation report lists them)"
    )
    # One family left to name its council: no F006.
    rows["families"][2]["status"] = "CLOSED"
    write_extracts(tmp_path, rows)
    result = validate(read_extracts(_settings(tmp_path).extract_source()), EXTRACT_DATE)
    assert result.la_code == "E08000012"


@pytest.mark.parametrize("name", ["families", "people"])
@pytest.mark.parametrize(
    "blank_lines", ["", "\n\n", ",,,\n"], ids=["header-only", "blank", "commas"]
)
def test_f007_families_or_people_without_rows_is_fatal(
    tmp_path: Path, name: str, blank_lines: str
) -> None:
    write_extracts(tmp_path)
    (tmp_path / f"{name}.csv").write_text(",".join(HEADERS[name]) + "\n" + blank_lines)
    with pytest.raises(FatalInputError) as caught:
        read_extract(_settings(tmp_path).extract_source(), name)
    assert caught.value.rule.code == "F007"
    assert str(caught.value) == f"[F007] {name}.csv: extract holds no rows"


def test_other_extracts_may_be_empty(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").write_text(",".join(HEADERS["offences"]) + "\n")
    assert read_extract(_settings(tmp_path).extract_source(), "offences").rows == 0


@pytest.mark.parametrize(
    ("lines", "extra_rows"),
    [
        # P2's surname holds an unquoted comma: one field too many, the row is line 3.
        (["P1,F1,MAIN_CARER,F", "P2,F1,Smith, Jo,F", "P3,F1,CHILD,F"], [3]),
        # On the first data row, and two fields too many (read the careful way).
        (["P1,F1,MAIN_CARER,F,x,y", "P2,F1,CHILD,F", "P3,F1,CHILD,F"], [2]),
        # A trailing comma on every line (an exporter's habit) is not a value: no finding.
        (["P1,F1,MAIN_CARER,F,", "P2,F1,CHILD,F,", "P3,F1,CHILD,F,"], []),
        # Nor are empty fields short of what most lines have.
        (["P1,F1,MAIN_CARER,F,,", "P2,F1,CHILD,F", "P3,F1,CHILD,F,,"], []),
        # An unquoted comma in a row whose last field is empty: the extra field is empty, but
        # the values are shifted (gender would read "CARER").
        (["P1,F1,MAIN_CARER,F", "P2,F1,MAIN,CARER,", "P3,F1,CHILD,F"], [3]),
        # One more empty field than the other lines have is a shift too.
        (["P1,F1,MAIN_CARER,F,", "P2,F1,CHILD,F,,", "P3,F1,CHILD,F,"], [3]),
        # Which lengths count as usual does not depend on the rows' order: a tie is no majority.
        (["P1,F1,MAIN,CARER,", "P2,F1,CHILD,F"], [2]),
        (["P2,F1,CHILD,F", "P1,F1,MAIN,CARER,"], [3]),
        # Fewer fields than the header: padded with empty ones (exporters leave out empty
        # trailing fields row by row), in a quoted file too.
        (["P1,F1,MAIN_CARER", "P2,F1,CHILD", "P3,F1,CHILD,F"], []),
        (['P1,F1,"MAIN_CARER",F', "P2,F1", "P3,F1,CHILD,F"], []),
        # A line of empty fields, however many, is no record.
        (["P1,F1,MAIN_CARER,F", ",,,,,,", "P3,F1,CHILD,F"], []),
        # After a quoted line break, the line numbers still name the lines the records start on.
        (['P1,F1,"MAIN\nCARER",F', "P2,F1,CHILD,F,F9", "P3,F1,CHILD,F"], [4]),
    ],
    ids=[
        "one-extra",
        "first-row-two-extra",
        "trailing-commas",
        "short-of-the-usual",
        "shifted-with-empty-last",
        "one-more-than-usual",
        "a-tie-is-no-majority",
        "a-tie-is-no-majority-either-way",
        "trailing-empties-left-out",
        "trailing-empties-left-out-quoted",
        "a-line-of-empty-fields",
        "after-a-line-break",
    ],
)
def test_e119_row_with_more_fields_is_that_rows_error(
    tmp_path: Path, lines: list[str], extra_rows: list[int]
) -> None:
    write_extracts(tmp_path)
    text = "person_id,family_id,role,gender\n" + "\n".join(lines) + "\n"
    (tmp_path / "people.csv").write_text(text, encoding="utf-8")
    raw = read_extract(_settings(tmp_path).extract_source(), "people")
    assert raw.extra_field_rows == tuple(extra_rows)
    # Every record is read; none is dropped or shifted (a line of empty fields is no record).
    ids = {line_no: line.split(",")[0] for line_no, line in enumerate(text.splitlines(), 1)}
    records = [r[0] for r in csv.reader(io.StringIO(text)) if any(r)][1:]
    assert raw.frame["person_id"].tolist() == records
    raws = read_extracts(_settings(tmp_path).extract_source())
    result = validate(raws, EXTRACT_DATE)
    people = result.findings.loc[result.findings["extract"] == "people"]
    e119 = people.loc[people["rule"] == "E119"]
    assert e119["row"].tolist() == extra_rows
    assert e119["column"].isna().all()
    assert e119["person_id"].tolist() == [ids[r] for r in extra_rows]
    # The row is quarantined, reported once (nothing else is said of its shifted values).
    assert set(people.loc[people["row"].isin(extra_rows), "rule"]) <= {"E119"}
    counts = result.counts.set_index("extract").loc["people"]
    assert counts["rows_read"] == len(records)
    assert counts["quarantined"] >= len(extra_rows)


@pytest.mark.parametrize("state", ["hidden", "veryHidden", "visible"])
def test_a_hidden_first_sheet_refuses_the_workbook(tmp_path: Path, state: str) -> None:
    """The first sheet is the one read; hidden, it may hold old data nobody checking the file
    sees (here, every surname OLD, while the visible sheet after it is current)."""
    from openpyxl import Workbook

    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    book = Workbook()
    old = book.active
    old.title = "old"
    old.append(["person_id", "offence_date"])
    old.append(["P1", "2020-01-01"])
    old.sheet_state = state
    current = book.create_sheet("current")
    current.append(["person_id", "offence_date"])
    current.append(["P1", "2024-11-11"])
    book.active = 1
    book.save(tmp_path / "offences.xlsx")
    if state == "visible":
        raw = read_extract(_settings(tmp_path).extract_source(), "offences")
        assert raw.frame["offence_date"].tolist() == ["2020-01-01"]
        return
    with pytest.raises(FatalInputError) as caught:
        read_extract(_settings(tmp_path).extract_source(), "offences")
    assert caught.value.rule.code == "F002"
    assert str(caught.value) == (
        "[F002] offences.xlsx: extract cannot be read (its first sheet, the one read, is hidden: "
        "unhide it and check it holds the extract, or move the sheet that does to the first "
        "place)"
    )


def test_e119_sheet_row_with_values_past_the_header(tmp_path: Path) -> None:
    from openpyxl import Workbook

    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "offence_date"])
    sheet.append(["P1", "2024-11-11"])
    sheet.append(["P1", "2024-11-12", None, "stray"])
    book.save(tmp_path / "offences.xlsx")
    result = validate_folder(tmp_path)
    offences = result.findings.loc[result.findings["extract"] == "offences"]
    assert finding_tuples(offences) == {("offences", 3, None, "E119")}
    assert result.clean["offences"]["offence_date"].tolist() == [pd.Timestamp("2024-11-11")]


def test_f004_two_files_for_one_extract(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "Families.parquet").write_bytes(b"")
    with pytest.raises(FatalInputError) as caught:
        read_extracts(_settings(tmp_path).extract_source())
    assert caught.value.rule.code == "F004"
    assert "families.csv" in str(caught.value) and "Families.parquet" in str(caught.value)


# --- one-cell error and warning cases -------------------------------------------------------


@dataclass(frozen=True)
class Case:
    rule: str
    extract: str
    index: int  # position in fresh_rows()[extract]
    column: str  # the column the finding names
    changes: dict[str, str]

    @property
    def id(self) -> str:
        changes = ",".join(f"{c}={v!r}" for c, v in self.changes.items())
        return f"{self.rule}-{self.extract}-{changes}"


CASES = [
    Case("E101", "families", 0, "la_code", {"la_code": ""}),
    Case("E101", "people", 2, "role", {"role": " "}),
    Case("E101", "people", 2, "gender", {"gender": ""}),
    Case("E101", "eligibility", 0, "date_met", {"date_met": ""}),
    Case("E101", "offences", 0, "person_id", {"person_id": ""}),
    Case("E101", "school_attendance", 0, "possible_sessions", {"possible_sessions": ""}),
    Case("E103", "offences", 0, "offence_date", {"offence_date": "31/02/2025"}),
    Case("E103", "offences", 0, "offence_date", {"offence_date": "2025-13-01"}),
    Case("E103", "offences", 0, "offence_date", {"offence_date": "2025-02-29"}),
    Case("E103", "offences", 0, "offence_date", {"offence_date": "11/13/2024"}),  # US order
    Case("E103", "offences", 0, "offence_date", {"offence_date": "last tuesday"}),
    Case("E103", "offences", 0, "offence_date", {"offence_date": "1066-10-14"}),
    Case("E103", "families", 0, "date_support_ended", {"date_support_ended": "00/00/0000"}),
    Case("E104", "families", 1, "date_identified", {"date_identified": "15/03/24"}),
    Case("E104", "asb_incidents", 0, "incident_date", {"incident_date": "12-11-24"}),
    # Other layouts with a four-digit year are not read either (docs/decisions.md: invalid).
    Case("E103", "asb_incidents", 0, "incident_date", {"incident_date": "12-11-2024"}),
    Case("E103", "asb_incidents", 0, "incident_date", {"incident_date": "2024/11/12"}),
    Case("E103", "people", 2, "dob", {"dob": "01.01.1990"}),
    Case("E103", "people", 2, "dob", {"dob": "1 January 1990"}),
    Case("E105", "families", 1, "status", {"status": "OPEN"}),
    Case("E105", "families", 2, "claim_type", {"claim_type": "PBR"}),
    Case("E105", "people", 2, "gender", {"gender": "Q"}),
    # only M, F, X, U, Male and Female are read: "Unknown" is not guessed to be U
    Case("E105", "people", 2, "gender", {"gender": "Unknown"}),
    Case("E105", "people", 2, "role", {"role": "GRANDPARENT"}),
    Case("E105", "eligibility", 1, "problem", {"problem": "POVERTY"}),
    Case("E105", "exclusions", 0, "exclusion_type", {"exclusion_type": "EXPELLED"}),
    Case("E105", "domestic_abuse_incidents", 0, "involvement", {"involvement": "BYSTANDER"}),
    Case("E105", "social_care_episodes", 0, "episode_type", {"episode_type": "CP"}),
    Case("E105", "employment_spells", 0, "spell_type", {"spell_type": "RETIRED"}),
    Case("E106", "families", 2, "date_support_ended", {"date_support_ended": "2023-06-30"}),
    Case("E106", "social_care_episodes", 0, "end_date", {"end_date": "2024-02-29"}),
    Case("E106", "employment_spells", 0, "end_date", {"end_date": "30/04/2024"}),
    Case("E107", "people", 2, "family_id", {"family_id": "F9"}),
    Case("E107", "eligibility", 1, "family_id", {"family_id": "F9"}),
    Case("E107", "domestic_abuse_incidents", 0, "family_id", {"family_id": "F9", "person_id": ""}),
    Case("E108", "offences", 0, "person_id", {"person_id": "P9"}),
    Case("E108", "eligibility", 0, "person_id", {"person_id": "P9"}),
    Case("E108", "employment_spells", 0, "person_id", {"person_id": "P9"}),
    Case("E109", "school_attendance", 0, "possible_sessions", {"possible_sessions": "-3"}),
    Case(
        "E109",
        "school_attendance",
        0,
        "unauthorised_absence_sessions",
        {"unauthorised_absence_sessions": "1.5"},
    ),
    Case("E109", "exclusions", 0, "sessions", {"sessions": "two"}),
    Case("E110", "families", 0, "la_code", {"la_code": "W06000015"}),
    Case("E110", "families", 0, "la_code", {"la_code": "E07000123"}),
    Case("E111", "families", 0, "date_support_started", {"date_support_started": "2024-01-14"}),
    Case("E112", "families", 0, "date_support_started", {"date_support_started": ""}),
    # CLOSED needs it too (F3 keeps its date_support_ended, so only E112 applies)
    Case(
        "E112",
        "families",
        2,
        "date_support_started",
        {"status": "CLOSED", "date_support_started": ""},
    ),
    Case("E113", "families", 2, "date_support_ended", {"date_support_ended": ""}),
    Case("E114", "families", 2, "claim_date", {"claim_date": ""}),
    Case("E115", "families", 2, "claim_date", {"claim_date": "2023-06-30"}),
    Case("E116", "families", 0, "claim_type", {"claim_date": "2024-06-01"}),
    Case("E120", "people", 3, "expected_dob", {"expected_dob": ""}),
    Case("E120", "people", 3, "expected_dob", {"dob": "2024-08-01"}),
    Case("E121", "people", 2, "dob", {"dob": ""}),
    Case("E121", "people", 2, "dob", {"expected_dob": "2025-01-01"}),
    Case("E122", "people", 2, "dob", {"dob": "2025-06-02"}),
    Case("E123", "people", 4, "dob", {"dob": "1914-06-01"}),  # 111 on the extract date
    Case("E124", "people", 1, "dob", {"dob": "2006-01-15"}),
    Case("E125", "people", 4, "date_left", {"date_left": "2023-05-31"}),
    Case("E126", "people", 0, "nis_opt_out", {"nis_opt_out": "2"}),
    Case("E126", "people", 0, "nis_opt_out", {"nis_opt_out": "maybe"}),
    Case(
        "E130", "school_attendance", 0, "possible_sessions", {"authorised_absence_sessions": "141"}
    ),
    Case("E131", "school_attendance", 0, "term_end", {"term_end": "2024-09-01"}),
    Case("E132", "domestic_abuse_incidents", 0, "person_id", {"person_id": "P3"}),
    Case("W201", "people", 0, "nino", {"nino": "AB123456E"}),
    Case("W201", "people", 0, "nino", {"nino": "GB123456A"}),
    Case("W202", "people", 1, "upn", {"upn": "A801200005001"}),
    Case("W202", "people", 1, "upn", {"upn": "B80120000500"}),
    Case("W203", "people", 0, "nhs_number", {"nhs_number": "9434765871"}),
    Case("W203", "people", 0, "nhs_number", {"nhs_number": "94347658"}),
    Case("W204", "people", 0, "postcode", {"postcode": "QL1 8JQ"}),
    Case("W204", "people", 0, "postcode", {"postcode": "L1 8JQQ"}),
    # P3 and P5 have no events: a bad id of theirs gives its own finding and no other.
    Case("E117", "people", 2, "person_id", {"person_id": "P" * 65}),
    Case("E118", "people", 4, "person_id", {"person_id": "=1+1"}),
    Case("E118", "people", 4, "person_id", {"person_id": "-5"}),
    Case("E118", "people", 4, "person_id", {"person_id": "@SUM(A1)"}),
    Case("E118", "people", 2, "person_id", {"person_id": "+44"}),
    Case("W206", "people", 0, "forename", {"forename": "Si\x00\uffffân"}),
    Case("W206", "people", 2, "surname", {"surname": "Smi\x1bth"}),
    Case("W207", "people", 0, "forename", {"forename": '=HYPERLINK("http://x","y")'}),
    Case("W207", "people", 2, "surname", {"surname": "-Smith"}),
    Case("W208", "people", 2, "surname", {"surname": "S" * 101}),
]


# Rules whose test is not a one-cell case: the test that covers each (a rule added to the
# registry fails test_every_rule_is_tested until it has a case above or a test named here).
TESTED_ELSEWHERE = {
    "F001": "test_f001_missing_file_names_the_extract",
    "F002": "test_f002_unreadable_file",
    "F003": "test_f003_missing_required_column_names_file_and_column",
    "F004": "test_f004_two_files_for_one_extract",
    "F005": "test_f005_families_of_two_councils_are_fatal",
    "F006": "test_f006_no_council_named_is_fatal",
    "F007": "test_f007_families_or_people_without_rows_is_fatal",
    "E119": "test_e119_row_with_more_fields_is_that_rows_error",
    "E102": "test_e102_duplicated_person_quarantines_both_rows_and_their_events",
    "E190": "test_e190_quarantined_family_takes_its_people_and_their_events",
    "W205": "test_w205_extra_column_reported_once_and_dropped",
}


def test_every_rule_is_tested() -> None:
    covered = {c.rule for c in CASES} | set(TESTED_ELSEWHERE)
    assert covered == set(RULES)
    assert not {c.rule for c in CASES} & set(TESTED_ELSEWHERE)
    for name in TESTED_ELSEWHERE.values():
        assert callable(globals().get(name)), name
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_case_names_a_target_of_its_rule() -> None:
    # A case that reports on a column its rule does not declare would test nothing declared.
    for case in CASES:
        targets = {(t.extract, t.column) for t in RULES[case.rule].targets}
        assert (case.extract, case.column) in targets, case.id


# --- scenarios: each a few changed cells, all validated in one run --------------------------

Rows = dict[str, list[dict[str, str]]]
SCENARIOS: dict[str, Callable[[Rows], None]] = {}


def scenario(mutate: Callable[[Rows], None]) -> Callable[[Rows], None]:
    SCENARIOS[mutate.__name__] = mutate
    return mutate


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Every one-cell case and every scenario of this module, validated together."""
    runs = Batch()
    for case in CASES:
        rows = fresh_rows()
        rows[case.extract][case.index].update(case.changes)
        runs.add(case.id, rows)
    for name, mutate in SCENARIOS.items():
        rows = fresh_rows()
        mutate(rows)
        runs.add(name, rows)
    runs.run(tmp_path_factory.mktemp("batch"))
    return runs


# The one warning whose value is sent, made safe, rather than blanked: control characters
# removed from a name or an id leave the rest of it worth keeping. Every other warning blanks.
KEPT_WARNINGS = {"W206"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_one_cell_rule(batch: Batch, case: Case) -> None:
    result = batch[case.id]
    row = row_of(case.index)

    assert direct(result.findings) == {(case.extract, row, case.column, case.rule)}
    finding = result.findings.loc[result.findings["rule"] == case.rule].iloc[0]
    rule = RULES[case.rule]
    assert finding["severity"] == rule.severity.value
    assert finding["message"] == rule.message

    clean = result.clean[case.extract]
    if rule.severity == Severity.ERROR:
        assert row not in clean.index
        assert len(clean) == len(VALID_ROWS[case.extract]) - 1
    elif case.rule in KEPT_WARNINGS:
        assert rule.keeps_value
        # Made safe, and kept: the characters no file can carry are gone, the rest is sent.
        assert clean.loc[row, case.column] == "".join(
            ch for ch in case.changes[case.column] if ch not in "\x00\x1b\uffff"
        )
    else:
        assert not rule.keeps_value
        assert row in clean.index
        assert pd.isna(clean.loc[row, case.column])
        # The rest of the row is untouched, and a warning takes nothing else with it.
        assert clean.loc[row, "person_id"] == VALID_ROWS["people"][case.index]["person_id"]
        assert {n: len(f) for n, f in result.clean.items()} == {
            n: len(r) for n, r in VALID_ROWS.items()
        }


@pytest.mark.parametrize("case", [CASES[0], CASES[-1]], ids=["error", "warning"])
def test_one_cell_rule_counts(tmp_path: Path, case: Case) -> None:
    # Two of the cases on their own, for the per-extract counts.
    rows = fresh_rows()
    rows[case.extract][case.index].update(case.changes)
    result = validate_rows(tmp_path, rows)
    assert direct(result.findings) == {(case.extract, row_of(case.index), case.column, case.rule)}
    counts = result.counts.set_index("extract").loc[case.extract]
    if RULES[case.rule].severity == Severity.ERROR:
        assert (counts["quarantined"], counts["warned"]) == (1, 0)
    else:
        assert (counts["quarantined"], counts["warned"]) == (0, 1)
    assert counts["rows_read"] == len(rows[case.extract])


@scenario
def keys(rows: Rows) -> None:
    rows["people"][2]["gender"] = "Q"  # P3 of F2
    rows["offences"][0]["person_id"] = "P9"
    rows["people"][0]["nino"] = "AB123456E"  # P1 of F1


def test_findings_carry_the_record_keys(batch: Batch) -> None:
    findings = batch["keys"].findings
    keyed = findings.set_index("rule")[["extract", "family_id", "person_id"]]
    assert keyed.loc["E105"].tolist() == ["people", "F2", "P3"]
    assert keyed.loc["W201"].tolist() == ["people", "F1", "P1"]
    assert keyed.loc["E108", "person_id"] == "P9"
    assert pd.isna(keyed.loc["E108", "family_id"])  # offences have no family_id


@scenario
def accepted(rows: Rows) -> None:
    families, people = rows["families"], rows["people"]
    people[4]["dob"] = "1915-06-01"  # exactly 110 on the extract date
    people[1]["dob"] = "2006-01-16"  # 17 on the family's date_identified (2024-01-15)
    people[2]["dob"] = "2025-06-01"  # born on the extract date
    people[0]["nis_opt_out"] = "Y"
    people[2]["nis_opt_out"] = "no"
    families[1]["status"] = " identified "
    people[0]["gender"] = "female"
    people[2]["gender"] = "MALE"
    rows["offences"][0]["offence_date"] = "1/2/2024"
    rows["asb_incidents"][0]["incident_date"] = "2024-02-01 00:00:00"
    families[0]["date_support_started"] = families[0]["date_identified"]  # same day is fine
    # every possible session missed: absences may equal possible sessions (150 = 140 + 10)
    rows["school_attendance"][0]["authorised_absence_sessions"] = "140"


def test_accepted_values_give_no_findings(batch: Batch) -> None:
    """Boundaries that are allowed, and the spellings the contract accepts."""
    result = batch["accepted"]
    assert result.findings.empty
    clean = result.clean
    assert clean["people"]["nis_opt_out"].tolist() == [1, 0, 0, 0, 0]
    assert clean["families"]["status"].tolist() == ["ATTACHED", "IDENTIFIED", "CLOSED"]
    assert clean["people"]["gender"].tolist() == ["F", "F", "M", "U", "X"]
    assert clean["offences"]["offence_date"].tolist() == [pd.Timestamp("2024-02-01")]
    assert clean["asb_incidents"]["incident_date"].tolist() == [pd.Timestamp("2024-02-01")]
    assert clean["families"]["date_identified"].tolist() == [
        pd.Timestamp("2024-01-15"),
        pd.Timestamp("2024-03-15"),  # written 15/03/2024
        pd.Timestamp("2023-06-01"),
    ]


@pytest.mark.parametrize("la_code", ["E06000001", "E08000012", "E09000001", "E10000023"])
def test_every_upper_tier_la_code_prefix_is_accepted(tmp_path: Path, la_code: str) -> None:
    # Section 2: E06 unitary, E08 metropolitan district, E09 London borough, E10 county. (A
    # separate run: every family of one run belongs to one council, F005.)
    rows = fresh_rows()
    for family in rows["families"]:
        family["la_code"] = la_code
    result = validate_rows(tmp_path, rows)
    assert result.findings.empty
    assert set(result.clean["families"]["la_code"]) == {la_code}


@scenario
def ages_in_whole_years(rows: Rows) -> None:
    # 110 years and 364 days old is an age of 110: at most 110 (section 2).
    rows["people"][4]["dob"] = "1914-06-02"
    # Born on 29 February: 17 on 28 February of a common year, the birthday being 1 March
    # (docs/decisions.md, as for age_at_census); still a CHILD on identification.
    rows["families"][0]["date_identified"] = "2022-02-28"
    rows["people"][1]["dob"] = "2004-02-29"


def test_ages_are_whole_years_with_29_february_on_1_march(batch: Batch) -> None:
    assert batch["ages_in_whole_years"].findings.empty


@scenario
def leap_day_child_turns_18(rows: Rows) -> None:
    rows["families"][0]["date_identified"] = "2022-03-01"
    rows["people"][1]["dob"] = "2004-02-29"


def test_child_born_on_29_february_is_18_on_1_march(batch: Batch) -> None:
    findings = batch["leap_day_child_turns_18"].findings
    assert direct(findings) == {("people", row_of(1), "dob", "E124")}


@scenario
def normalised_identifiers(rows: Rows) -> None:
    rows["people"][0].update(nino="ab 12 34 56 e", nhs_number="943 476 5870")
    rows["people"][2].update(nino="ce 65 43 21 a", postcode="l181ab")


def test_warnings_blank_only_the_bad_identifier_and_normalise_the_rest(batch: Batch) -> None:
    result = batch["normalised_identifiers"]
    assert direct(result.findings) == {("people", 2, "nino", "W201")}
    people = result.clean["people"].set_index("person_id")
    assert pd.isna(people.loc["P1", "nino"])
    assert people.loc["P1", "nhs_number"] == "9434765870"
    assert people.loc["P1", "postcode"] == "L1 8JQ"
    assert people.loc["P3", "nino"] == "CE654321A"
    assert people.loc["P3", "postcode"] == "L18 1AB"
    assert people.loc["P2", "upn"] == "B801200005001"


# --- E102 and the E190 cascade --------------------------------------------------------------


@scenario
def duplicated_person(rows: Rows) -> None:
    rows["people"].append(dict(rows["people"][1]))  # P2 again, row 7


def test_e102_duplicated_person_quarantines_both_rows_and_their_events(batch: Batch) -> None:
    result = batch["duplicated_person"]
    assert direct(result.findings) == {
        ("people", 3, "person_id", "E102"),
        ("people", 7, "person_id", "E102"),
    }
    assert cascaded(result.findings) == {
        ("eligibility", 2, "person_id", "E190"),
        ("school_attendance", 2, "person_id", "E190"),
        ("exclusions", 2, "person_id", "E190"),
        ("social_care_episodes", 2, "person_id", "E190"),
    }
    assert result.clean["people"]["person_id"].tolist() == ["P1", "P3", "P4", "P5"]
    assert result.clean["school_attendance"].empty
    # The family and the other events stay.
    assert len(result.clean["families"]) == 3 and len(result.clean["offences"]) == 1


@scenario
def duplicated_family(rows: Rows) -> None:
    rows["families"].append(dict(rows["families"][1]))  # F2 again, row 5


def test_e102_duplicated_family(batch: Batch) -> None:
    result = batch["duplicated_family"]
    assert direct(result.findings) == {
        ("families", 3, "family_id", "E102"),
        ("families", 5, "family_id", "E102"),
    }
    assert cascaded(result.findings) == {
        ("people", 4, "family_id", "E190"),
        ("people", 5, "family_id", "E190"),
    }
    assert result.clean["families"]["family_id"].tolist() == ["F1", "F3"]


COMPOUND = [
    ("eligibility", 0, "family_id"),
    ("eligibility", 1, "family_id"),  # person_id empty in both rows: still the same key
    ("school_attendance", 0, "person_id"),
]
for _extract, _index, _ in COMPOUND:

    def _duplicate(rows: Rows, extract: str = _extract, index: int = _index) -> None:
        rows[extract].append(dict(rows[extract][index]))

    SCENARIOS[f"duplicated_{_extract}_{_index}"] = _duplicate


@pytest.mark.parametrize(("extract", "index", "column"), COMPOUND)
def test_e102_duplicated_compound_key(batch: Batch, extract: str, index: int, column: str) -> None:
    result = batch[f"duplicated_{extract}_{index}"]
    first, last = row_of(index), row_of(len(VALID_ROWS[extract]))
    assert direct(result.findings) == {
        (extract, first, column, "E102"),
        (extract, last, column, "E102"),
    }
    assert result.findings["severity"].eq("error").all()
    assert first not in result.clean[extract].index and last not in result.clean[extract].index


@scenario
def same_problem_other_person(rows: Rows) -> None:
    rows["eligibility"].append({**rows["eligibility"][0], "person_id": "P1"})


def test_eligibility_rows_differing_only_in_person_are_not_duplicates(batch: Batch) -> None:
    assert batch["same_problem_other_person"].findings.empty


@scenario
def allowed_empties(rows: Rows) -> None:
    """Every value spec section 2 marks `?` that the other rules let be empty here (P4, the
    UNBORN, has no dob; F2, IDENTIFIED, no support dates), and a pupil's second term."""
    rows["exclusions"][0]["sessions"] = ""
    rows["offences"][0]["offence_category"] = ""
    rows["domestic_abuse_incidents"][0].update(person_id="", involvement="")
    rows["employment_spells"][0]["end_date"] = ""
    rows["social_care_episodes"][0]["end_date"] = ""
    for person in rows["people"]:
        person.update(forename="", surname="", postcode="", nino="", upn="", nhs_number="")
        person.update(ethnicity="", date_joined="", date_left="", nis_opt_out="")
    rows["school_attendance"].append(
        {**rows["school_attendance"][0], "term_start": "2025-01-06", "term_end": "2025-03-28"}
    )
    rows["people"][4]["role"] = "OTHER"  # the last code of the list, an adult with a dob


def test_values_the_contract_lets_be_empty_give_no_findings(batch: Batch) -> None:
    result = batch["allowed_empties"]
    assert result.findings.empty
    kept = {name: len(frame) for name, frame in result.clean.items()}
    assert kept == {name: len(rows) for name, rows in VALID_ROWS.items()} | {"school_attendance": 2}
    assert result.clean["exclusions"]["sessions"].isna().tolist() == [True]
    assert result.clean["employment_spells"]["end_date"].isna().tolist() == [True]
    assert result.clean["people"]["nis_opt_out"].tolist() == [0, 0, 0, 0, 0]  # empty means 0


@scenario
def family_quarantined(rows: Rows) -> None:
    rows["families"][0]["la_code"] = "E99"  # F1


def test_e190_quarantined_family_takes_its_people_and_their_events(batch: Batch) -> None:
    result = batch["family_quarantined"]
    assert direct(result.findings) == {("families", 2, "la_code", "E110")}
    assert cascaded(result.findings) == {
        ("people", 2, "family_id", "E190"),  # P1
        ("people", 3, "family_id", "E190"),  # P2
        ("eligibility", 2, "person_id", "E190"),  # P2's
        ("eligibility", 3, "family_id", "E190"),  # F1's, no person named
        ("school_attendance", 2, "person_id", "E190"),
        ("exclusions", 2, "person_id", "E190"),
        ("offences", 2, "person_id", "E190"),
        ("asb_incidents", 2, "person_id", "E190"),
        ("domestic_abuse_incidents", 2, "person_id", "E190"),
        ("social_care_episodes", 2, "person_id", "E190"),
        ("employment_spells", 2, "person_id", "E190"),
    }
    cascade = result.findings.loc[result.findings["rule"] == "E190"]
    assert cascade["severity"].eq("error").all()
    assert cascade["message"].eq(RULES["E190"].message).all()
    clean = result.clean
    assert clean["families"]["family_id"].tolist() == ["F2", "F3"]
    assert clean["people"]["person_id"].tolist() == ["P3", "P4", "P5"]
    for name in EXTRACT_NAMES[2:]:
        assert clean[name].empty, name


@scenario
def person_quarantined(rows: Rows) -> None:
    rows["people"][1]["dob"] = "31/09/2012"  # P2 of F1: 31 September


def test_e190_quarantined_person_takes_its_events_not_its_family(batch: Batch) -> None:
    result = batch["person_quarantined"]
    assert direct(result.findings) == {("people", 3, "dob", "E103")}
    assert cascaded(result.findings) == {
        ("eligibility", 2, "person_id", "E190"),
        ("school_attendance", 2, "person_id", "E190"),
        ("exclusions", 2, "person_id", "E190"),
        ("social_care_episodes", 2, "person_id", "E190"),
    }
    assert result.clean["families"]["family_id"].tolist() == ["F1", "F2", "F3"]
    assert result.clean["people"]["person_id"].tolist() == ["P1", "P3", "P4", "P5"]
    assert result.clean["eligibility"]["problem"].tolist() == ["WORKLESSNESS"]
    assert len(result.clean["offences"]) == 1  # P1's


# --- run on their own: W205 and the counts --------------------------------------------------


def _validate_with_an_extra_people_column(folder: Path, rows: Rows) -> ValidationResult:
    """``rows`` written with a column no extract has ("Favourite Colour") in people, validated."""
    headers = dict(HEADERS)
    headers["people"] = [*HEADERS["people"], "Favourite Colour"]
    for person in rows["people"]:
        person["Favourite Colour"] = "teal"
    write_extracts(folder, rows, headers=headers)
    return validate_folder(folder)


def test_w205_extra_column_reported_once_and_dropped(tmp_path: Path) -> None:
    result = _validate_with_an_extra_people_column(tmp_path, fresh_rows())
    assert finding_tuples(result.findings) == {("people", None, "Favourite Colour", "W205")}
    finding = result.findings.iloc[0]
    assert finding["severity"] == "warning"
    assert not {"favourite colour", "Favourite Colour"} & set(result.clean["people"].columns)
    assert len(result.clean["people"]) == 5
    counts = result.counts.set_index("extract").loc["people"]
    assert (counts["quarantined"], counts["warned"]) == (0, 0)


def test_a_value_under_a_nameless_column_is_reported_by_position(tmp_path: Path) -> None:
    """A header cell left empty, with values under it, is an unknown column (W205) named by its
    position, never by a value; one that is empty throughout (a trailing comma on every line)
    is nothing to report."""
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").write_text(
        "person_id,,offence_date,\u200b,offence_category,\n"
        "P1,stray,2024-11-11,, ,\n"
        "P1,,2024-11-12,,THEFT,\n",
        encoding="utf-8",
    )
    result = validate_folder(tmp_path)
    assert finding_tuples(result.findings) == {("offences", None, "column 2 (no header)", "W205")}
    assert result.clean["offences"]["offence_date"].tolist() == [
        pd.Timestamp("2024-11-11"),
        pd.Timestamp("2024-11-12"),
    ]
    assert result.column_notes == (
        "'column 2 (no header)' in offences: not a contract column; ignored",
    )


def test_a_value_under_a_nameless_sheet_column_is_reported_by_position(tmp_path: Path) -> None:
    from openpyxl import Workbook

    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "offence_date", None, "offence_category"])
    sheet.append(["P1", "2024-11-11", "stray", "THEFT"])
    book.save(tmp_path / "offences.xlsx")
    result = validate_folder(tmp_path)
    assert finding_tuples(result.findings) == {("offences", None, "column 3 (no header)", "W205")}
    assert result.clean["offences"]["offence_category"].tolist() == ["THEFT"]


def test_nothing_vanishes_without_a_finding(tmp_path: Path) -> None:
    """Every row missing from the clean frames has an error finding, and vice versa; the
    counts and the quarantined share follow."""
    rows = fresh_rows()
    rows["families"][1]["status"] = "OPEN"  # F2: takes P3, P4
    rows["people"][0]["dob"] = "1/1/85"  # P1: takes its offences, ASB, DA, spells
    rows["exclusions"][0]["sessions"] = "x"
    rows["people"][4]["postcode"] = "nonsense"  # a warning only
    result = validate_rows(tmp_path, rows)
    errors = result.findings.loc[result.findings["severity"] == "error"]
    for name, source_rows in rows.items():
        read = {row_of(i) for i in range(len(source_rows))}
        kept = set(result.clean[name].index)
        flagged = set(errors.loc[errors["extract"] == name, "row"].astype(int))
        assert kept | flagged == read and not kept & flagged, name
    counts = result.counts.set_index("extract")
    assert counts.loc["people", ["rows_read", "quarantined", "warned"]].tolist() == [5, 3, 1]
    assert counts.loc["offences", "quarantined"] == 1
    assert result.people_quarantined_share == pytest.approx(3 / 5)


def test_a_row_with_several_findings_is_counted_once_and_each_is_reported(tmp_path: Path) -> None:
    """Worked by hand: P1 has a date of birth that cannot be read, a gender outside the codes and
    a postcode that is not one; P5 only the postcode. A failed parse hides no other column's
    finding; the counts are of rows (P1 once, as quarantined, not again as warned)."""
    rows = fresh_rows()
    rows["people"][0].update({"dob": "1/1/85", "gender": "Q", "postcode": "nonsense"})
    rows["people"][4]["postcode"] = "nonsense"
    result = validate_rows(tmp_path, rows)
    people = {f for f in direct(result.findings) if f[0] == "people"}
    postcode_rule = next(f[3] for f in people if f[1] == row_of(4))
    assert people == {
        ("people", row_of(0), "dob", "E104"),
        ("people", row_of(0), "gender", "E105"),
        ("people", row_of(0), "postcode", postcode_rule),
        ("people", row_of(4), "postcode", postcode_rule),
    }
    assert RULES[postcode_rule].severity == Severity.WARNING
    counts = result.counts.set_index("extract").loc["people"]
    assert counts[["rows_read", "quarantined", "warned"]].tolist() == [5, 1, 1]


def test_a_finding_with_no_row_comes_first_in_its_extract(tmp_path: Path) -> None:
    # The report lists an unknown column (W205, no row) above the rows of its extract.
    rows = fresh_rows()
    rows["people"][2]["gender"] = "Q"
    findings = _validate_with_an_extra_people_column(tmp_path, rows).findings
    people = findings.loc[findings["extract"] == "people", ["row", "rule"]]
    assert people["rule"].tolist() == ["W205", "E105"]
    assert pd.isna(people["row"].iloc[0]) and people["row"].iloc[1] == row_of(2)


def test_no_rule_lists_a_target_twice() -> None:
    # So a rule finds a row at most once per column (the findings' de-duplication is a guard).
    for rule in RULES.values():
        targets = [(t.extract, t.column) for t in rule.targets]
        assert len(targets) == len(set(targets)), rule.code


def test_a_row_whose_only_value_is_past_the_header_is_reported_not_dropped(
    tmp_path: Path,
) -> None:
    # Its fields under the header are all empty, so it looks like a blank line; but it holds a
    # value: a record with more fields than the header (E119), never one that vanishes.
    write_extracts(tmp_path)
    lines = ["P1,F1,MAIN_CARER,F", ",,,,F9", "P3,F1,CHILD,F"]
    text = "person_id,family_id,role,gender\n" + "\n".join(lines) + "\n"
    (tmp_path / "people.csv").write_text(text, encoding="utf-8")
    raw = read_extract(_settings(tmp_path).extract_source(), "people")
    assert raw.extra_field_rows == (3,)
    assert raw.rows == 3
    result = validate(read_extracts(_settings(tmp_path).extract_source()), EXTRACT_DATE)
    people = result.findings.loc[result.findings["extract"] == "people"]
    assert people.loc[people["row"] == 3, "rule"].tolist() == ["E119"]
    assert 3 not in result.clean["people"].index


def test_a_column_given_twice_keeps_the_first_header_for_the_notes() -> None:
    match = match_headers("people", ["person_id", "family_id", " Person_ID ", "role"])
    assert match.repeated == ("person_id",)
    assert match.found["person_id"] == "person_id"


def test_invisible_characters_at_a_headers_ends_are_ignored_as_in_cells(tmp_path: Path) -> None:
    """A zero-width space or a no-break space pasted with a header is stripped, as it is from
    a cell: the header names its column, and the values under it are read."""
    match = match_headers("families", ["\u200bFamily_Id", "la_code\u00a0", "\ufeffstatus"])
    assert match.found == {
        "family_id": "\u200bFamily_Id",
        "la_code": "la_code",  # (Python strips a no-break space itself)
        "status": "\ufeffstatus",
    }
    write_extracts(tmp_path)
    families = tmp_path / "families.csv"
    text = families.read_text(encoding="utf-8")
    families.write_text("\u200b" + text.replace(",status,", ",status\u2060,", 1), encoding="utf-8")
    result = validate_folder(tmp_path)
    assert result.findings.empty
    assert result.clean["families"]["family_id"].tolist() == ["F1", "F2", "F3"]
    assert result.clean["families"]["status"].tolist() == ["ATTACHED", "IDENTIFIED", "CLOSED"]
