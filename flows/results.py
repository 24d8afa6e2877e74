"""What a run hands back: one outcome per period, and how a failed run fails.

A run that fails ends in a Failed state whose message is its one-line reason and whose data is
a :class:`~schemas.errors.PipelineError` carrying that reason (and, when periods ran, the
:class:`RunResult`), so calling a flow from Python raises the pipeline's own exception, a worker
logs one line, and the command line maps it to its exit code.

Messages hold census dates, counts, rule codes and paths, never a value from the data.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from flows.signals import reraise_signal, stop_if_interrupted
from schemas.errors import ExitCode, PipelineError


class Outcome(StrEnum):
    WRITTEN = "written"
    UP_TO_DATE = "up to date"
    THRESHOLD_EXCEEDED = "threshold exceeded"
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        return self in (Outcome.WRITTEN, Outcome.UP_TO_DATE)


@dataclass(frozen=True)
class CohortSizes:
    nis_families: int
    nis_people: int
    fpd_families: int
    fpd_people: int
    opted_out: int


@dataclass(frozen=True)
class InputSummary:
    """What validation made of a run's extracts, in counts (the same as the manifest's)."""

    rows_read: int
    rows_quarantined: int
    rows_warned: int
    people_read: int
    people_quarantined: int
    threshold: float
    # Headers the run could not place, the worrying ones first (see schemas.columns).
    column_notes: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.people_quarantined / self.people_read if self.people_read else 0.0


@dataclass(frozen=True)
class PeriodResult:
    census: str  # ISO census date
    la_code: str
    outcome: Outcome
    folder: str | None = None  # the finished submission folder (written or up to date)
    files: tuple[str, ...] = ()  # names of the files in it
    message: str = ""  # one line for the terminal and the run's final state
    cohort: CohortSizes | None = None  # when the period's tables were computed
    report: str | None = None  # the validation report to open
    # Changes since the previous submission (spec section 6), when this run compared with one:
    # its census date, and the rows per kind of change in the contract's order.
    previous_census: str | None = None
    change_counts: tuple[tuple[str, int], ...] = ()

    def line(self) -> str:
        text = f"{self.census}: {self.outcome.value}"
        if self.folder:
            text += f" - {self.folder}"
        if self.message:
            text += f" - {self.message}"
        return text

    def changes_line(self) -> str:
        """The change counts in one line ("" when nothing was compared)."""
        if self.previous_census is None:
            return ""
        counts = ", ".join(f"{kind} {n}" for kind, n in self.change_counts if n) or "none"
        return f"changes since {self.previous_census}: {counts}"


@dataclass(frozen=True)
class RunResult:
    """The result of a submission run (one period) or a backfill (several)."""

    periods: tuple[PeriodResult, ...] = ()
    la_code: str | None = None
    inputs: InputSummary | None = None

    @property
    def failed(self) -> tuple[PeriodResult, ...]:
        return tuple(p for p in self.periods if not p.outcome.ok)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.FAILED if self.failed else ExitCode.OK

    def failure_message(self) -> str:
        """One line naming what failed (empty when nothing did)."""
        failed = self.failed
        if not failed:
            return ""
        if len(self.periods) == 1:
            return failed[0].line()
        names = ", ".join(f"{p.census} ({p.outcome.value})" for p in failed)
        return f"{len(failed)} of {len(self.periods)} periods failed: {names}"


class RunFailed(PipelineError):
    """Periods ran and at least one failed (the threshold, a submission in the way, a write that
    failed); ``result`` says what happened to each."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result.failure_message())
        self.result = result


class PeriodFailed(PipelineError):
    """One period of a backfill failed; ``period`` says how."""

    def __init__(self, period: PeriodResult) -> None:
        super().__init__(period.line())
        self.period = period


class SourceUnavailable(PipelineError):
    """The database (or a file share) could not be reached, after the retries a database pull
    gets. The message is the reader's own: a table name and an error type, never a value."""


class StageError(PipelineError):
    """An unexpected failure inside a stage (a bug, or the machine), re-raised without the
    original message: library messages can quote the values they choked on, so only the
    exception type and where it happened are kept."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            where = f" at {Path(last.filename).name}:{last.lineno} in {last.name}"
        super().__init__(f"{stage} failed: {type(exc).__name__}{where}")


def guarded(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; a pipeline error or a lost database connection passes as it is (their messages
    are ours and safe), a Ctrl-C or SIGTERM that a library turned into its own error stops the run
    as the signal, anything else becomes a StageError."""
    stop_if_interrupted()
    try:
        return fn(*args, **kwargs)
    except (PipelineError, ConnectionError):
        raise
    except Exception as exc:
        reraise_signal(exc)
        raise StageError(stage, exc) from None
