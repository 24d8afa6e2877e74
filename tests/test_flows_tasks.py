"""Plain parts of the run's tasks (flows/tasks.py), without a Prefect server: what a database
pull's retry says on the terminal, and which failures it retries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from flows import tasks


class _Ended:
    """A task run's final state as the retry condition sees it: its result raises."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return "read"


def _retry(run_count: int, error: BaseException | None) -> bool:
    task_run = SimpleNamespace(name="pull-families", run_count=run_count)
    return tasks._retry_on_connection(None, task_run, _Ended(error))  # type: ignore[arg-type]


def test_each_retry_says_its_own_wait(capsys: pytest.CaptureFixture[str]) -> None:
    assert tasks.DB_RETRY_DELAYS == [10, 30, 90] and tasks.DB_RETRIES == 3
    assert all(_retry(n, ConnectionError("refused")) for n in (1, 2, 3))
    assert capsys.readouterr().err.splitlines() == [
        "waiting: families: the database does not answer; trying again in 10 s (retry 1 of 3)",
        "waiting: families: the database does not answer; trying again in 30 s (retry 2 of 3)",
        "waiting: families: the database does not answer; trying again in 90 s (retry 3 of 3)",
    ]


def test_only_a_lost_connection_is_retried(capsys: pytest.CaptureFixture[str]) -> None:
    # A bad query or a value that cannot be read fails the same way again: no retry, no line.
    assert _retry(1, ValueError("column missing")) is False
    assert _retry(1, None) is False
    assert capsys.readouterr().err == ""
