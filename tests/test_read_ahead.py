"""The work ahead of a command-line run (extracts.read_ahead, flows.read_ahead): what a pull
takes from it is what it would have read itself, a file changed since is read again, and the
validation done ahead is taken only for exactly the frames read ahead."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from extracts.read_ahead import ReadAhead
from extracts.reader import read_extract
from extracts.source import ExtractSource
from flows.read_ahead import ValidationAhead
from schemas.models import EXTRACT_NAMES
from schemas.raw import RawExtract
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult, validate
from synth.generate import write_synthetic


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("extracts")
    write_synthetic(path, families=30, seed=11, defects=0.05)
    return path


def _copy(folder: Path, to: Path) -> Path:
    to.mkdir()
    for path in folder.iterdir():
        (to / path.name).write_bytes(path.read_bytes())
    return to


def _same(a: object, b: object) -> None:
    assert a is not None and b is not None
    assert a.name == b.name and a.source == b.source and a.sha256 == b.sha256  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(a.frame, b.frame)  # type: ignore[attr-defined]


def test_each_extract_taken_is_the_one_read_by_the_pull(folder: Path) -> None:
    source = ExtractSource(folder=folder)
    ahead = ReadAhead(source)
    for name in EXTRACT_NAMES:
        _same(ahead.take(source, name), read_extract(source, name))
    # Taken once: a second pull of the same extract reads for itself.
    assert ahead.take(source, "people") is None


def test_workbooks_are_read_two_at_a_time_and_as_the_pull_reads_them(
    folder: Path, tmp_path: Path
) -> None:
    assert ReadAhead(ExtractSource(folder=folder)).threads == 1  # CSV: one reader
    workbooks = tmp_path / "xlsx"
    write_synthetic(workbooks, families=30, seed=11, defects=0.05, fmt="xlsx")
    source = ExtractSource(folder=workbooks)
    ahead = ReadAhead(source)
    assert ahead.threads == 2
    for name in EXTRACT_NAMES:
        _same(ahead.take(source, name), read_extract(source, name))


def test_another_source_is_not_served(folder: Path) -> None:
    ahead = ReadAhead(ExtractSource(folder=folder))
    mapped = ExtractSource(folder=folder, column_map={"people": {"Person": "person_id"}})
    assert ahead.take(mapped, "people") is None
    ahead.close()


def test_a_file_changed_after_it_was_read_is_read_again(tmp_path: Path, folder: Path) -> None:
    copy = _copy(folder, tmp_path / "copy")
    source = ExtractSource(folder=copy)
    ahead = ReadAhead(source)
    # One thread reads in its order: once the last is taken, people has been read.
    assert ahead.take(source, ahead.order[-1]) is not None
    people = copy / "people.csv"
    lines = people.read_bytes().splitlines(keepends=True)
    people.write_bytes(b"".join(lines[:-1]))  # the last person removed
    stat = people.stat()
    os.utime(people, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ahead.take(source, "people") is None
    assert read_extract(source, "people").rows == len(lines) - 2
    ahead.close()


def test_a_read_that_failed_fails_the_pull_the_same_way(tmp_path: Path, folder: Path) -> None:
    copy = _copy(folder, tmp_path / "copy")
    (copy / "offences.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    source = ExtractSource(folder=copy)
    with pytest.raises(FatalInputError) as direct:
        read_extract(source, "offences")
    ahead = ReadAhead(source)
    with pytest.raises(FatalInputError) as taken:
        ahead.take(source, "offences")
    assert str(taken.value) == str(direct.value)
    ahead.close()


def test_the_biggest_file_is_read_first(folder: Path) -> None:
    ahead = ReadAhead(ExtractSource(folder=folder))
    sizes = [os.stat(folder / f"{name}.csv").st_size for name in ahead.order]
    assert sorted(ahead.order) == sorted(EXTRACT_NAMES)
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    ahead.close()


def test_extracts_arriving_are_those_read(folder: Path) -> None:
    source = ExtractSource(folder=folder)
    ahead = ReadAhead(source)
    arriving = ahead.arriving()
    assert list(arriving) == list(EXTRACT_NAMES)
    for name in reversed(EXTRACT_NAMES):  # any order: a look-up waits for its read
        _same(arriving[name], read_extract(source, name))
    ahead.close()


def test_a_database_is_never_read_ahead() -> None:
    with pytest.raises(ValueError, match="only a folder"):
        ReadAhead(ExtractSource(url="sqlite:///nowhere.db"))


def _taken(ahead: ReadAhead, source: ExtractSource) -> dict[str, RawExtract]:
    taken = {name: ahead.take(source, name) for name in EXTRACT_NAMES}
    assert all(raw is not None for raw in taken.values())
    return taken  # type: ignore[return-value]


EXTRACT_DAY = date(2026, 11, 1)


def _same_validation(a: ValidationResult, b: ValidationResult) -> None:
    assert a.la_code == b.la_code and a.column_notes == b.column_notes
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.counts, b.counts)
    for name in EXTRACT_NAMES:
        pd.testing.assert_frame_equal(a.clean[name], b.clean[name])


def test_the_validation_ahead_is_that_of_the_frames_taken(folder: Path) -> None:
    source = ExtractSource(folder=folder)
    reads = ReadAhead(source)
    ahead = ValidationAhead(reads, EXTRACT_DAY, None)
    raw = _taken(reads, source)
    taken = ahead.take(raw, EXTRACT_DAY, None)
    assert taken is not None
    assert not taken.findings.empty  # the defects were found, not an empty result
    _same_validation(taken, validate(raw, EXTRACT_DAY, None))
    assert ahead.take(raw, EXTRACT_DAY, None) is None  # once only
    assert not reads._all  # noqa: SLF001


@pytest.mark.parametrize("change", ["frame", "date", "council"])
def test_the_validation_ahead_is_not_taken_for_other_inputs(folder: Path, change: str) -> None:
    source = ExtractSource(folder=folder)
    reads = ReadAhead(source)
    ahead = ValidationAhead(reads, EXTRACT_DAY, None)
    raw = _taken(reads, source)
    day, council = EXTRACT_DAY, None
    if change == "frame":  # a pull that read its file again (it changed after the read ahead)
        raw["people"] = read_extract(source, "people")
    elif change == "date":
        day = date(2026, 11, 2)
    else:
        council = "E08000012"
    assert ahead.take(raw, day, council) is None


def test_a_validation_ahead_that_failed_is_not_taken(tmp_path: Path, folder: Path) -> None:
    copy = _copy(folder, tmp_path / "copy")
    source = ExtractSource(folder=copy)
    reads = ReadAhead(source)
    # Another council's code in the config: validation stops with F005, ahead as in the task.
    ahead = ValidationAhead(reads, EXTRACT_DAY, "E09000001")
    raw = _taken(reads, source)
    with pytest.raises(FatalInputError):
        validate(raw, EXTRACT_DAY, "E09000001")
    assert ahead.take(raw, EXTRACT_DAY, "E09000001") is None


def test_an_interrupted_command_neither_waits_for_the_reads_nor_leaves_its_api(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the first seconds of a run from big workbooks waited for the reads under way
    (one calamine call cannot be stopped part way), 23 to 32 s at 85,000 families: `close`
    waited, and then the interpreter's exit. Now the command's clean-up runs and it ends without
    them, still stopping a temporary API that no run took."""
    import threading

    import extracts.read_ahead as read_ahead_module
    import flows.local_server
    from flows.read_ahead import reads_under_way
    from nis_pipeline.cli import _end_now_if_reading

    release = threading.Event()
    started = threading.Event()
    real_read = read_ahead_module._read

    def slow_read(source: ExtractSource, name: str) -> object:
        started.set()
        release.wait(30)
        return real_read(source, name)

    monkeypatch.setattr(read_ahead_module, "_read", slow_read)
    ahead = ReadAhead(ExtractSource(folder=folder))
    try:
        assert started.wait(10)
        ahead.close(wait=False)  # returns with a read under way
        assert reads_under_way()
        ended: list[int] = []
        stopped: list[bool] = []
        monkeypatch.setattr(os, "_exit", ended.append)
        monkeypatch.setattr(flows.local_server, "stop_early_api", lambda: stopped.append(True))
        _end_now_if_reading(130)
        assert ended == [130] and stopped == [True]
    finally:
        release.set()
    for thread in threading.enumerate():
        if thread.name.startswith(read_ahead_module.READ_THREADS):
            thread.join(30)
    assert not reads_under_way()
    ended.clear()
    _end_now_if_reading(130)  # nothing under way: the interpreter ends as usual
    assert ended == []


