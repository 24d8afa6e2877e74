"""The work a command-line run does ahead, while Prefect's API starts (``flows.local_server``):
started by the command, taken from by the run's tasks in the same process. A run under a worker
has none, and its tasks do all their work themselves.

Two things are done ahead: reading the ten extracts (``extracts.read_ahead``) and validating
them as they are read. The validate task takes the validation done ahead only when it was
given exactly the frames read ahead (the same ten objects, so no file changed since) and validates
as of the same extract date for the same council; otherwise, or when the validation ahead failed,
it validates the frames it was given itself, so its result and its errors are always its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from extracts.read_ahead import READ_THREADS, ReadAhead
from extracts.source import ExtractSource
from flows.settings import Settings
from flows.work_ahead import WorkAhead
from schemas.raw import RawExtract

if TYPE_CHECKING:
    from schemas.validation import ValidationResult

_current: ReadAhead | None = None
_validation: ValidationAhead | None = None


class ValidationAhead:
    """The validation of what ``reads`` reads, in a thread of its own, each extract parsed as
    soon as it is read.

    The thread is a daemon: a run interrupted meanwhile waits only for the parse under way.
    """

    def __init__(self, reads: ReadAhead, extract_date: date, la_code: str | None) -> None:
        self.extract_date, self.la_code = extract_date, la_code
        self._reads: ReadAhead | None = reads
        self._work = WorkAhead(lambda: self._validate(reads), "nis-validate-ahead")

    def _validate(self, reads: ReadAhead) -> ValidationResult:
        from schemas.validation import validate

        # Each extract is parsed as soon as it is read, the biggest first.
        return validate(reads.arriving(), self.extract_date, self.la_code, parse_order=reads.order)

    def take(
        self, raw: Mapping[str, RawExtract], extract_date: date, la_code: str | None
    ) -> ValidationResult | None:
        """The validation done ahead of exactly ``raw``, as of ``extract_date`` for
        ``la_code`` (waits for it), or None when the caller must validate itself. Once only."""
        reads, self._reads = self._reads, None
        if reads is None or (extract_date, la_code) != (self.extract_date, self.la_code):
            return None
        try:
            if not reads.handed_over(raw):
                return None
            return self._work.result()
        finally:
            reads.forget()


def start_read_ahead(settings: Settings) -> None:
    global _current, _validation
    stop_read_ahead()
    source = settings.extract_source()
    if source.url is None and source.folder is not None:
        _current = ReadAhead(source)
        _validation = ValidationAhead(_current, settings.resolved_extract_date(), settings.la_code)


def taken_ahead(source: ExtractSource, name: str) -> RawExtract | None:
    """The extract read ahead for this source, or None: the caller reads it."""
    return _current.take(source, name) if _current is not None else None


def validated_ahead(
    raw: Mapping[str, RawExtract], extract_date: date, la_code: str | None
) -> ValidationResult | None:
    """The validation done ahead of exactly these frames, or None: the caller validates them."""
    return _validation.take(raw, extract_date, la_code) if _validation is not None else None


def stop_read_ahead(wait: bool = True) -> None:
    """Drop the work ahead; ``wait=False`` (an interrupted command) leaves a read under way to
    the command's exit, which does not wait for it."""
    global _current, _validation
    _validation = None  # a validation under way is left to end on its own (a daemon thread)
    if _current is not None:
        _current.close(wait)
        _current = None


def reads_under_way() -> bool:
    """Whether a read ahead is still going (left by an interrupted command)."""
    return any(
        thread.name.startswith(READ_THREADS) and thread.is_alive()
        for thread in threading.enumerate()
    )
