"""Readers: CSV encodings, xlsx with Excel date cells, parquet with date32 columns, SQLite through
SQLAlchemy (tables and queries), the TOML config and its column map, extra columns and blank
lines.

The strongest check is differential: the same hand-made extracts written as CSV, xlsx, parquet
or SQL tables must give identical clean frames.
"""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from extract_builders import HEADERS, VALID_ROWS, fresh_rows, write_extracts
from foundation_support import (
    EXTRACT_DATE,
    direct,
    finding_tuples,
    validate_folder,
    validate_rows,
)
from openpyxl import Workbook

from extracts.reader import read_extract, read_extracts
from flows.settings import ConfigError, load_settings
from schemas.models import EXTRACT_NAMES, MODELS
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult, validate

NAMES = {"Siân", "Zoë", "O'Brien", "José", "Renée"}


def _kind(name: str, column: str) -> str:
    spec = MODELS[name].to_schema().columns[column]
    return str((spec.metadata or {}).get("kind", "text"))


def _typed(name: str, column: str, text: str) -> object:
    """A cell as a typed source holds it: a real date, a whole number, text, or nothing."""
    if text == "":
        return None
    kind = _kind(name, column)
    if kind == "date":
        fmt = "%d/%m/%Y" if "/" in text else "%Y-%m-%d"
        return dt.datetime.strptime(text, fmt).date()
    if kind in ("int", "flag"):
        return int(text)
    return text


def _typed_frame(name: str, rows: list[dict[str, str]]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        c: [_typed(name, c, r[c]) for r in rows] for c in HEADERS[name]
    }
    return pd.DataFrame(data, columns=HEADERS[name])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> ValidationResult:
    """The hand-made extracts read from plain UTF-8 CSV."""
    return validate_rows(tmp_path_factory.mktemp("csv"))


def _assert_same_clean(result: ValidationResult, baseline: ValidationResult) -> None:
    assert result.findings.empty, result.findings[["extract", "row", "column", "rule"]]
    for name in EXTRACT_NAMES:
        pd.testing.assert_frame_equal(result.clean[name], baseline.clean[name], obj=name)


# --- CSV encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_keep_names_intact(
    tmp_path: Path, encoding: str, baseline: ValidationResult
) -> None:
    write_extracts(tmp_path, encoding=encoding)
    if encoding == "utf-8-sig":
        assert (tmp_path / "people.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    result = validate_folder(tmp_path)
    _assert_same_clean(result, baseline)
    people = result.clean["people"]
    assert set(people["forename"]) | set(people["surname"]) >= NAMES
    assert people.loc[2, "forename"] == "Siân" and people.loc[3, "forename"] == "Zoë"


def test_cp1252_punctuation_and_bom_header(tmp_path: Path) -> None:
    rows = fresh_rows()
    rows["people"][0]["surname"] = "O\u2019Brien-Dün"  # a curly apostrophe is 0x92 in cp1252
    write_extracts(tmp_path, rows, encoding="cp1252")
    assert b"O\x92Brien-D\xfcn" in (tmp_path / "people.csv").read_bytes()
    result = validate_folder(tmp_path)
    assert result.clean["people"].loc[2, "surname"] == "O\u2019Brien-Dün"


def test_bom_does_not_hide_the_first_column(tmp_path: Path) -> None:
    write_extracts(tmp_path, encoding="utf-8-sig")
    raw = read_extract(load_settings(None, source_path=tmp_path).extract_source(), "families")
    assert list(raw.frame.columns)[0] == "family_id"
    assert raw.extra_columns == ()


def test_crlf_line_ends(tmp_path: Path, baseline: ValidationResult) -> None:
    write_extracts(tmp_path)
    for path in tmp_path.glob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    _assert_same_clean(validate_folder(tmp_path), baseline)


# --- blank lines ----------------------------------------------------------------------------


def test_blank_lines_make_no_rows_and_keep_line_numbers(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").write_text(
        "person_id,offence_date,offence_category\n"
        "P1,2024-11-11,THEFT\n"  # line 2
        "\n"
        "   \n"
        ",,\n"
        "P1,31/02/2024,THEFT\n"  # line 6: an impossible date
        "P3,2024-11-12,\n"  # line 7
        "\n\n , ,\n\n",
        encoding="utf-8",
    )
    result = validate_folder(tmp_path)
    assert result.counts.set_index("extract").loc["offences", "rows_read"] == 3
    assert direct(result.findings) == {("offences", 6, "offence_date", "E103")}
    assert result.clean["offences"].index.tolist() == [2, 7]


def test_blank_rows_of_an_xlsx_make_no_rows(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "offence_date", "offence_category"])
    sheet.append(["P1", dt.date(2024, 11, 11), "THEFT"])  # row 2
    sheet.append([None, None, None])
    sheet.append(["P1", "2024-02-30", None])  # row 4: not a date
    sheet.cell(row=30, column=2).number_format = "dd/mm/yyyy"  # formatted, empty
    book.save(tmp_path / "offences.xlsx")
    result = validate_folder(tmp_path)
    assert result.counts.set_index("extract").loc["offences", "rows_read"] == 2
    assert direct(result.findings) == {("offences", 4, "offence_date", "E103")}


