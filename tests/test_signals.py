"""A Ctrl-C or SIGTERM that a library wrapped is found again (flows.signals), and Prefect's log of
the error it caused carries no traceback (flows.tasks)."""

from __future__ import annotations

import logging

from prefect.exceptions import TerminationSignal

from flows.signals import signal_inside
from flows.tasks import _QuietExpectedErrors


def _raised_while_handling(signal: BaseException) -> ValueError:
    # As Prefect's task engine does when SIGTERM lands while it creates a task run.
    try:
        try:
            raise signal
        except BaseException:
            raise ValueError("Task run is not set")  # noqa: B904 - the context is the point
    except ValueError as error:
        return error


def _record(exc: BaseException) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__)
    return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "m", (), info)


def test_a_signal_is_found_behind_the_error_it_caused() -> None:
    term = TerminationSignal(signal=15)
    assert signal_inside(_raised_while_handling(term)) is term
    ctrl_c = KeyboardInterrupt()
    assert signal_inside(_raised_while_handling(ctrl_c)) is ctrl_c
    assert signal_inside(ValueError("a real failure")) is None


def test_prefects_log_of_an_interrupt_has_no_traceback() -> None:
    quiet = _QuietExpectedErrors()
    for exc in (_raised_while_handling(TerminationSignal(signal=15)), KeyboardInterrupt()):
        record = _record(exc)
        assert quiet.filter(record)  # the line stays, without its traceback
        assert record.exc_info is None
    failure = _record(ValueError("a real failure"))
    assert quiet.filter(failure)
    assert failure.exc_info is not None  # a real failure keeps its traceback
