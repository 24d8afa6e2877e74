"""What every command that reads the extracts checks and reports, in plain Python (no Prefect), so
that commands run without Prefect (``nis research-extract``) share the rules of the flows."""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

from schemas.codes import LA_CODE_PATTERN
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult


class StageError(RuntimeError):
    """An unexpected failure inside a stage, re-raised without the original message.

    Library messages can quote the values they choked on (a name, a date of birth), so only the
    exception type and where it happened are kept: enough to find the bug, nothing personal.
    """

    def __init__(self, stage: str, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            where = f" at {Path(last.filename).name}:{last.lineno} in {last.name}"
        super().__init__(f"{stage} failed: {type(exc).__name__}{where}")


# Errors whose messages are ours and fixed (codes, file names, census dates): passed on as they
# are. Everything else is wrapped in StageError.
_SAFE_ERRORS: tuple[type[BaseException], ...] = (FatalInputError, ConnectionError)


def guarded(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _SAFE_ERRORS:
        raise
    except Exception as exc:
        raise StageError(stage, exc) from None


class LaCodeError(Exception):
    """Neither the config nor the families extract names one council, or the code is malformed."""


def resolve_la_code(configured: str | None, validation: ValidationResult) -> str:
    """The council of a run: the configured ``la_code``, or else the single one of the families
    extract. Raises :class:`LaCodeError` when there is none, it is malformed, or the extract holds
    families of another council."""
    la_code = configured or validation.la_code
    if la_code is None:
        found = len(validation.la_codes)
        raise LaCodeError(
            "no la_code in the config and the families extract names "
            + ("none" if found == 0 else f"{found} different councils")
            + ": set la_code in the config file"
        )
    if not re.fullmatch(LA_CODE_PATTERN, la_code):
        raise LaCodeError(f"la_code {la_code!r} is not an ONS upper-tier authority code")
    others = [code for code in validation.la_codes if code != la_code]
    if others:
        # Another council's families in our extract: sending them would be a data breach, and
        # dropping them silently would hide a broken extract.
        raise LaCodeError(
            f"the families extract holds families of {', '.join(others)} as well as {la_code}: "
            "extract this council's families only"
        )
    return la_code
