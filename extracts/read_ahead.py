"""Reading a folder's extracts before the run asks for them.

A command-line run spends its first seconds waiting for Prefect's temporary API to start
(``flows.local_server``), with a core to spare. ``ReadAhead`` reads the ten files in the
background meanwhile, exactly as ``read_extract`` would (the same function), and hands each over
when the run's pull task asks for it. What a pull task gets is what it would have read itself:
the read-ahead is used only for the same source (folder and column map) and only while the
file found for the extract is still the same file, unchanged (path, size, modification time,
inode); otherwise the task reads the file again. A read that failed fails the pull task with
the same error. Database sources are never read ahead: their pulls keep their retries.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from extracts.reader import find_extract_file, read_extract
from extracts.source import ExtractSource
from schemas.models import EXTRACT_NAMES
from schemas.raw import RawExtract

# One thread leaves the other core to the API's start-up and the run's own imports (two CSV
# readers only fight over the cores with the validation ahead). Workbooks take two: calamine
# parses a sheet without holding the GIL, and their read, not their validation, is then the
# run's longest chain (85,000 families from workbooks: 37.0 -> 33.4 s, docs/performance.md).
READ_AHEAD_THREADS = 1
WORKBOOK_READ_AHEAD_THREADS = 2

# The reading threads' names begin so: an interrupted command does not wait for them to end.
READ_THREADS = "nis-read-ahead"

FileSignature = tuple[str, int, int, int]


def _signature(folder: Path, name: str) -> FileSignature | None:
    try:
        path = find_extract_file(folder, name)
        stat = os.stat(path)
    except Exception:  # the pull task's own read says what is wrong
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


Read = tuple[FileSignature | None, RawExtract | Exception]


def _read(source: ExtractSource, name: str) -> Read:
    assert source.folder is not None
    before = _signature(Path(source.folder), name)
    try:
        return before, read_extract(source, name)
    except Exception as exc:  # raised again by ``take``, if the file is still the same
        return before, exc


def _largest_first(folder: Path) -> list[str]:
    def size(name: str) -> int:
        try:
            return os.stat(find_extract_file(folder, name)).st_size
        except Exception:  # the read says what is wrong
            return 0

    return sorted(EXTRACT_NAMES, key=lambda name: -size(name))


def _suffix(folder: Path, name: str) -> str:
    try:
        return find_extract_file(folder, name).suffix.lower()
    except Exception:  # the read says what is wrong
        return ""


class _Arriving(Mapping[str, RawExtract]):
    def __init__(self, reads: dict[str, Future[Read]]) -> None:
        self._reads = reads

    def __getitem__(self, name: str) -> RawExtract:
        raw = self._reads[name].result()[1]
        if isinstance(raw, Exception):
            raise raw
        return raw

    def __iter__(self) -> Iterator[str]:
        return iter(EXTRACT_NAMES)

    def __len__(self) -> int:
        return len(EXTRACT_NAMES)


class ReadAhead:
    """The ten extracts of a folder source, being read in the background."""

    def __init__(self, source: ExtractSource) -> None:
        if source.folder is None or source.url is not None:
            raise ValueError("only a folder of files is read ahead")
        self._source = source
        # Biggest file first: it takes longest to read and to validate, so the others are read
        # while it is validated (``arriving``).
        self.order = _largest_first(Path(source.folder))
        workbooks = _suffix(Path(source.folder), self.order[0]) == ".xlsx"
        self.threads = WORKBOOK_READ_AHEAD_THREADS if workbooks else READ_AHEAD_THREADS
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=READ_THREADS)
        self._reads: dict[str, Future[Read]] = {
            name: self._pool.submit(_read, source, name) for name in self.order
        }
        # Kept past ``take`` for ``arriving`` and ``handed_over``, until ``forget``.
        self._all = dict(self._reads)
        self._pool.shutdown(wait=False)

    def take(self, source: ExtractSource, name: str) -> RawExtract | None:
        """The extract read ahead for ``source``, or None when the caller must read it itself
        (another source, taken already, or the file changed since). Raises what the read
        raised."""
        if source != self._source or name not in self._reads:
            return None
        signature, raw = self._reads.pop(name).result()
        assert source.folder is not None
        if signature is None or signature != _signature(Path(source.folder), name):
            return None
        if isinstance(raw, Exception):
            raise raw
        return raw

    def arriving(self) -> Mapping[str, RawExtract]:
        """The ten extracts as they are read: looking one up waits for its read, and raises
        what the read raised."""
        return _Arriving(dict(self._all))

    def handed_over(self, raw: Mapping[str, RawExtract]) -> bool:
        """Whether ``raw`` is exactly what ``take`` handed over: the same ten objects, so
        whatever was made from ``arriving`` was made from the very frames the run holds."""
        if raw.keys() != self._all.keys() or self._reads:
            return False  # an extract not taken was read by its pull task itself
        for name, read in self._all.items():
            if not read.done() or read.cancelled() or read.result()[1] is not raw[name]:
                return False
        return True

    def forget(self) -> None:
        """Let go of the frames read, so the run alone decides how long they live."""
        self._all = {}

    def close(self, wait: bool = True) -> None:
        """Drop what was not taken (a run that stopped early). Waits for a read under way unless
        told not to (an interrupted command, which then ends without it: ``READ_THREADS``)."""
        for read in self._reads.values():
            read.cancel()
        if wait:
            for read in self._reads.values():
                if not read.cancelled():
                    read.result()  # a read under way: wait for it (its error is kept, not raised)
        self._reads.clear()
        self.forget()
