"""A period's tables computed in a thread, for the compute task to take: the next period of a
backfill while the current one is written, and a run's first period as soon as its extracts are
validated (while the flow makes its requests to the API before the compute task).

A backfill's periods run one after another: each period's changes are made against the period
before it, finished and read back (spec section 6). Computing a period's tables needs only the
validated extracts, though, so period N+1's are computed in a thread while period N's changes
and files are made (writing a workbook leaves part of the two cores idle). The compute task of
N+1 takes them only for the very frames and the census date they were computed from, and
computes itself when they are not there or the computation ahead failed, so what it returns and
the errors it raises are always its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from exports.priority import in_background
from flows.work_ahead import WorkAhead
from transforms.periods import Period

_ahead: _ComputeAhead | None = None


Compute = Callable[[Mapping[str, pd.DataFrame], Period], Any]


class _ComputeAhead:
    def __init__(
        self,
        clean: Mapping[str, pd.DataFrame],
        period: Period,
        compute: Compute,
        background: bool,
    ) -> None:
        self.clean, self.period = clean, period
        self.work = WorkAhead(lambda: self._compute(compute, background), "nis-compute-ahead")

    def _compute(self, compute: Compute, background: bool) -> Any:
        if background:
            in_background()  # the period being written goes first: this is wanted only after it
        return compute(self.clean, self.period)


def start_computing(
    clean: Mapping[str, pd.DataFrame], period: Period, compute: Compute, background: bool = True
) -> None:
    """Start ``compute(clean, period)`` in a thread, in place of any computation ahead not taken:
    at a lower priority (``background``) when it is the next period of a backfill, at the
    thread's own when it is the period the run is about to compute."""
    global _ahead
    _ahead = _ComputeAhead(clean, period, compute, background)


def computed_ahead(clean: Mapping[str, pd.DataFrame], period: Period) -> Any:
    """What was computed ahead from exactly ``clean`` for ``period`` (waits for it), or None:
    the caller computes. Taken once."""
    global _ahead
    ahead = _ahead
    if ahead is None or ahead.clean is not clean or ahead.period != period:
        return None
    _ahead = None
    return ahead.work.result()


def drop_computed_ahead() -> None:
    """Forget a computation ahead that will not be taken (the backfill ended)."""
    global _ahead
    _ahead = None
