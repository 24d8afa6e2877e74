"""The pipeline's own exceptions and the one set of exit codes every command uses.

Every failure a user can cause or meet is a :class:`PipelineError`: its message is one line that
names the file, folder, setting or census date concerned (never a value from the data), and its
``exit_code`` is what the command line ends with. Anything else that escapes is a bug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # The run ran and refused or failed part-way: too many rows quarantined, a period failed, a
    # finished submission in the way, another run busy, an unexpected failure.
    FAILED = 1
    # Nothing ran: a user's mistake in the input, the config or the arguments.
    FATAL = 2


class PipelineError(Exception):
    """A failure with a one-line message that is safe to show and log."""

    exit_code: ExitCode = ExitCode.FAILED


class UserInputError(PipelineError):
    """A mistake in the extracts, the config or the arguments: nothing was written."""

    exit_code = ExitCode.FATAL
