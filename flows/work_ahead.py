"""Work done ahead in a daemon thread, for a task to take later (``flows.read_ahead``,
``flows.compute_ahead``).

Its result is handed over once. When the work raised, the result is None: the task then does
the work itself, so what it returns and the errors it reports are always its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WorkAhead(Generic[T]):
    """``work()`` started now in a daemon thread named ``name`` (a run interrupted meanwhile
    does not wait for it)."""

    def __init__(self, work: Callable[[], T], name: str) -> None:
        self._result: T | None = None
        self._done = threading.Event()
        threading.Thread(target=self._run, args=(work,), name=name, daemon=True).start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            self._result = work()
        except Exception:  # noqa: S110 - the task does the work again and reports it
            self._result = None
        finally:
            self._done.set()

    def result(self) -> T | None:
        """What the work returned (waits for it), None when it raised; once only."""
        self._done.wait()
        result, self._result = self._result, None
        return result
