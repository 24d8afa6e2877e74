from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from exports_builders import (
    LA,
    PERIOD,
    random_tables,
    sample_counts,
    sample_findings,
    sample_tables,
    shuffled,
    statistics_of,
)

import exports.submission as submission
from exports import excel
from exports.manifest import CONTRACT_VERSION
from exports.statistics import STATISTICS_COLUMNS
from exports.submission import (
    SubmissionBusyError,
    SubmissionExistsError,
    write_failed_run_report,
    write_submission,
)
from exports.tables import SubmissionTableError, prepare_tables
from schemas.outputs import FPD_COLUMNS, INDIVIDUALS_COLUMNS
from transforms.changes import no_changes
from transforms.submission import SubmissionTables

C = PERIOD.label
NAMES = [
    f"nis_{LA}_{C}_individuals.csv",
    f"nis_{LA}_{C}_fpd.csv",
    f"nis_{LA}_{C}.xlsx",
    f"statistics_{LA}_{C}.csv",
    "validation_report.xlsx",
    f"changes_{LA}_{C}.csv",
]


def _write(out: Path, tables: SubmissionTables | None = None, **kwargs):
    tables = sample_tables() if tables is None else tables
    kwargs.setdefault("changes", no_changes())
    kwargs.setdefault("previous", None)
    return write_submission(
        out,
        LA,
        PERIOD,
        tables,
        statistics_of(tables),
        kwargs.pop("findings", sample_findings()),
        kwargs.pop("counts", sample_counts()),
        **kwargs,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def written(tmp_path):
    return _write(tmp_path / "out")


def test_folder_holds_exactly_the_spec_files(written, tmp_path):
    folder = tmp_path / "out" / LA / C
    assert written.folder == folder
    assert sorted(os.listdir(folder)) == sorted([*NAMES, "manifest.json"])
    assert written.files == [*NAMES, "manifest.json"]
    assert written.workbook_skipped_reason is None
    # nothing else is left beside it, not even the lock file
    assert sorted(os.listdir(folder.parent)) == [C]


def test_files_are_private(written):
    for path in [written.folder, written.folder.parent]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    for name in written.files:
        assert stat.S_IMODE(os.stat(written.folder / name).st_mode) == 0o600


def test_individuals_csv_reads_back_as_the_computed_table(written):
    expected = prepare_tables(sample_tables(), LA, PERIOD).individuals
    back = pd.read_csv(written.folder / NAMES[0], dtype="str", keep_default_na=False)
    assert list(back.columns) == INDIVIDUALS_COLUMNS
    assert len(back) == len(expected) == 6
    assert list(zip(back["family_id"], back["person_id"], strict=True)) == [
        ("F1", "P1"),
        ("F1", "P2"),
        ("F10", "P3"),
        ("F10", "P3b"),
        ("F2", "P10"),
        ("F2", "P7"),
    ]
    p7 = back.set_index("person_id").loc["P7"]
    assert p7["dob"] == "1985-03-04"
    assert p7["expected_dob"] == ""
    assert p7["gender"] == "1"
    assert p7["forename"] == '=HYPERLINK("http://x")'  # the CSV carries values as they are
    assert p7["nino"] == "AB123456C"
    assert p7["census_date"] == C
    assert set(back["gender"]) <= {"0", "1", "2", "9"}
    assert set(back["p_health"]) == {"0", "1"}
    assert back.set_index("person_id").loc["P2", "surname"] == "O'Brien, Jr"
    assert back.set_index("person_id").loc["P1", "forename"] == "Line\nbreak"


def test_fpd_csv_reads_back_as_the_computed_table(written):
    expected = prepare_tables(sample_tables(), LA, PERIOD).fpd
    back = pd.read_csv(written.folder / NAMES[1], dtype="str", keep_default_na=False)
    assert list(back.columns) == FPD_COLUMNS
    assert (
        back["person_id"].tolist() == expected["person_id"].tolist() == ["P3", "P3b", "P10", "P7"]
    )
    row = back.set_index("person_id")
    assert row.loc["P3", "attendance_pct"] == "92.3"
    assert row.loc["P3b", "attendance_pct"] == "100.0"
    assert row.loc["P3", "unauthorised_absence_pct"] == "4.0"
    assert row.loc["P10", "attendance_pct"] == ""
    assert row.loc["P10", "age_at_census"] == ""
    assert row.loc["P3b", "neet_at_census"] == "1"
    assert row.loc["P7", "weeks_continuous_employment"] == "27"
    typed = pd.read_csv(written.folder / NAMES[1])
    assert typed["proven_offences"].tolist() == expected["proven_offences"].astype(int).tolist()


def test_no_column_outside_the_contract_appears(written):
    contract = [INDIVIDUALS_COLUMNS, FPD_COLUMNS, STATISTICS_COLUMNS]
    for name, columns in zip(NAMES[:2] + NAMES[3:4], contract, strict=True):
        header = (written.folder / name).read_text().split("\n")[0].split(",")
        assert header == columns, name
    wb = openpyxl.load_workbook(written.folder / NAMES[2], read_only=True)
    for sheet in ("Individuals", "FPD"):
        header = next(wb[sheet].iter_rows(max_row=1, values_only=True))
        assert list(header) == (INDIVIDUALS_COLUMNS if sheet == "Individuals" else FPD_COLUMNS)


@pytest.mark.parametrize("column", ["nhs_number", "ethnicity", "intensity"])
def test_a_table_carrying_another_column_is_refused_before_anything_is_written(tmp_path, column):
    tables = sample_tables()
    leaky = SubmissionTables(
        tables.individuals.assign(**{column: "9434765870"}), tables.fpd, tables.opted_out
    )
    with pytest.raises(SubmissionTableError, match=column) as error:
        _write(tmp_path / "out", leaky)
    assert "9434765870" not in str(error.value)
    assert not (tmp_path / "out" / LA / C).exists()


def test_a_table_breaking_the_schema_is_refused_without_its_values(tmp_path):
    tables = sample_tables()
    bad = tables.individuals.copy()
    bad.loc[0, "gender"] = "M"
    with pytest.raises(SubmissionTableError, match="gender") as error:
        _write(tmp_path / "out", SubmissionTables(bad, tables.fpd, 0))
    assert "'M'" not in str(error.value)


def test_rows_of_another_census_are_refused(tmp_path):
    tables = sample_tables()
    other = tables.fpd.copy()
    other.loc[other.index[-1], "census_date"] = pd.Timestamp("2025-03-31")  # one row of many
    with pytest.raises(SubmissionTableError, match="census date"):
        _write(tmp_path / "out", SubmissionTables(tables.individuals, other, 0))
    assert not (tmp_path / "out" / LA / C).exists()


def test_rows_of_another_council_are_refused(tmp_path):
    tables = sample_tables()
    other = tables.individuals.copy()
    other.loc[other.index[-1], "la_code"] = "E09000033"  # a real code, one row of many
    with pytest.raises(SubmissionTableError, match="another la_code"):
        _write(tmp_path / "out", SubmissionTables(other, tables.fpd, 0))
    assert not (tmp_path / "out" / LA / C).exists()


def test_an_fpd_person_missing_from_the_individuals_table_is_refused(tmp_path):
    tables = sample_tables()
    gone = tables.fpd["person_id"].iloc[0]
    assert tables.fpd["person_id"].nunique() > 1  # the others are still there
    individuals = tables.individuals[tables.individuals["person_id"] != gone]
    with pytest.raises(SubmissionTableError, match="FPD person has no row"):
        _write(tmp_path / "out", SubmissionTables(individuals, tables.fpd, 0))
    assert not (tmp_path / "out" / LA / C).exists()


def test_manifest(written):
    text = (written.folder / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    assert manifest == written.manifest
    assert text == json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert manifest["contract_version"] == CONTRACT_VERSION == "2"
    assert manifest["la_code"] == LA
    assert manifest["census_date"] == C
    assert manifest["people_opted_out"] == 2
    assert manifest["files_not_written"] == []
    assert [f["name"] for f in manifest["files"]] == NAMES
    for entry in manifest["files"]:
        assert entry["sha256"] == _sha(written.folder / entry["name"])
    rows = {f["name"]: f["rows"] for f in manifest["files"]}
    assert rows[NAMES[0]] == 6 and rows[NAMES[1]] == 4
    assert rows[NAMES[2]] == 10
    assert manifest["files"][2]["sheets"] == {"Individuals": 6, "FPD": 4}
    stats = pd.read_csv(written.folder / NAMES[3], dtype="str")
    assert rows[NAMES[3]] == len(stats)
    assert rows["validation_report.xlsx"] == 4
    # The two internal files are marked so; everything else is for submission.
    internal = {f["name"] for f in manifest["files"] if f["internal"] is True}
    assert internal == {"validation_report.xlsx", NAMES[5]}
    assert all(f["internal"] is False for f in manifest["files"] if f["name"] not in internal)
    # No previous submission: a header-only changes file, and nothing compared.
    assert rows[NAMES[5]] == 0
    assert (written.folder / NAMES[5]).read_bytes() == (
        b"family_id,person_id,change,field,previous,current\n"
    )
    assert manifest["previous"] is None and manifest["change_counts"] is None
    assert manifest["input_extracts"] == [
        {"extract": "families", "source": "families.csv", "sha256": "b" * 64,
         "rows_read": 12, "quarantined": 1, "warned": 0},
        {"extract": "people", "source": "people.csv", "sha256": "a" * 64,
         "rows_read": 40, "quarantined": 1, "warned": 1},
        {"extract": "eligibility", "source": "eligibility.xlsx", "sha256": "c" * 64,
         "rows_read": 0, "quarantined": 0, "warned": 0},
    ]  # fmt: skip
    # nothing that changes between runs or machines
    for word in ("time", "host", "user", "created", str(Path.home())):
        assert word not in text


def test_same_inputs_in_another_row_order_give_identical_files(tmp_path):
    tables = random_tables(80, seed=7)
    a = _write(tmp_path / "a", tables)
    b = _write(
        tmp_path / "b",
        shuffled(tables, seed=3),
        findings=sample_findings().iloc[::-1],
        counts=sample_counts().iloc[[1, 2, 0]],
    )
    assert a.manifest == b.manifest
    assert (a.folder / "manifest.json").read_bytes() == (b.folder / "manifest.json").read_bytes()
    for name in NAMES:
        assert (a.folder / name).read_bytes() == (b.folder / name).read_bytes(), name


def test_a_finished_submission_is_not_overwritten(written, tmp_path):
    before = (written.folder / "manifest.json").read_bytes()
    with pytest.raises(SubmissionExistsError, match="--replace") as error:
        _write(tmp_path / "out", random_tables(5))
    assert str(written.folder) in str(error.value)
    assert (written.folder / "manifest.json").read_bytes() == before
    assert sorted(os.listdir(written.folder.parent)) == [C]


def test_replace_keeps_the_old_submission_beside_the_new(written, tmp_path):
    old_manifest = (written.folder / "manifest.json").read_bytes()
    second = _write(tmp_path / "out", random_tables(5, seed=1), replace=True)
    la_dir = tmp_path / "out" / LA
    assert (la_dir / f"{C}.replaced-1" / "manifest.json").read_bytes() == old_manifest
    assert second.folder == la_dir / C
    assert written.kept_aside is None
    assert second.kept_aside == la_dir / f"{C}.replaced-1"  # said on the terminal
    assert second.manifest["files"][0]["rows"] == len(random_tables(5, seed=1).individuals)
    third = _write(tmp_path / "out", replace=True)
    assert (la_dir / f"{C}.replaced-2" / "manifest.json").exists()
    assert json.loads((la_dir / f"{C}.replaced-2" / "manifest.json").read_text()) == second.manifest
    assert third.manifest == written.manifest
    assert sorted(os.listdir(la_dir)) == [C, f"{C}.replaced-1", f"{C}.replaced-2"]


def test_a_run_failing_mid_way_leaves_no_folder(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(submission, "write_validation_report", boom)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out" / LA)) == []
    monkeypatch.undo()
    assert _write(tmp_path / "out").folder.is_dir()


def test_a_run_failing_mid_way_leaves_the_finished_submission_alone(written, tmp_path, monkeypatch):
    before = {name: _sha(written.folder / name) for name in written.files}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(submission, "write_manifest", boom)
    with pytest.raises(OSError):
        _write(tmp_path / "out", random_tables(5), replace=True)
    assert {name: _sha(written.folder / name) for name in written.files} == before
    assert sorted(os.listdir(written.folder.parent)) == [C]


def test_a_leftover_partial_folder_is_removed_by_the_next_run(tmp_path):
    la_dir = tmp_path / "out" / LA
    leftover = la_dir / f".{C}.partial-abc123"
    leftover.mkdir(parents=True)
    (leftover / NAMES[0]).write_text("half a file")
    other_census = la_dir / ".2025-03-31.partial-zzz"
    other_census.mkdir()
    _write(tmp_path / "out")
    assert not leftover.exists()
    assert other_census.exists()  # another census's run is none of this run's business


_KILLED_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from exports_builders import *
    import exports.submission as submission
    from transforms.changes import no_changes

    real = submission.write_validation_report
    def slow(*args, **kwargs):
        real(*args, **kwargs)
        Path({marker!r}).write_text("writing")
        time.sleep(120)
    submission.write_validation_report = slow
    tables = random_tables(30, seed=9)
    submission.write_submission(
        Path({out!r}), LA, PERIOD, tables, statistics_of(tables), sample_findings(),
        sample_counts(), replace=True, changes=no_changes(), previous=None,
    )
    """
)


def _run_and_kill(out: Path, marker: Path) -> None:
    script = _KILLED_RUN.format(tests=str(Path(__file__).parent), marker=str(marker), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"writer exited early with {proc.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError("writer never reached the validation report")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)


def test_a_run_killed_while_writing_leaves_no_partial_submission(tmp_path):
    out = tmp_path / "out"
    first = _write(out)
    before = {name: _sha(first.folder / name) for name in first.files}

    _run_and_kill(out, tmp_path / "marker")

    la_dir = out / LA
    partials = [p for p in os.listdir(la_dir) if p.startswith(f".{C}.partial-")]
    assert len(partials) == 1  # the killed run's work, aside and private
    assert stat.S_IMODE(os.stat(la_dir / partials[0]).st_mode) == 0o700
    # the finished submission is untouched and still the one in place
    assert {name: _sha(first.folder / name) for name in first.files} == before
    assert not any(p.startswith(f"{C}.replaced") for p in os.listdir(la_dir))

    again = _write(out, random_tables(30, seed=9), replace=True)
    assert sorted(os.listdir(la_dir)) == [C, f"{C}.replaced-1"]
    assert again.manifest["files"][0]["rows"] == len(random_tables(30, seed=9).individuals)


def test_a_run_killed_before_any_submission_leaves_no_census_folder(tmp_path):
    out = tmp_path / "out"
    _run_and_kill(out, tmp_path / "marker")
    assert not (out / LA / C).exists()
    _write(out)
    assert sorted(os.listdir(out / LA)) == [C]


def test_a_second_run_at_the_same_time_is_refused(tmp_path):
    import fcntl

    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    with open(la_dir / f".{C}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SubmissionBusyError, match="another run"):
            _write(tmp_path / "out")
    assert not (la_dir / C).exists()


def test_above_the_row_limit_only_the_workbook_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 5)
    result = _write(tmp_path / "out")
    assert result.workbook_skipped_reason is not None
    assert NAMES[2] not in os.listdir(result.folder)
    assert [f["name"] for f in result.manifest["files"]] == [n for n in NAMES if n != NAMES[2]]
    assert result.manifest["files_not_written"] == [
        {"name": NAMES[2], "reason": result.workbook_skipped_reason}
    ]
    assert "Individuals" in result.workbook_skipped_reason
    back = pd.read_csv(result.folder / NAMES[0], dtype="str")
    assert len(back) == 6  # the CSVs carry every row


def test_failed_run_report_goes_in_the_census_folder_without_a_manifest(tmp_path):
    out = tmp_path / "out"
    path = write_failed_run_report(out, LA, PERIOD, sample_findings(), sample_counts())
    assert path == out / LA / C / "validation_report.xlsx"
    assert os.listdir(out / LA / C) == ["validation_report.xlsx"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert openpyxl.load_workbook(path).sheetnames == ["Summary", "Findings"]
    # a later run that passes takes the folder's place; the old report is not kept as a submission
    result = _write(out)
    assert sorted(os.listdir(out / LA)) == [C]
    assert (result.folder / "manifest.json").exists()


def test_failed_run_report_never_touches_a_finished_submission(written, tmp_path):
    before = {name: _sha(written.folder / name) for name in written.files}
    path = write_failed_run_report(tmp_path / "out", LA, PERIOD, sample_findings(), sample_counts())
    assert path == tmp_path / "out" / LA / f"{C}.failed-validation_report.xlsx"
    assert path.exists()
    assert {name: _sha(written.folder / name) for name in written.files} == before


def test_an_odd_folder_without_a_manifest_is_kept_aside(tmp_path):
    target = tmp_path / "out" / LA / C
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("someone's notes")
    result = _write(tmp_path / "out")
    assert (tmp_path / "out" / LA / f"{C}.replaced-1" / "notes.txt").exists()
    assert result.kept_aside == tmp_path / "out" / LA / f"{C}.replaced-1"


def test_an_la_code_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="la_code"):
        write_submission(
            tmp_path, "../E08000012", PERIOD, sample_tables(), pd.DataFrame(), sample_findings(),
            sample_counts(), changes=no_changes(), previous=None,
        )  # fmt: skip
    assert os.listdir(tmp_path) == []


def _read_typed(path: Path, model) -> pd.DataFrame:
    """A submission CSV read back into the output dtypes of ``model``."""
    text = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
    out = {}
    for name, column in model.to_schema().columns.items():
        dtype = str(column.dtype)
        if dtype.startswith("datetime64"):
            out[name] = pd.to_datetime(text[name], format="%Y-%m-%d").astype("datetime64[ns]")
        elif dtype in ("Int64", "Float64"):
            out[name] = pd.to_numeric(text[name]).astype(dtype)
        else:
            out[name] = text[name].astype("str")
    return pd.DataFrame(out)


def test_csvs_read_back_equal_the_computed_tables(tmp_path):
    from schemas.outputs import FpdRecord, IndividualsRecord

    tables = random_tables(150, seed=11)
    result = _write(tmp_path / "out", tables)
    prepared = prepare_tables(tables, LA, PERIOD)
    for name, model, expected in [
        (NAMES[0], IndividualsRecord, prepared.individuals),
        (NAMES[1], FpdRecord, prepared.fpd),
    ]:
        back = _read_typed(result.folder / name, model)
        pd.testing.assert_frame_equal(back, expected, check_exact=True)
        assert [f["rows"] for f in result.manifest["files"] if f["name"] == name] == [len(back)]
