"""A run meeting a hostile output folder, under Prefect's test harness: a finished submission
altered since it was written, another run holding the census, a full disk. Each period fails
with one line saying so (exit 1), and nothing finished is overwritten unasked."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from flows_support import (
    LA,
    state_of,
    submission_files,
    synthetic_extracts,
    write_config,
)

import exports.files as files
from flows.results import Outcome, RunFailed
from flows.submission import nis_submission

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

CENSUS = "2025-09-30"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("hostile") / "extracts", families=25, seed=3)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("hostile-config") / "nis.toml")


def _run(source: Path, config: Path, out: Path, replace: bool = False):  # type: ignore[no-untyped-def]
    return nis_submission(
        census_date=CENSUS,
        config_path=str(config),
        source_path=str(source),
        output_dir=str(out),
        replace=replace,
        return_state=True,
    )


@pytest.mark.parametrize("alter", ["truncate", "delete", "edit"])
def test_an_altered_submission_is_not_up_to_date_and_not_overwritten(
    source: Path, config: Path, tmp_path: Path, alter: str
) -> None:
    out = tmp_path / "out"
    assert state_of(_run(source, config, out))[0] == "COMPLETED"
    folder = out / LA / CENSUS
    csv = folder / f"nis_{LA}_{CENSUS}_individuals.csv"
    if alter == "truncate":
        csv.write_bytes(csv.read_bytes()[:100])
    elif alter == "delete":
        csv.unlink()
    else:
        csv.write_bytes(csv.read_bytes().replace(b"ATTACHED", b"CLAIMED_", 1))
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}

    kind, outcome = state_of(_run(source, config, out))
    assert kind == "FAILED" and isinstance(outcome, RunFailed)
    assert outcome.exit_code == 1
    (period,) = outcome.result.periods
    assert period.outcome is Outcome.FAILED
    assert period.message == (
        f"{folder} holds a finished submission altered since it was written (1 file(s) missing "
        f"or changed: {csv.name}): run again with replace (--replace) to write it again; the "
        "altered one is kept beside it"
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == kept  # untouched

    # Asked to replace, it writes the period again and keeps the altered one beside it.
    kind, result = state_of(_run(source, config, out, replace=True))
    assert kind == "COMPLETED" and result.periods[0].outcome is Outcome.WRITTEN
    assert {p.name for p in folder.iterdir()} == submission_files(CENSUS)
    aside = out / LA / f"{CENSUS}.replaced-1"
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == kept
    # And now, unchanged, it is up to date.
    kind, result = state_of(_run(source, config, out))
    assert result.periods[0].outcome is Outcome.UP_TO_DATE


def test_a_file_where_the_census_folder_goes_is_kept_aside_and_said_to_be_a_file(
    source: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / LA).mkdir(parents=True)
    (out / LA / CENSUS).write_text("notes someone saved here", encoding="utf-8")
    kind, result = state_of(_run(source, config, out))
    assert kind == "COMPLETED" and result.periods[0].outcome is Outcome.WRITTEN
    aside = out / LA / f"{CENSUS}.replaced-1"
    assert aside.read_text(encoding="utf-8") == "notes someone saved here"
    assert result.periods[0].message == f"the file that was there is kept as {aside}"
    assert {p.name for p in (out / LA / CENSUS).iterdir()} == submission_files(CENSUS)


def test_another_run_holding_the_census_fails_the_period_in_one_line(
    source: Path, config: Path, tmp_path: Path
) -> None:
    import fcntl

    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    with open(la_dir / f".{CENSUS}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        kind, outcome = state_of(_run(source, config, tmp_path / "out"))
    assert kind == "FAILED" and isinstance(outcome, RunFailed)
    (period,) = outcome.result.periods
    assert period.outcome is Outcome.FAILED
    assert period.message == (
        f"another run is writing {la_dir / CENSUS}; try again when it has finished"
    )
    assert not (la_dir / CENSUS).exists()


def test_a_full_disk_fails_the_period_saying_so(
    source: Path, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "fsync_file", no_space)
    kind, outcome = state_of(_run(source, config, tmp_path / "out"))
    assert kind == "FAILED" and isinstance(outcome, RunFailed)
    (period,) = outcome.result.periods
    folder = tmp_path / "out" / LA / CENSUS
    assert period.message == f"cannot write {folder}: no space left on the device"
    assert not folder.exists()
