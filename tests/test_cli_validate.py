"""``nis validate``: exit 0 when a run may proceed, 1 over the quarantine threshold, 2 on a fatal
problem with one line naming the file and what is wrong, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from extract_builders import HEADERS, fresh_rows, write_extracts
from openpyxl import load_workbook
from typer.testing import CliRunner

from nis_pipeline.cli import app
from schemas.models import EXTRACT_NAMES
from schemas.rules import FINDING_COLUMNS

REPO = Path(__file__).resolve().parents[1]


def _invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["validate", *[str(a) for a in args]])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _report_sheets(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = load_workbook(path, read_only=True)
    try:
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    finally:
        book.close()


def _one_quarantined_person(folder: Path) -> Path:
    """1 of the 5 people is quarantined (20%), plus a warning."""
    rows = fresh_rows()
    rows["people"][2]["gender"] = "Q"  # P3: E105
    rows["people"][0]["nino"] = "AB123456E"  # P1: W201
    return write_extracts(folder, rows)


def _config(path: Path, threshold: float) -> Path:
    path.write_text(f"quarantine_threshold = {threshold}\n", encoding="utf-8")
    return path


# --- exit 0 ---------------------------------------------------------------------------------


def test_valid_extracts_exit_0_with_summary_and_report(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    report = tmp_path / "reports" / "validation_report.xlsx"
    code, out, err = _invoke("--source", source, "--report", report)
    assert (code, err) == (0, "")
    for name in EXTRACT_NAMES:
        assert f"{name} " in out
    assert "people quarantined: 0.0% (threshold 5.0%)" in out
    assert f"validation report: {report}" in out
    sheets = _report_sheets(report)
    assert {"Summary", "Findings"} <= set(sheets)
    assert list(sheets["Findings"][0]) == FINDING_COLUMNS
    assert len(sheets["Findings"]) == 1  # the header only


def test_summary_counts_and_top_rules(tmp_path: Path) -> None:
    source = _one_quarantined_person(tmp_path / "in")
    report = tmp_path / "validation_report.xlsx"
    code, out, _ = _invoke(
        "--source", source, "--report", report, "--config", _config(tmp_path / "c.toml", 0.25)
    )
    assert code == 0
    people_line = next(line for line in out.splitlines() if line.startswith("people "))
    assert people_line.split()[-3:] == ["5", "1", "1"]  # read, quarantined, warned
    assert "people quarantined: 20.0% (threshold 25.0%)" in out
    assert "top rules:" in out
    assert "E105" in out and "W201" in out
    findings = _report_sheets(report)["Findings"]
    header, body = findings[0], findings[1:]
    rows = [dict(zip(header, r, strict=True)) for r in body]
    assert sorted((r["extract"], r["row"], r["column"], r["rule"]) for r in rows) == [
        ("people", 2, "nino", "W201"),
        ("people", 4, "gender", "E105"),
    ]


def test_default_report_path_is_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_extracts(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    code, out, _ = _invoke("--source", source)
    assert code == 0
    assert (tmp_path / "validation_report.xlsx").is_file()
    assert "validation report: validation_report.xlsx" in out


# --- exit 1 ---------------------------------------------------------------------------------


def test_quarantine_over_threshold_exits_1_after_writing_the_report(tmp_path: Path) -> None:
    source = _one_quarantined_person(tmp_path / "in")
    report = tmp_path / "validation_report.xlsx"
    config = _config(tmp_path / "nis.toml", 0.1)
    code, out, err = _invoke("--source", source, "--config", config, "--report", report)
    assert code == 1
    assert "Traceback" not in out + err
    assert "people quarantined: 20.0% (threshold 10.0%) - EXCEEDED" in out
    assert report.is_file()


@pytest.mark.parametrize(("threshold", "expected"), [(0.2, 0), (0.19, 1)])
def test_threshold_is_a_share_that_may_be_reached_not_exceeded(
    tmp_path: Path, threshold: float, expected: int
) -> None:
    source = _one_quarantined_person(tmp_path / "in")
    config = _config(tmp_path / "nis.toml", threshold)
    code, out, _ = _invoke("--source", source, "--config", config, "--report", tmp_path / "r.xlsx")
    assert code == expected
    assert ("EXCEEDED" in out) == bool(expected)


def test_default_threshold_is_5_percent(tmp_path: Path) -> None:
    source = _one_quarantined_person(tmp_path / "in")
    code, out, _ = _invoke("--source", source, "--report", tmp_path / "r.xlsx")
    assert code == 1 and "(threshold 5.0%)" in out


# --- exit 2 ---------------------------------------------------------------------------------


def _assert_one_line_error(out: str, err: str, *needles: str) -> str:
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: ")
    for needle in needles:
        assert needle in line
    return line


def test_missing_file_exits_2(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "exclusions.csv").unlink()
    report = tmp_path / "validation_report.xlsx"
    code, out, err = _invoke("--source", source, "--report", report)
    assert code == 2
    _assert_one_line_error(out, err, "F001", "exclusions.csv", "not found")
    assert not report.exists()  # a fatal run writes nothing


def test_missing_column_exits_2(tmp_path: Path) -> None:
    headers = dict(HEADERS)
    headers["school_attendance"] = [h for h in HEADERS["school_attendance"] if h != "term_end"]
    source = write_extracts(tmp_path / "in", headers=headers)
    code, out, err = _invoke("--source", source, "--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "F003", "school_attendance.csv", "term_end")


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.csv").unlink()
    (source / "people.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    code, out, err = _invoke("--source", source, "--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "F002", "people.xlsx")


def test_two_files_for_one_extract_exits_2(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    (source / "people.xlsx").write_bytes(b"")
    code, out, err = _invoke("--source", source, "--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "F004", "people.csv", "people.xlsx")


def test_missing_source_folder_exits_2(tmp_path: Path) -> None:
    code, out, err = _invoke("--source", tmp_path / "nowhere", "--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "nowhere")


def test_no_source_at_all_exits_2(tmp_path: Path) -> None:
    code, out, err = _invoke("--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "F001")


@pytest.mark.parametrize(
    "text", ["quarantine_threshold = 'lots'\n", "[source\n"], ids=["bad-value", "bad-toml"]
)
def test_bad_config_exits_2(tmp_path: Path, text: str) -> None:
    source = write_extracts(tmp_path / "in")
    config = tmp_path / "nis.toml"
    config.write_text(text, encoding="utf-8")
    code, out, err = _invoke(
        "--source", source, "--config", config, "--report", tmp_path / "r.xlsx"
    )
    assert code == 2
    _assert_one_line_error(out, err, str(config))


def test_missing_config_exits_2(tmp_path: Path) -> None:
    code, out, err = _invoke("--config", tmp_path / "nis.toml", "--report", tmp_path / "r.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "nis.toml", "does not exist")


def test_unwritable_report_exits_2(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    code, out, err = _invoke("--source", source, "--report", blocker / "validation_report.xlsx")
    assert code == 2
    _assert_one_line_error(out, err, "validation_report.xlsx")


# --- the installed entry point, in a real process -------------------------------------------


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This interpreter, fresh, with the checkout on its path."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )


def _run_module(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _python("-m", "nis_pipeline.cli", "validate", *[str(a) for a in args], cwd=cwd)


def test_subprocess_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    good = write_extracts(tmp_path / "good")
    done = _run_module("--source", good, "--report", tmp_path / "r.xlsx", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.xlsx").is_file()

    bad = write_extracts(tmp_path / "bad")
    (bad / "families.csv").write_bytes(b"family_id,la_code\nF1,E08000012\n")
    done = _run_module("--source", bad, "--report", tmp_path / "r2.xlsx", cwd=tmp_path)
    assert done.returncode == 2
    _assert_one_line_error(done.stdout, done.stderr, "F003", "families.csv", "date_identified")
    assert not (tmp_path / "r2.xlsx").exists()


def test_unreachable_database_exits_2_without_traceback(tmp_path: Path) -> None:
    # The reader raises ConnectionError here (flows retry on it); the CLI must still end with
    # one line and exit 2, not a traceback and exit 1 (which means "over the threshold").
    config = tmp_path / "nis.toml"
    config.write_text(
        '[source]\nurl = "postgresql+psycopg://nis_reader@127.0.0.1:1/casework"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        app, ["validate", "--config", str(config), "--report", str(tmp_path / "r.xlsx")]
    )
    assert not isinstance(result.exception, ConnectionError), "uncaught: a traceback for the user"
    assert result.exit_code == 2
    _assert_one_line_error(result.stdout, result.stderr, "families", "database unavailable")


# --- Hypothesis stays out of a command's process --------------------------------------------------


def test_a_command_validates_without_loading_hypothesis_and_finds_the_same(tmp_path: Path) -> None:
    # A fresh interpreter runs `nis validate` as the console script does. pandera's strategies
    # module (where Hypothesis would load) is reached; Hypothesis is not imported; and the report
    # holds the very findings of a validation in this process, where Hypothesis is loaded.
    source = _one_quarantined_person(tmp_path / "in")
    code = (
        "import sys\n"
        "from nis_pipeline import cli\n"
        f"sys.argv = ['nis', 'validate', '--source', {str(source)!r}, '--report', 'r.xlsx']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as stop:\n"
        "    print('exit', stop.code)\n"
        "print('hypothesis', sys.modules.get('hypothesis') is not None)\n"
        "print('strategies', 'pandera.strategies.pandas_strategies' in sys.modules)\n"
    )
    done = _python("-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-3:] == ["exit 1", "hypothesis False", "strategies True"]
    here = tmp_path / "here.xlsx"
    assert _invoke("--source", source, "--report", here)[0] == 1
    findings = _report_sheets(tmp_path / "r.xlsx")["Findings"]
    assert [row[5] for row in findings[1:]] == ["E105", "W201"]
    assert findings == _report_sheets(here)["Findings"]


def test_hypothesis_already_imported_is_left_alone() -> None:
    import hypothesis

    from nis_pipeline.cli import leave_out_hypothesis

    leave_out_hypothesis()
    assert sys.modules["hypothesis"] is hypothesis


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("people.csv", "the report is an Excel workbook; give a name ending .xlsx"),
        ("report", "the report is an Excel workbook; give a name ending .xlsx"),
        ("People.xlsx", "would take the place of the people extract in the source folder"),
        ("families.XLSX", "would take the place of the families extract in the source folder"),
    ],
)
def test_a_report_that_would_replace_an_extract_is_refused(
    tmp_path: Path, name: str, says: str
) -> None:
    source = write_extracts(tmp_path / "in")
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    code, out, err = _invoke("--source", source, "--report", source / name)
    assert code == 2
    _assert_one_line_error(out, err, says)
    assert {p.name: p.read_bytes() for p in source.iterdir()} == before


@pytest.mark.parametrize(
    "where",
    [
        "E08000012/2026-03-31/nis_E08000012_2026-03-31.xlsx",  # a finished submission's workbook
        "E08000012/2026-03-31/validation_report.xlsx",
        "E08000012/2026-03-31/transfer/report.xlsx",
        "E08000012/2025-09-30.replaced-1/validation_report.xlsx",  # kept aside by --replace
        "E08000012/2026-03-31.failed-validation_report.xlsx",  # a failed run's report
        "E08000012/.2026-03-31.partial-x1/validation_report.xlsx",  # a run still writing
    ],
)
def test_a_report_that_would_change_what_a_run_wrote_is_refused(tmp_path: Path, where: str) -> None:
    """A finished submission is never changed: the report written over its workbook made the
    next run and nis package refuse the folder as altered."""
    source = write_extracts(tmp_path / "in")
    out = tmp_path / "out"
    target = out / where
    target.parent.mkdir(parents=True)
    target.write_bytes(b"as the run wrote it")
    code, stdout, err = _invoke("--source", source, "--report", target)
    assert code == 2
    census = where.split("/")[1].lstrip(".")[:10]
    _assert_one_line_error(stdout, err, f"written by a run for census date {census}")
    assert target.read_bytes() == b"as the run wrote it"


def test_a_report_in_a_folder_named_like_a_date_outside_an_la_folder_is_written(
    tmp_path: Path,
) -> None:
    source = write_extracts(tmp_path / "in")
    target = tmp_path / "reports" / "2026-03-31" / "validation_report.xlsx"
    assert _invoke("--source", source, "--report", target)[0] == 0
    assert target.is_file()


def test_a_report_beside_the_extracts_under_another_name_is_written(tmp_path: Path) -> None:
    source = write_extracts(tmp_path / "in")
    code, _, _ = _invoke("--source", source, "--report", source / "validation_report.xlsx")
    assert code == 0 and (source / "validation_report.xlsx").is_file()
    # and the extracts still read as before: the report is not taken for one
    assert _invoke("--source", source, "--report", tmp_path / "again.xlsx")[0] == 0


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [
        ("validate", "schemas.validation", "validate"),
        ("columns", "schemas.columns", "column_notes"),
    ],
)
def test_an_unexpected_error_is_one_line_without_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, module: str, function: str
) -> None:
    """A library error inside nis validate or nis columns (a bug, say) can quote the cell it
    failed on: it is told by its type and place, as the audited commands tell it, exit 1, and
    never with its message or a traceback."""
    import importlib

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("could not convert 'Featherstonehaugh' (dob 31/02/1984)")

    monkeypatch.setattr(importlib.import_module(module), function, boom)
    source = write_extracts(tmp_path / "in")
    result = CliRunner().invoke(
        app,
        [command, "--source", str(source), "--report", str(tmp_path / "r.xlsx")][
            : 3 if command == "columns" else 5
        ],
    )
    assert result.exit_code == 1
    assert not isinstance(result.exception, ValueError)
    assert result.stderr.startswith(f"error: nis {command} failed unexpectedly: ValueError at ")
    assert "in boom" in result.stderr
    assert "Featherstonehaugh" not in result.stdout + result.stderr
