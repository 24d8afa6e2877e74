"""What a run hands back: one outcome per period, and the exit code the CLI maps it to.

Messages hold census dates, counts, rule codes and paths, never a value from the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

EXIT_OK = 0
EXIT_FAILED = 1  # the quarantine threshold was exceeded, or a period failed
EXIT_FATAL = 2  # nothing ran: a missing or unreadable extract, a bad census date, a bad config


class Outcome(StrEnum):
    WRITTEN = "written"
    UP_TO_DATE = "up to date"
    THRESHOLD_EXCEEDED = "threshold exceeded"
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        return self in (Outcome.WRITTEN, Outcome.UP_TO_DATE)


@dataclass(frozen=True)
class PeriodResult:
    census: str  # ISO census date
    la_code: str
    outcome: Outcome
    folder: str | None = None  # the finished submission folder (written or up to date)
    files: tuple[str, ...] = ()  # names of the files in it
    message: str = ""  # one line for the terminal and the run's final state
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
        return f"{self.census}: changes since {self.previous_census}: {counts}"


@dataclass(frozen=True)
class RunResult:
    """The result of a submission run (one period) or a backfill (several)."""

    periods: tuple[PeriodResult, ...] = ()
    # Set when the run stopped before any period ran: ``fatal`` for a problem the user must fix
    # (a missing extract, a bad config or census date), ``error`` for anything unexpected.
    fatal: str | None = None
    error: str | None = None
    la_code: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[PeriodResult, ...]:
        return tuple(p for p in self.periods if not p.outcome.ok)

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return EXIT_FATAL
        return EXIT_FAILED if self.error is not None or self.failed else EXIT_OK

    def failure_message(self) -> str:
        """One line naming what failed (empty when nothing did)."""
        if self.fatal is not None:
            return self.fatal
        if self.error is not None:
            return self.error
        failed = self.failed
        if not failed:
            return ""
        if len(self.periods) == 1:
            return failed[0].line()
        names = ", ".join(f"{p.census} ({p.outcome.value})" for p in failed)
        return f"{len(failed)} of {len(self.periods)} periods failed: {names}"
