"""The read-ahead of a command-line run (``extracts.read_ahead``): started by the command before
Prefect's API is up, taken from by the run's pull tasks in the same process. A run under a
worker has none, and its pull tasks read the files themselves."""

from __future__ import annotations

from extracts.read_ahead import ReadAhead
from extracts.source import ExtractSource
from flows.settings import Settings
from schemas.raw import RawExtract

_current: ReadAhead | None = None


def start_read_ahead(settings: Settings) -> None:
    global _current
    stop_read_ahead()
    source = settings.extract_source()
    if source.url is None and source.folder is not None:
        _current = ReadAhead(source)


def taken_ahead(source: ExtractSource, name: str) -> RawExtract | None:
    """The extract read ahead for this source, or None: the caller reads it."""
    return _current.take(source, name) if _current is not None else None


def stop_read_ahead() -> None:
    global _current
    if _current is not None:
        _current.close()
        _current = None
