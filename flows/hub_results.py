"""What a hub run hands back: one outcome per council, and how a hub run with a failed council
fails. Plain values only (codes, dates, counts, folder names and paths), so a council's result
crosses from a Dask worker process to the flow by pickle and reaches the audit log and terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.results import InputSummary, Outcome, PeriodResult
from schemas.errors import PipelineError


@dataclass(frozen=True)
class CouncilResult:
    """One council of a hub run: its folder under the sources folder and what became of it."""

    label: str  # the council's folder name: only a label, the council is its families' la_code
    source: str  # that folder
    outcome: Outcome
    la_code: str | None = None  # known once its families extract was validated
    period: PeriodResult | None = None  # when its period ran (written, up to date, refused)
    inputs: InputSummary | None = None  # when its extracts were validated
    message: str = ""  # why it failed (or a note), one line, never a value from the data

    @property
    def folder(self) -> str | None:
        return self.period.folder if self.period is not None else None

    def line(self) -> str:
        text = f"{self.label}: {self.outcome.value}"
        if self.la_code:
            text += f" ({self.la_code})"
        if self.message:
            text += f" - {self.message}"
        return text


@dataclass(frozen=True)
class HubResult:
    """The result of a hub run: one census date, every council in the sources folder."""

    census: str  # ISO census date
    councils: tuple[CouncilResult, ...] = ()
    cluster: str = ""  # which Dask cluster ran it, in words

    @property
    def failed(self) -> tuple[CouncilResult, ...]:
        return tuple(c for c in self.councils if not c.outcome.ok)

    def failure_message(self) -> str:
        """One line naming the councils that failed (empty when none did)."""
        failed = self.failed
        if not failed:
            return ""
        names = ", ".join(f"{c.label} ({c.outcome.value})" for c in failed)
        return f"{len(failed)} of {len(self.councils)} councils failed: {names}"

    def repeated_councils(self) -> dict[str, tuple[str, ...]]:
        """Council codes that more than one folder holds: each writes the same OUT/{la_code}/.
        (Folders held back for sharing a council failed without running: they write nothing.)"""
        folders: dict[str, list[str]] = {}
        for council in self.councils:
            if council.la_code and (council.period is not None or council.outcome.ok):
                folders.setdefault(council.la_code, []).append(council.label)
        return {la: tuple(labels) for la, labels in folders.items() if len(labels) > 1}


# The two exceptions travel inside Failed states between processes; an exception pickles as its
# class called with ``args``, so each says how to rebuild itself from its result.


class CouncilFailed(PipelineError):
    """One council of a hub run failed; ``council`` says how."""

    def __init__(self, council: CouncilResult) -> None:
        super().__init__(council.line())
        self.council = council

    def __reduce__(self) -> tuple[type[CouncilFailed], tuple[CouncilResult]]:
        return (CouncilFailed, (self.council,))


class HubFailed(PipelineError):
    """Councils ran and at least one failed; ``result`` says what happened to each."""

    def __init__(self, result: HubResult) -> None:
        super().__init__(result.failure_message())
        self.result = result

    def __reduce__(self) -> tuple[type[HubFailed], tuple[HubResult]]:
        return (HubFailed, (self.result,))
