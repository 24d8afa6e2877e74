"""Standard output and error whose reader may leave: ``nis hub ... | head -1``, a closed pager.

Python ignores SIGPIPE, so a write to a pipe nobody reads raises BrokenPipeError wherever the
command printed: the hub's flow failed on its second line and wrote no council at all, and a
run that had written its submission ended exit 1 on its summary. The work does not depend on
anyone reading about it: once the reader has gone, what the command would print goes to
``/dev/null`` and the command finishes its work, its audit line and its exit code as it would
have. (A tool killed by SIGPIPE would instead stop part way, without clean-up or audit line.)
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, TextIO


class ReaderMayLeave:
    """``stream``, writing to ``/dev/null`` from the moment its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._reader_gone()

    def _reader_gone(self) -> None:
        # The descriptor itself now leads nowhere, so that the text still buffered, and
        # Python's own flush at exit, go quietly too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)
        with contextlib.suppress(BrokenPipeError, ValueError):  # ValueError: closed meanwhile
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def keep_going_when_the_reader_leaves() -> None:
    """For the console script: standard output and error (``2>&1 | head``) that a reader
    leaving cannot break."""
    if sys.stdout is not None and not isinstance(sys.stdout, ReaderMayLeave):
        sys.stdout = ReaderMayLeave(sys.stdout)  # type: ignore[assignment]
    if sys.stderr is not None and not isinstance(sys.stderr, ReaderMayLeave):
        sys.stderr = ReaderMayLeave(sys.stderr)  # type: ignore[assignment]