# --- xlsx -----------------------------------------------------------------------------------


def _write_xlsx(path: Path, name: str, rows: list[dict[str, str]]) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = name[:31]
    sheet.append(HEADERS[name])
    for row in rows:
        sheet.append([_typed(name, c, row[c]) for c in HEADERS[name]])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, dt.date):
                cell.number_format = "dd/mm/yyyy"  # how a UK user's Excel shows a date cell
    # Only the first sheet is read.
    notes = book.create_sheet("Notes")
    notes.append(["person_id", "comment"])
    notes.append(["P1", "not part of the extract"])
    book.save(path)


def test_xlsx_with_excel_date_and_number_cells(tmp_path: Path, baseline: ValidationResult) -> None:
    rows = fresh_rows()
    for name in EXTRACT_NAMES:
        _write_xlsx(tmp_path / f"{name}.xlsx", name, rows[name])
    raw = read_extract(load_settings(None, source_path=tmp_path).extract_source(), "families")
    assert raw.source == "families.xlsx"
    assert raw.frame.loc[3, "date_identified"] == "2024-03-15"  # a date cell, not 15/03/2024
    _assert_same_clean(validate_folder(tmp_path), baseline)


def test_xlsx_numeric_ids_and_datetime_cells(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "people.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "family_id", "role", "dob", "gender", "nhs_number", "upn"])
    # Excel stores every number as a float; a datetime cell at midnight is a date.
    sheet.append([1001.0, "F1", "MAIN_CARER", dt.datetime(1985, 5, 20), "F", 9434765870, None])
    sheet.append([1002, "F1", "CHILD", dt.datetime(2012, 9, 12, 0, 0), "M", None, "B801200005001"])
    book.save(tmp_path / "people.xlsx")
    result = validate_folder(tmp_path)
    people = result.clean["people"]
    assert people["person_id"].tolist() == ["1001", "1002"]
    assert people["dob"].tolist() == [pd.Timestamp("1985-05-20"), pd.Timestamp("2012-09-12")]
    assert people["nhs_number"].tolist()[0] == "9434765870"
    # The events of P1..P5 no longer resolve: that is the point of E108, not of this test.
    assert set(result.findings["rule"]) <= {"E107", "E108", "E190"}


def _declare_dimension(path: Path, ref: str) -> None:
    """Rewrite the size the first sheet declares, as some exporters get it wrong."""
    import re
    import zipfile

    data = path.read_bytes()
    with zipfile.ZipFile(path) as zin:
        items = [(item, zin.read(item.filename)) for item in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for item, content in items:
            if item.filename == "xl/worksheets/sheet1.xml":
                content, n = re.subn(
                    rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>'.encode(), content
                )
                assert n == 1
            zout.writestr(item, content)
    assert path.read_bytes() != data


def test_xlsx_with_a_wrongly_declared_size_loses_no_rows(
    tmp_path: Path, baseline: ValidationResult
) -> None:
    rows = fresh_rows()
    for name in EXTRACT_NAMES:
        _write_xlsx(tmp_path / f"{name}.xlsx", name, rows[name])
    _declare_dimension(tmp_path / "people.xlsx", "A1:C3")  # 3 columns, 2 data rows of 5
    _declare_dimension(tmp_path / "families.xlsx", "A1")
    _assert_same_clean(validate_folder(tmp_path), baseline)


def test_xlsx_datetime_cell_keeps_its_day(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "offence_date"])
    sheet.append(["P1", dt.datetime(2024, 11, 11, 14, 30)])
    book.save(tmp_path / "offences.xlsx")
    result = validate_folder(tmp_path)
    # An event time of day is harmless: the date is the day the event happened.
    assert result.clean["offences"]["offence_date"].tolist() == [pd.Timestamp("2024-11-11")]


# --- parquet --------------------------------------------------------------------------------


def _arrow_type(name: str, column: str) -> pa.DataType:
    kind = _kind(name, column)
    return {"date": pa.date32(), "int": pa.int64(), "flag": pa.int64()}.get(kind, pa.string())


def _write_parquet(path: Path, name: str, rows: list[dict[str, str]]) -> None:
    schema = pa.schema([(c, _arrow_type(name, c)) for c in HEADERS[name]])
    columns = {c: [_typed(name, c, r[c]) for r in rows] for c in HEADERS[name]}
    pq.write_table(pa.table(columns, schema=schema), path)


def test_parquet_with_date32_and_nullable_int_columns(
    tmp_path: Path, baseline: ValidationResult
) -> None:
    rows = fresh_rows()
    for name in EXTRACT_NAMES:
        _write_parquet(tmp_path / f"{name}.parquet", name, rows[name])
    schema = pq.read_schema(tmp_path / "people.parquet")
    assert schema.field("dob").type == pa.date32()
    assert schema.field("nis_opt_out").type == pa.int64()  # with a null in it
    raw = read_extracts(load_settings(None, source_path=tmp_path).extract_source())
    assert raw["people"].frame.index.tolist() == [2, 3, 4, 5, 6]
    opt_out = raw["people"].frame["nis_opt_out"]
    assert opt_out.isna().tolist() == [False, True, False, False, False]
    assert opt_out[2] == "0"  # not "0.0": an int column with a null is float in pandas
    _assert_same_clean(validate(raw, EXTRACT_DATE), baseline)


def test_mixed_formats_in_one_folder(tmp_path: Path, baseline: ValidationResult) -> None:
    rows = fresh_rows()
    write_extracts(tmp_path, rows, encoding="cp1252")
    (tmp_path / "people.csv").unlink()
    (tmp_path / "school_attendance.csv").unlink()
    _write_xlsx(tmp_path / "people.xlsx", "people", rows["people"])
    _write_parquet(
        tmp_path / "school_attendance.parquet", "school_attendance", rows["school_attendance"]
    )
    _assert_same_clean(validate_folder(tmp_path), baseline)


# --- SQL ------------------------------------------------------------------------------------


def _sqlite(path: Path, tables: dict[str, str] | None = None) -> str:
    """A SQLite database with one typed table per extract (renamed per ``tables``)."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    rows = fresh_rows()
    with engine.begin() as connection:
        for name in EXTRACT_NAMES:
            frame = _typed_frame(name, rows[name])
            for column in frame.columns:
                if _kind(name, column) == "date":
                    frame[column] = pd.to_datetime(frame[column])
                elif _kind(name, column) == "int":
                    frame[column] = frame[column].astype("Int64")
            frame.to_sql((tables or {}).get(name, name), connection, index=False)
    engine.dispose()
    return url


def test_sqlite_table_per_extract(tmp_path: Path, baseline: ValidationResult) -> None:
    url = _sqlite(tmp_path / "cases.db", tables={"people": "eh_people_extract"})
    settings = load_settings(
        None,
        source={"url": url, "tables": {"people": "eh_people_extract"}},
        extract_date=EXTRACT_DATE,
    )
    raw = read_extracts(settings.extract_source())
    assert raw["people"].source == "table eh_people_extract"
    assert raw["families"].frame.index.tolist() == [2, 3, 4]
    assert len(raw["people"].sha256) == 64
    _assert_same_clean(validate(raw, EXTRACT_DATE), baseline)


def test_sqlite_query_with_local_column_names(tmp_path: Path, baseline: ValidationResult) -> None:
    url = _sqlite(tmp_path / "cases.db", tables={"offences": "yot_offences"})
    with sa.create_engine(url).begin() as connection:
        connection.execute(
            sa.text("ALTER TABLE yot_offences RENAME COLUMN person_id TO person_ref")
        )
    config = tmp_path / "nis.toml"
    config.write_text(
        f"extract_date = {EXTRACT_DATE.isoformat()}\n"
        "[source]\n"
        f'url = "{url}"\n'
        "[source.queries]\n"
        'offences = "SELECT person_ref AS person_id, offence_date, offence_category '
        'FROM yot_offences ORDER BY offence_date"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    raw = read_extracts(settings.extract_source())
    assert raw["offences"].source == "query for offences"
    _assert_same_clean(validate(raw, settings.resolved_extract_date()), baseline)


def test_sqlite_query_renamed_by_the_column_map(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "cases.db")
    settings = load_settings(
        None,
        source={
            "url": url,
            "queries": {
                "offences": 'SELECT person_id AS "Client Ref", '
                'offence_date AS "Date Of Offence" FROM offences'
            },
        },
        column_map={"offences": {"client ref": "person_id", "DATE OF OFFENCE": "offence_date"}},
    )
    frame = read_extract(settings.extract_source(), "offences").frame
    assert list(frame.columns) == ["person_id", "offence_date"]
    assert frame.index.tolist() == [2]
    assert frame.loc[2, "person_id"] == "P1"
    # SQLite keeps a timestamp as text; the date parser reads its first ten characters.
    assert frame.loc[2, "offence_date"].startswith("2024-11-11")


def test_sqlite_missing_table_is_fatal_and_named(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "cases.db")
    settings = load_settings(None, source={"url": url, "tables": {"offences": "yot_offences"}})
    with pytest.raises(FatalInputError) as caught:
        read_extracts(settings.extract_source())
    assert caught.value.rule.code == "F001"
    assert "yot_offences" in str(caught.value)


def test_sqlite_broken_query_is_fatal_and_named(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "cases.db")
    settings = load_settings(
        None, source={"url": url, "queries": {"offences": "SELECT nothing FROM nowhere"}}
    )
    with pytest.raises(FatalInputError) as caught:
        read_extract(settings.extract_source(), "offences")
    assert caught.value.rule.code == "F002"
    assert str(caught.value).startswith("[F002] query for offences: ")
    assert "nowhere" not in str(caught.value)  # driver text can quote SQL literals


def test_sqlite_query_missing_a_required_column(tmp_path: Path) -> None:
    url = _sqlite(tmp_path / "cases.db")
    settings = load_settings(
        None, source={"url": url, "queries": {"offences": "SELECT person_id FROM offences"}}
    )
    with pytest.raises(FatalInputError) as caught:
        read_extract(settings.extract_source(), "offences")
    assert caught.value.rule.code == "F003"
    assert caught.value.detail == "offence_date"


# --- config ---------------------------------------------------------------------------------


def test_toml_config_with_column_map(tmp_path: Path, baseline: ValidationResult) -> None:
    headers = dict(HEADERS)
    local = {"person_id": "Person Ref", "family_id": "Family Ref", "dob": "DOB", "role": " ROLE "}
    headers["people"] = [local.get(h, h.upper()) for h in HEADERS["people"]]
    headers["families"] = ["Family Ref", *[h.title() for h in HEADERS["families"][1:]]]
    rows = fresh_rows()
    for person in rows["people"]:
        for contract, mine in local.items():
            person[mine] = person[contract]
        for h in HEADERS["people"]:
            person[h.upper()] = person[h]
    for family in rows["families"]:
        family["Family Ref"] = family["family_id"]
        for h in HEADERS["families"][1:]:
            family[h.title()] = family[h]
    write_extracts(tmp_path / "case_extracts", rows, headers=headers)
    assert (
        (tmp_path / "case_extracts" / "people.csv")
        .read_text()
        .startswith("Person Ref,Family Ref, ROLE ,FORENAME,")
    )
    config = tmp_path / "config" / "nis.toml"
    config.parent.mkdir()
    config.write_text(
        'la_code = "E08000012"\n'
        "quarantine_threshold = 0.1\n"
        'output_dir = "../out"\n'
        f"extract_date = {EXTRACT_DATE.isoformat()}\n"
        "[source]\n"
        'path = "../case_extracts"\n'
        "[column_map.people]\n"
        '"person ref" = "person_id"\n'
        '"FAMILY REF" = "Family_ID "\n'  # the contract side is matched like a header too
        '"DOB" = "dob"\n'
        "[column_map.families]\n"
        '"  Family Ref" = "family_id"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.la_code == "E08000012"
    assert settings.quarantine_threshold == 0.1
    assert settings.output_dir == (tmp_path / "out").resolve()
    assert Path(settings.source.path or "") == (tmp_path / "case_extracts").resolve()
    raw = read_extracts(settings.extract_source())
    assert raw["people"].extra_columns == ()
    _assert_same_clean(validate(raw, settings.resolved_extract_date()), baseline)


def test_cli_source_overrides_the_config_path(tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text('[source]\npath = "elsewhere"\n', encoding="utf-8")
    settings = load_settings(config, source_path=tmp_path / "here")
    assert Path(settings.source.path or "") == tmp_path / "here"


@pytest.mark.parametrize(
    "text",
    [
        "quarantine_threshold = 2\n",
        "la_code = [\n",
        "colour = 'teal'\n",
        "[column_map.persons]\n'a' = 'b'\n",
        '[source]\npath = "x"\nurl = "sqlite://"\n',
    ],
    ids=["threshold-over-1", "bad-toml", "unknown-key", "unknown-extract", "path-and-url"],
)
def test_bad_config_is_a_config_error_naming_the_file(tmp_path: Path, text: str) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert str(config) in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nis.toml")


# --- extra columns --------------------------------------------------------------------------


def test_extra_columns_are_dropped_and_reported_once_each(tmp_path: Path) -> None:
    headers = dict(HEADERS)
    headers["people"] = [*HEADERS["people"], "Notes", "Mother's maiden name"]
    headers["offences"] = ["Officer", *HEADERS["offences"]]
    rows = fresh_rows()
    for person in rows["people"]:
        person["Notes"] = "met at school gate"
        person["Mother's maiden name"] = "Jones"
    rows["offences"][0]["Officer"] = "PC 123"
    write_extracts(tmp_path, rows, headers=headers)
    raw = read_extracts(load_settings(None, source_path=tmp_path).extract_source())
    # As written, in file order: the analyst recognises them and can copy them into a column map.
    assert raw["people"].extra_columns == ("Notes", "Mother's maiden name")
    assert list(raw["people"].frame.columns) == HEADERS["people"]
    result = validate(raw, EXTRACT_DATE)
    assert finding_tuples(result.findings) == {
        ("people", None, "Mother's maiden name", "W205"),
        ("people", None, "Notes", "W205"),
        ("offences", None, "Officer", "W205"),
    }
    for name in EXTRACT_NAMES:
        assert set(result.clean[name].columns) == set(MODELS[name].to_schema().columns)
    values = {str(v) for frame in result.clean.values() for v in frame.to_numpy().ravel()}
    assert not values & {"met at school gate", "Jones", "PC 123"}


def test_header_spelling_is_trimmed_and_case_folded(tmp_path: Path) -> None:
    headers = dict(HEADERS)
    headers["offences"] = [" Person_ID", "OFFENCE_DATE  ", "Offence_Category"]
    rows = fresh_rows()
    rows["offences"] = [
        {" Person_ID": "P1", "OFFENCE_DATE  ": "2024-11-11", "Offence_Category": "THEFT"}
    ]
    write_extracts(tmp_path, rows, headers=headers)
    raw = read_extract(load_settings(None, source_path=tmp_path).extract_source(), "offences")
    assert raw.frame.to_dict("index") == {
        2: {"person_id": "P1", "offence_date": "2024-11-11", "offence_category": "THEFT"}
    }


def test_file_names_match_ignoring_case(tmp_path: Path) -> None:
    write_extracts(tmp_path)
    (tmp_path / "offences.csv").rename(tmp_path / "Offences.CSV")
    raw = read_extract(load_settings(None, source_path=tmp_path).extract_source(), "offences")
    assert raw.source == "Offences.CSV"
    assert raw.rows == len(VALID_ROWS["offences"])


def test_parquet_whole_decimals_read_as_whole_numbers(
    tmp_path: Path, baseline: ValidationResult
) -> None:
    """Sessions kept as DECIMAL(6,1) read as 13.0, which the whole-number check refused (E109),
    so every attendance row was quarantined; a decimal's scale is not part of its value."""
    rows = fresh_rows()
    for name in EXTRACT_NAMES:
        _write_parquet(tmp_path / f"{name}.parquet", name, rows[name])
    path = tmp_path / "school_attendance.parquet"
    table = pq.read_table(path)
    sessions = [c for c in table.column_names if c.endswith("sessions")]
    for column in sessions:
        position = table.column_names.index(column)
        tenths = [
            None if v is None else Decimal(v).quantize(Decimal("0.1"))
            for v in table[column].to_pylist()
        ]
        as_decimal = pa.array(tenths, pa.decimal128(6, 1))
        table = table.set_column(position, column, as_decimal)
    pq.write_table(table, path)
    assert pq.read_schema(path).field(sessions[0]).type == pa.decimal128(6, 1)

    raw = read_extracts(load_settings(None, source_path=tmp_path).extract_source())
    frame = raw["school_attendance"].frame
    expected = [None if v is None else str(int(v)) for v in table[sessions[0]].to_pylist()]
    assert [None if pd.isna(v) else v for v in frame[sessions[0]]] == expected
    assert all("." not in v for column in sessions for v in frame[column].dropna())
    _assert_same_clean(validate(raw, EXTRACT_DATE), baseline)


def test_a_date_cell_out_of_excel_range_is_not_quoted_by_a_warning(tmp_path: Path) -> None:
    """openpyxl warns about such a cell quoting its serial value, which would reach the terminal;
    the cell is a finding (E103) by row and column, and no warning says the value."""
    write_extracts(tmp_path)
    (tmp_path / "people.csv").unlink()
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "family_id", "role", "dob", "gender"])
    sheet.append(["P1", "F1", "MAIN_CARER", 28473619, "F"])
    sheet.cell(row=2, column=4).number_format = "dd/mm/yyyy"
    book.save(tmp_path / "people.xlsx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = validate_folder(tmp_path)
    assert [str(w.message) for w in caught if "28473619" in str(w.message)] == []
    assert ("people", 2, "dob", "E103") in direct(result.findings)
