"""Writing a submission when the file system is hostile: links where folders should be, a full
disk, a read-only folder, a process killed at any moment, two runs at once, LA codes that would
name another folder. Each is refused or fails with one line, and nothing half-written is left
where a finished submission would be."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from exports_builders import (
    CENSUS,
    LA,
    random_tables,
    sample_counts,
    sample_findings,
    sample_tables,
    statistics_of,
)

import exports.files as files
from exports.paths import OutputPathError, WriteFailed
from exports.submission import (
    BadLaCodeError,
    SubmissionBusyError,
    SubmissionResult,
    write_failed_run_report,
    write_submission,
)
from schemas.errors import ExitCode, PipelineError
from transforms.changes import no_changes
from transforms.periods import Period

C = CENSUS.isoformat()
PERIOD = Period(CENSUS)


def _write(out: Path, **kwargs: object) -> SubmissionResult:
    tables = sample_tables()
    return write_submission(
        out, LA, PERIOD, tables, statistics_of(tables), sample_findings(), sample_counts(),
        changes=no_changes(), previous=None, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links not followed) with its SHA-256."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# --- symbolic links -------------------------------------------------------------------------


def test_an_output_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(OutputPathError, match="the output folder .* is a symbolic link"):
        _write(tmp_path / "out")
    assert list(elsewhere.iterdir()) == []


def test_an_la_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / LA).symlink_to(elsewhere)
    with pytest.raises(OutputPathError, match="the LA folder"):
        _write(tmp_path / "out")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("replace", [False, True])
def test_a_census_folder_that_is_a_link_is_refused(tmp_path: Path, replace: bool) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not ours")
    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    (la_dir / C).symlink_to(elsewhere)
    with pytest.raises(OutputPathError, match="the census folder"):
        _write(tmp_path / "out", replace=replace)
    with pytest.raises(OutputPathError, match="the census folder"):
        write_failed_run_report(tmp_path / "out", LA, PERIOD, sample_findings(), sample_counts())
    assert _tree(elsewhere) == {"keep.txt": hashlib.sha256(b"not ours").hexdigest()}
    assert (la_dir / C).is_symlink()  # left as it was, not moved aside or replaced


@pytest.mark.parametrize("exists", [True, False], ids=["to-a-file", "dangling"])
def test_a_lock_file_that_is_a_link_is_refused_and_not_written_through(
    tmp_path: Path, exists: bool
) -> None:
    target = tmp_path / "precious.txt"
    if exists:
        target.write_text("precious")
    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    (la_dir / f".{C}.lock").symlink_to(target)
    with pytest.raises(OutputPathError, match="lock file"):
        _write(tmp_path / "out")
    assert target.read_text() == "precious" if exists else not target.exists()
    assert not (la_dir / C).exists()


@pytest.mark.parametrize(
    "la_code", ["../E08000012", "E08000012/..", "..", "E08000012/x", "E０8000012"]
)
def test_an_la_code_that_would_name_another_folder_is_refused(tmp_path: Path, la_code: str) -> None:
    with pytest.raises(BadLaCodeError):
        write_submission(
            tmp_path / "out", la_code, PERIOD, sample_tables(), statistics_of(sample_tables()),
            sample_findings(), sample_counts(), changes=no_changes(), previous=None,
        )  # fmt: skip
    assert not (tmp_path / "out").exists()
    assert BadLaCodeError("x").exit_code == ExitCode.FATAL


# --- the machine refuses a write ------------------------------------------------------------


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("replace", [False, True])
def test_a_full_disk_says_so_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replace: bool
) -> None:
    out = tmp_path / "out"
    before: dict[str, str] = {}
    if replace:
        _write(out)
        before = _tree(out / LA / C)
    monkeypatch.setattr(files, "fsync_file", _no_space)  # the first file to reach the disk
    with pytest.raises(WriteFailed) as caught:
        _write(out, replace=replace)
    assert str(caught.value) == f"cannot write {out / LA / C}: no space left on the device"
    assert caught.value.exit_code == ExitCode.FAILED
    leftovers = sorted(p.name for p in (out / LA).iterdir())
    assert leftovers == ([C] if replace else [])
    if replace:
        assert _tree(out / LA / C) == before  # the finished submission untouched


def test_a_read_only_output_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as it would
        import tempfile

        def refused(*args: object, **kwargs: object) -> str:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(tempfile, "mkdtemp", refused)
        (out / LA).mkdir()
    else:
        out.chmod(0o500)
    try:
        with pytest.raises(WriteFailed, match=r"permission denied \(the folder is read-only"):
            _write(out)
    finally:
        out.chmod(0o700)
    assert not (out / LA / C).exists()


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if os.geteuid() != 0 or sys.platform != "linux":
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_a_real_full_disk(tmp_path: Path) -> None:
    """On a 256 KiB tmpfs (when this machine lets the tests mount one)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount_tmpfs(disk, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    try:
        tables = random_tables(3000, seed=4)
        with pytest.raises(WriteFailed) as caught:
            write_submission(
                disk / "out", LA, PERIOD, tables, statistics_of(tables), sample_findings(),
                sample_counts(), changes=no_changes(), previous=None,
            )  # fmt: skip
        assert "no space left on the device" in str(caught.value)
        assert sorted(p.name for p in (disk / "out" / LA).iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# --- killed at any moment -------------------------------------------------------------------

_KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from exports_builders import *
    import exports.submission as submission
    from transforms.changes import no_changes
    from transforms.periods import Period

    def stop_in(module, name):
        real = getattr(module, name)
        def slow(*args, **kwargs):
            result = real(*args, **kwargs)
            Path({marker!r}).write_text(name)
            time.sleep(120)
            return result
        setattr(module, name, slow)

    import {module} as target
    stop_in(target, {name!r})
    tables = random_tables(30, seed=9)
    submission.write_submission(
        Path({out!r}), LA, Period(CENSUS), tables, statistics_of(tables), sample_findings(),
        sample_counts(), replace=True, changes=no_changes(), previous=None,
    )
    """
)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("exports.submission", "write_table_csv"),  # one CSV on disk, the rest not
        ("exports.submission", "write_prepared_workbook"),
        ("exports.submission", "write_manifest"),  # every file written, not yet in place
        ("exports.files", "fsync_dir"),  # the rename done, its folder entry maybe not on disk
    ],
)
def test_a_run_killed_at_any_moment_leaves_the_old_or_the_new_submission(
    tmp_path: Path, module: str, name: str
) -> None:
    out = tmp_path / "out"
    first = _write(out)
    before = _tree(first.folder)
    marker = tmp_path / "marker"
    script = _KILLED.format(
        tests=str(Path(__file__).parent), marker=str(marker), out=str(out), module=module, name=name
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, f"writer exited early with {proc.returncode}"
            assert time.monotonic() < deadline, "writer never got there"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    la_dir = out / LA
    finished = [p for p in la_dir.iterdir() if not p.name.startswith(".")]
    # Whatever moment it died at, the census folder is a whole submission: the old one, or the
    # new one with the old kept beside it; anything else is a private partial folder.
    census = _tree(la_dir / C)
    if sorted(p.name for p in finished) == [C]:
        assert census == before
    else:
        assert sorted(p.name for p in finished) == [C, f"{C}.replaced-1"]
        assert _tree(la_dir / f"{C}.replaced-1") == before
        assert "manifest.json" in census
    for partial in la_dir.glob(f".{C}.partial-*"):
        assert partial.stat().st_mode & 0o077 == 0
    # The next run cleans up and writes.
    again = _write(out, replace=True)
    assert not list(la_dir.glob(f".{C}.partial-*"))
    assert again.folder == la_dir / C


# --- two runs at once -----------------------------------------------------------------------


def test_a_second_run_of_the_same_census_is_refused_in_one_line(tmp_path: Path) -> None:
    import fcntl

    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    with open(la_dir / f".{C}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SubmissionBusyError) as caught:
            _write(tmp_path / "out")
        with pytest.raises(SubmissionBusyError):
            write_failed_run_report(
                tmp_path / "out", LA, PERIOD, sample_findings(), sample_counts()
            )
    assert isinstance(caught.value, PipelineError)  # a run reports it as a failed period
    assert "\n" not in str(caught.value) and "another run is writing" in str(caught.value)
    assert not (la_dir / C).exists()
    assert _write(tmp_path / "out").folder == la_dir / C  # and once it is released, it runs


def test_a_lock_file_made_a_link_after_the_check_is_not_opened_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The link check comes first; the open itself refuses to follow one, for a link made in
    # between (here the check is skipped to stand for that moment).
    import exports.paths as paths

    target = tmp_path / "elsewhere"
    target.write_text("not ours\n")
    lock = tmp_path / ".2026-03-31.lock"
    lock.symlink_to(target)
    monkeypatch.setattr(paths, "check_not_symlink", lambda path, what: None)
    with pytest.raises(OutputPathError, match="is a symbolic link"):
        paths.open_lock(lock)
    assert target.read_text() == "not ours\n"
