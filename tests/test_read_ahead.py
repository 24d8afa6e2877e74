"""The read-ahead of a command-line run (extracts.read_ahead): what a pull takes from it is what
it would have read itself, and a file changed since is read again."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from extracts.read_ahead import ReadAhead
from extracts.reader import read_extract
from extracts.source import ExtractSource
from schemas.models import EXTRACT_NAMES
from schemas.rules import FatalInputError
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


def test_another_source_is_not_served(folder: Path) -> None:
    ahead = ReadAhead(ExtractSource(folder=folder))
    mapped = ExtractSource(folder=folder, column_map={"people": {"Person": "person_id"}})
    assert ahead.take(mapped, "people") is None
    ahead.close()


def test_a_file_changed_after_it_was_read_is_read_again(tmp_path: Path, folder: Path) -> None:
    copy = _copy(folder, tmp_path / "copy")
    source = ExtractSource(folder=copy)
    ahead = ReadAhead(source)
    # One thread reads in the extracts' order: once the last is taken, people has been read.
    assert ahead.take(source, EXTRACT_NAMES[-1]) is not None
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


def test_a_database_is_never_read_ahead() -> None:
    with pytest.raises(ValueError, match="only a folder"):
        ReadAhead(ExtractSource(url="sqlite:///nowhere.db"))