def test_a_file_rewritten_in_place_at_the_same_size_is_read_again(
    tmp_path: Path, folder: Path
) -> None:
    # Same path, same size, same inode: only the modification time tells the read is stale.
    copy = _copy(folder, tmp_path / "copy")
    source = ExtractSource(folder=copy)
    ahead = ReadAhead(source)
    assert ahead.take(source, ahead.order[-1]) is not None  # every file has been read
    people = copy / "people.csv"
    before = people.stat()
    text = people.read_bytes()
    people.write_bytes(text.replace(b"2019-", b"2018-", 1))
    os.utime(people, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    after = people.stat()
    assert (after.st_size, after.st_ino) == (before.st_size, before.st_ino)
    assert people.read_bytes() != text
    assert ahead.take(source, "people") is None
    ahead.close()


def test_a_new_start_closes_the_work_ahead_of_the_last_and_a_stop_lets_go_of_it(
    tmp_path: Path, folder: Path
) -> None:
    from flows import read_ahead
    from flows.settings import load_settings

    settings = load_settings(None, source_path=folder, output_dir=tmp_path / "out")
    read_ahead.start_read_ahead(settings)
    first = read_ahead._current  # noqa: SLF001
    assert first is not None
    read_ahead.start_read_ahead(settings)
    # The first run's reads were dropped, not left to finish and hold their frames.
    assert read_ahead._current is not first  # noqa: SLF001
    assert first._reads == {} and first._all == {}  # noqa: SLF001
    read_ahead.stop_read_ahead()
    # Nothing is kept for a later run in the process: no reads, no validation (frames of
    # personal data) for it to find.
    assert read_ahead._current is None and read_ahead._validation is None  # noqa: SLF001
