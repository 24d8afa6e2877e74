"""Plain parts of the run's tasks (flows/tasks.py), without a Prefect server: what a database
pull's retry says on the terminal, and which failures it retries."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from flows import tasks
from schemas.errors import PipelineError


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


def _record(
    message: str, exc: BaseException, logger: str = "prefect.flow_runs"
) -> logging.LogRecord:
    """A log record carrying ``exc`` as Prefect's engine logs a failed run, traceback and all."""
    try:
        raise exc
    except BaseException:
        return logging.LogRecord(logger, logging.ERROR, __file__, 1, message, None, sys.exc_info())


def _wrapped_interrupt() -> ValueError:
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as interrupt:
        error = ValueError("Task run is not set")
        error.__cause__ = interrupt
        return error


@pytest.mark.parametrize(
    "expected",
    [
        PipelineError("F001 people.csv not found"),
        ConnectionError("the database does not answer"),
        _wrapped_interrupt(),
    ],
    ids=["pipeline error", "lost connection", "interrupt wrapped by Prefect"],
)
def test_an_expected_failure_is_logged_in_one_line_without_its_traceback(
    expected: BaseException,
) -> None:
    quiet = tasks._QuietExpectedErrors()
    record = _record("Finished in state Failed", expected)
    assert quiet.filter(record) is True
    assert record.exc_info is None and record.exc_text is None
    # The engine's "unexpected exception" line for it says nothing the run has not said.
    assert quiet.filter(_record(tasks._ENGINE_EXIT, expected)) is False
    # A task's "Task run failed with exception: ..." for the pipeline's own error or a lost
    # connection is dropped whole: the flow says the reason once. An interrupt's stays.
    task_line = _record("Task run failed with exception", expected, "prefect.task_runs")
    assert quiet.filter(task_line) is isinstance(expected, ValueError)


def test_an_unexpected_failure_keeps_its_traceback() -> None:
    quiet = tasks._QuietExpectedErrors()
    record = _record("Task run failed", ZeroDivisionError("division by zero"), "prefect.task_runs")
    assert quiet.filter(record) is True
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert quiet.filter(_record(tasks._ENGINE_EXIT, ZeroDivisionError())) is True
