"""No personal value (name, date of birth, NINO, UPN, NHS number, postcode) may reach anything
printed, logged or warned, a fatal error line, or the validation report, however bad the data.

The extracts below are full of invalid identifiers and dates; each value is distinctive, so
finding it anywhere (as written, or normalised) is a leak and not a coincidence.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from extract_builders import HEADERS, fresh_rows, write_extracts
from foundation_support import EXTRACT_DATE
from openpyxl import load_workbook
from typer.testing import CliRunner

from extracts.reader import read_extract, read_extracts
from flows.settings import load_settings
from flows.summary import validation_summary
from nis_pipeline.cli import app
from schemas.rules import FatalInputError
from schemas.validation import validate

REPO = Path(__file__).resolve().parents[1]

# (column, value) of each bad person; every value is personal and must never be shown.
BAD_PEOPLE: list[dict[str, str]] = [
    {"forename": "Ólafsdóttir", "nino": "QQ 99 88 77 X", "upn": "K999888777666"},
    {"forename": "Featherstonehaugh", "nino": "zz112233a", "postcode": "XX9 9XX"},
    {"surname": "Cholmondeley", "nino": "AB12345", "nhs_number": "4010232138"},
    {"surname": "Wrigglesworth", "upn": "T12345678901Z", "postcode": "qq1 1qq"},
    {"surname": "Higginbottom", "nhs_number": "12345678", "dob": "31/02/1987"},
    {"forename": "Ptolemaeus", "dob": "05/06/87", "postcode": "LL 99 ZZZ"},
    {"forename": "Quenby", "dob": "2099-01-01", "nino": "TN 31 41 59 D"},
    {"forename": "Rosamund", "dob": "1890-12-25", "upn": "a80120000500 1"},
    {"forename": "Evangelina", "dob": "1971-07-19", "nhs_number": "999 888 7776"},
]
# Valid but still personal: kept in the clean frames, never in a message or the report.
VALID_PERSONAL = [
    "Siân",
    "Zoë",
    "O'Brien",
    "José",
    "Renée",
    "AB123456C",
    "CE654321A",
    "B801200005001",
    "9434765870",
    "L18 1AB",
    "1985-05-20",
    "12/09/2012",
]
EXTRA_COLUMN_VALUE = "Smythe-Fortescue"


def _personal_values() -> list[str]:
    values = [v for person in BAD_PEOPLE for v in person.values()]
    return [*values, *VALID_PERSONAL, EXTRA_COLUMN_VALUE]


def _variants(value: str) -> set[str]:
    compact = re.sub(r"\s+", "", value).upper()
    return {value.upper(), compact}


def assert_no_personal_values(text: str, where: str) -> None:
    upper = text.upper()
    compact = re.sub(r"\s+", "", upper)
    for value in _personal_values():
        for variant in _variants(value):
            assert variant not in upper, f"{where} shows a personal value"
            if len(variant) >= 6:
                assert variant not in compact, f"{where} shows a personal value"


def _bad_extracts(folder: Path) -> Path:
    rows = fresh_rows()
    template = {column: "" for column in HEADERS["people"]}
    for i, bad in enumerate(BAD_PEOPLE):
        person = {
            **template,
            "person_id": f"PX{i}",
            "family_id": "F1",
            "role": "OTHER_ADULT",
            "gender": "U",
            "dob": "1980-01-01",
            "nis_opt_out": "0",
        }
        rows["people"].append({**person, **bad})
    headers = dict(HEADERS)
    headers["people"] = [*HEADERS["people"], "Mother's Maiden Name"]
    for person in rows["people"]:
        person["Mother's Maiden Name"] = EXTRA_COLUMN_VALUE
    return write_extracts(folder, rows, headers=headers)


def _report_text(path: Path) -> str:
    book = load_workbook(path, read_only=True)
    try:
        cells = [
            str(value)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        ]
        names = [sheet.title for sheet in book.worksheets]
    finally:
        book.close()
    return "\n".join(names + cells)


def test_the_bad_data_is_really_bad(tmp_path: Path) -> None:
    # Guard against a silent fixture: each bad person draws at least one finding.
    source = _bad_extracts(tmp_path)
    result = validate(
        read_extracts(load_settings(None, source_path=source).extract_source()), EXTRACT_DATE
    )
    flagged = set(result.findings.loc[result.findings["extract"] == "people", "person_id"])
    assert {f"PX{i}" for i in range(len(BAD_PEOPLE))} <= flagged
    assert {"W201", "W202", "W203", "W204", "W205", "E103", "E104", "E122", "E123"} <= set(
        result.findings["rule"]
    )


def test_nothing_personal_printed_logged_or_warned_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    source = _bad_extracts(tmp_path / "in")
    report = tmp_path / "validation_report.xlsx"
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(None, source_path=source, extract_date=EXTRACT_DATE)
        result = validate(read_extracts(settings.extract_source()), EXTRACT_DATE)
        for line in validation_summary(result, settings.quarantine_threshold):
            print(line)
        code = app(
            ["validate", "--source", str(source), "--report", str(report)], standalone_mode=False
        )
    assert code == 1  # well over 5% of people quarantined
    out, err = capsys.readouterr()
    assert "people quarantined" in out
    assert_no_personal_values(out, "stdout")
    assert_no_personal_values(err, "stderr")
    assert_no_personal_values(caplog.text, "the log")
    assert_no_personal_values("\n".join(str(w.message) for w in caught), "a warning")
    assert_no_personal_values(_report_text(report), "the validation report")
    # The findings frame itself carries no value either (it is what the report is made of).
    assert_no_personal_values(result.findings.to_csv(), "the findings")


def test_nothing_personal_from_the_cli_in_a_subprocess(tmp_path: Path) -> None:
    source = _bad_extracts(tmp_path / "in")
    report = tmp_path / "out" / "validation_report.xlsx"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nis_pipeline.cli",
            "validate",
            "--source",
            str(source),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert_no_personal_values(done.stdout, "stdout")
    assert_no_personal_values(done.stderr, "stderr")
    assert_no_personal_values(_report_text(report), "the validation report")


@pytest.mark.parametrize(
    "content",
    [
        # A quote left open: the parser reads on to the end of the file.
        b'person_id,family_id,role,gender,nino\nP1,F1,CHILD,F,"QQ 99 88 77 X\nP2,F1,CHILD,F,x\n',
        # UTF-8 and Windows-1252 in one file.
        "person_id,family_id,role,gender,surname\nP1,F1,CHILD,F,Zoë\n".encode()
        + "P2,F1,CHILD,F,Cholmondeléy\n".encode("cp1252"),
    ],
    ids=["open-quote", "mixed-encodings"],
)
def test_fatal_errors_name_the_file_not_the_values(tmp_path: Path, content: bytes) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").write_bytes(content)
    with pytest.raises(FatalInputError) as caught:
        read_extract(load_settings(None, source_path=source).extract_source(), "people")
    assert "people.csv" in str(caught.value)
    assert_no_personal_values(str(caught.value), "the fatal error")

    result = CliRunner().invoke(
        app, ["validate", "--source", str(source), "--report", str(tmp_path / "r.xlsx")]
    )
    assert result.exit_code == 2
    assert "people.csv" in result.stderr
    assert_no_personal_values(result.output, "the CLI")


@pytest.mark.parametrize(
    "content",
    [
        "person_id,family_id,role,gender\nP1,F1,CHILD,F,Featherstonehaugh\n",
        "person_id,family_id,role,gender\nP0,F1,CHILD,F\nP1,F1,CHILD,F,Cholmondeley,x\n",
    ],
    ids=["extra-field-first-row", "extra-field-later-row"],
)
def test_row_with_extra_fields_is_reported_without_its_values(tmp_path: Path, content: str) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").write_text(content, encoding="utf-8")
    report = tmp_path / "r.xlsx"
    result = CliRunner().invoke(app, ["validate", "--source", str(source), "--report", str(report)])
    assert result.exit_code == 1  # every people row of this tiny extract is quarantined
    assert "E119" in _report_text(report)
    assert_no_personal_values(result.output, "the CLI")
    assert_no_personal_values(_report_text(report), "the validation report")


def test_sql_errors_do_not_echo_the_query(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.text("CREATE TABLE people (person_id TEXT, nino TEXT)"))
    query = "SELECT * FROM people WHERE nino = 'QQ998877X' AND surname = 'Cholmondeley'"
    settings = load_settings(None, source={"url": url, "queries": {"people": query}})
    with pytest.raises(FatalInputError) as caught:
        read_extract(settings.extract_source(), "people")
    assert "query for people" in str(caught.value)
    assert_no_personal_values(str(caught.value), "the SQL error")
    assert "QQ998877X" not in str(caught.value)
