"""``run_command`` and ``backfill_command``, what ``nis run`` and ``nis backfill`` call: exit codes,
one clear line on error (no traceback), progress and a line per period on the terminal."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import openpyxl
import pytest
from extract_builders import fresh_rows, write_extracts
from flows_support import (
    EXTRACT_DATE,
    LA,
    nothing_written,
    submission_files,
    synthetic_extracts,
    write_config,
)

from flows.commands import backfill_command, run_command

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("cli") / "extracts", families=30, seed=11)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("cli-config") / "nis.toml")


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_run_writes_and_exits_0(
    source: Path, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_command("2026-03-31", source, config, out, False) == 0
    captured = capsys.readouterr()
    folder = out / LA / "2026-03-31"
    assert {p.name for p in folder.iterdir()} == submission_files("2026-03-31")
    assert f"2026-03-31: written - {folder}" in captured.out
    assert "error" not in captured.err
    # The report's header block: the run's census date and extract date, each its own.
    summary = openpyxl.load_workbook(folder / "validation_report.xlsx")["Summary"]
    facts = {row[0]: row[1] for row in summary.iter_rows(min_row=2, max_row=6, values_only=True)}
    assert facts["census date"] == "2026-03-31"
    assert facts["extract date"] == EXTRACT_DATE
    assert facts["submission"] == "written: this folder"

    # The same inputs again: up to date, nothing rewritten, still exit 0.
    assert run_command("2026-03-31", source, config, out, False) == 0
    assert "2026-03-31: up to date" in capsys.readouterr().out


def test_backfill_with_a_failed_period_exits_1_naming_it(
    source: Path, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    other = synthetic_extracts(tmp_path / "other", families=20, seed=5)
    assert run_command("2025-09-30", other, config, out, False) == 0
    capsys.readouterr()

    code = backfill_command("2025-03-31", "2026-03-31", source, config, out, False)
    captured = capsys.readouterr()
    assert code == 1
    assert "backfill of 3 periods: 2025-03-31 to 2026-03-31" in captured.out
    assert "2025-03-31: written" in captured.out
    assert "2025-09-30: failed" in captured.out
    assert "2026-03-31: written" in captured.out
    assert _one_error_line(captured.err) == "error: 1 of 3 periods failed: 2025-09-30 (failed)"

    # With replace the period is rewritten from these inputs; the old one is kept beside it.
    assert backfill_command("2025-09-30", "2025-09-30", source, config, out, True) == 0
    assert (out / LA / "2025-09-30.replaced-1" / "manifest.json").is_file()
    # ... and the terminal says where the old one went.
    kept = (
        f"  note              the folder that was there is kept as {out / LA}/2025-09-30.replaced-1"
    )
    assert kept in capsys.readouterr().out.splitlines()


def test_a_previous_submission_altered_after_it_was_written_stops_the_next_period(
    source: Path, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The changes file would compare with rows nobody sent: the run fails and says which file.
    out = tmp_path / "out"
    assert run_command("2025-09-30", source, config, out, False) == 0
    altered = out / LA / "2025-09-30" / f"nis_{LA}_2025-09-30_individuals.csv"
    altered.write_bytes(altered.read_bytes() + b"x\n")
    capsys.readouterr()
    assert run_command("2026-03-31", source, config, out, False) == 1
    assert _one_error_line(capsys.readouterr().err) == (
        f"error: 2026-03-31: failed - {altered.name} in the previous submission "
        f"{out / LA / '2025-09-30'} does not match the SHA-256 in its manifest.json: it was "
        "altered after it was written. Restore it, or move that folder aside to compare with "
        "nothing, and run again"
    )
    assert not (out / LA / "2026-03-31").exists()


def test_threshold_exceeded_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=30, seed=11, defects=0.1)
    config = write_config(tmp_path / "nis.toml", threshold=0.01)
    assert run_command("2025-09-30", source, config, tmp_path / "out", False) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "threshold exceeded" in line and "above the threshold 1.0%" in line
    report = tmp_path / "out" / LA / "2025-09-30" / "validation_report.xlsx"
    summary = openpyxl.load_workbook(report)["Summary"]
    facts = {row[0]: row[1] for row in summary.iter_rows(min_row=2, max_row=6, values_only=True)}
    # The report says why nothing was written, in the words of the error line.
    assert facts["submission"].startswith("not written: ")
    assert facts["submission"].removeprefix("not written: ") in line


@pytest.mark.parametrize(("threshold", "code"), [(0.2, 0), (0.19, 1)])
def test_a_run_may_reach_its_threshold_but_not_exceed_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], threshold: float, code: int
) -> None:
    # 1 of the 5 people quarantined: 20.0%, against a threshold of 20% and of 19%.
    rows = fresh_rows()
    rows["people"][2]["gender"] = "Q"
    source = write_extracts(tmp_path / "in", rows)
    config = tmp_path / "nis.toml"
    config.write_text(f"quarantine_threshold = {threshold}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run_command("2025-09-30", source, config, out, False) == code
    said = capsys.readouterr().out
    shown = f"{threshold:.1%}"
    if code == 0:
        assert f"people 1 of 5 (20.0%, threshold {shown})" in said
        assert (out / LA / "2025-09-30" / "manifest.json").is_file()
    else:
        assert f"people 1 of 5 (20.0%, threshold {shown}, exceeded)" in said
        assert not (out / LA / "2025-09-30" / "manifest.json").exists()


def test_threshold_from_the_environment_beats_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The case: NIS_QUARANTINE_THRESHOLD=0.0001 nis run --census 2025-03-31 --config
    # FILE --out DIR, with FILE setting 0.5, on data with quarantined people.
    source = synthetic_extracts(tmp_path / "extracts", families=30, seed=11, defects=0.05)
    config = write_config(tmp_path / "nis.toml", threshold=0.5)
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'[source]\npath = "{source}"\n')
    monkeypatch.setenv("NIS_QUARANTINE_THRESHOLD", "0.0001")
    assert run_command("2025-03-31", None, config, tmp_path / "out", False) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "above the threshold 0.01%" in line
    assert not (tmp_path / "out" / LA / "2025-03-31" / "manifest.json").exists()

    monkeypatch.delenv("NIS_QUARANTINE_THRESHOLD")
    assert run_command("2025-03-31", None, config, tmp_path / "out", False) == 0


def test_a_lower_threshold_is_not_up_to_date_with_a_submission_made_under_a_higher_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same inputs, written under 50%; then the team tightens the threshold. A run that
    # would write nothing must not say "up to date" and exit 0: it exits 1, leaves the
    # finished files untouched and puts its report beside them.
    source = synthetic_extracts(tmp_path / "extracts", families=30, seed=11, defects=0.05)
    config = write_config(tmp_path / "nis.toml", threshold=0.5)
    out = tmp_path / "out"
    assert run_command("2025-03-31", source, config, out, False) == 0
    folder = out / LA / "2025-03-31"
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    capsys.readouterr()

    monkeypatch.setenv("NIS_QUARANTINE_THRESHOLD", "0.0001")
    assert run_command("2025-03-31", source, config, out, False) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "above the threshold 0.01%: no submission written" in line
    assert f"the finished submission already in {folder} is left as it is" in line
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    assert (out / LA / "2025-03-31.failed-validation_report.xlsx").is_file()

    monkeypatch.delenv("NIS_QUARANTINE_THRESHOLD")
    assert run_command("2025-03-31", source, config, out, False) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize(
    "census, expected",
    [
        ("2025-10-01", "not a census date"),
        ("30/09/2025", "not a date in ISO form"),
    ],
)
def test_bad_census_date_exits_2_before_anything_runs(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], census: str, expected: str
) -> None:
    assert run_command(census, source, None, tmp_path / "out", False) == 2
    assert expected in _one_error_line(capsys.readouterr().err)
    assert nothing_written(tmp_path / "out")


def test_backfill_range_backwards_exits_2(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backfill_command("2026-03-31", "2025-03-31", source, None, tmp_path / "out") == 2
    assert "is after the last" in _one_error_line(capsys.readouterr().err)


def test_missing_source_and_bad_config_exit_2(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command("2025-09-30", tmp_path / "nowhere", None, tmp_path / "out", False) == 2
    assert "[F001]" in _one_error_line(capsys.readouterr().err)

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "families.csv").write_bytes((source / "families.csv").read_bytes())
    assert backfill_command("2025-03-31", "2025-09-30", partial, None, tmp_path / "out") == 2
    assert "people.csv" in _one_error_line(capsys.readouterr().err)

    bad = tmp_path / "bad.toml"
    bad.write_text("quarantine_threshold = 7\n", encoding="utf-8")
    assert run_command("2025-09-30", source, bad, tmp_path / "out", False) == 2
    assert "quarantine_threshold" in _one_error_line(capsys.readouterr().err)
    assert nothing_written(tmp_path / "out")


def test_unusable_extract_found_inside_the_run_exits_2(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A required column missing is found only when the flow reads the file: still exit 2, one
    line, no traceback."""
    broken = tmp_path / "extracts"
    broken.mkdir()
    for path in source.glob("*.csv"):
        (broken / path.name).write_bytes(path.read_bytes())
    with open(source / "people.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = [f for f in rows[0] if f != "role"]
    with open(broken / "people.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert run_command("2025-09-30", broken, None, tmp_path / "out", False) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "[F003]" in line and "people.csv" in line
    assert nothing_written(tmp_path / "out")


def test_families_of_another_council_stop_the_run_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=10, seed=3)
    families = source / "families.csv"
    rows = list(csv.reader(families.open(encoding="utf-8-sig", newline="")))
    column = rows[0].index("la_code")
    rows[2][column] = "E08000013"  # one family of a neighbouring council
    with families.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    config = write_config(tmp_path / "nis.toml", la_code=LA)
    assert run_command("2025-09-30", source, config, tmp_path / "out", False) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: [F005] families.csv: the families extract holds another")
    assert "families of E08000013 (1 row, the first on line 3) besides la_code E08000012" in line
    assert not (tmp_path / "out" / LA / "2025-09-30").exists()


def test_run_calls_out_an_unmapped_column_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=20, seed=5)
    people = source / "people.csv"
    header, rest = people.read_text(encoding="utf-8").split("\n", 1)
    people.write_text(header.replace(",dob,", ",Date of Birth,") + "\n" + rest, encoding="utf-8")
    config = write_config(tmp_path / "nis.toml")
    # The run's log says it too, as a warning: the UI shows what the terminal shows.
    warned: list[str] = []
    catcher = logging.Handler(level=logging.WARNING)
    catcher.emit = lambda record: warned.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("prefect").addHandler(catcher)
    try:
        assert run_command("2025-09-30", source, config, tmp_path / "out", False) == 1
    finally:
        logging.getLogger("prefect").removeHandler(catcher)
    assert any(w.startswith("'Date of Birth' in people: not a contract column") for w in warned)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "headers the contract does not know:"
    assert lines[1].startswith("  'Date of Birth' in people: not a contract column, and people")
    assert 'add "Date of Birth" = "dob" under [column_map.people]' in lines[1]
    _one_error_line(captured.err)  # the threshold, said once
