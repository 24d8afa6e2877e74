"""A Ctrl-C or SIGTERM that a library wrapped is found again (flows.signals), and Prefect's record
of it stays off the terminal."""

from __future__ import annotations

import logging
import sys

from prefect.exceptions import TerminationSignal
from prefect.logging.handlers import PrefectConsoleHandler

from flows.signals import _InterruptNoise, quiet_interrupt_tracebacks, signal_inside


def _raised_while_handling(signal: BaseException) -> ValueError:
    # As Prefect's task engine does when SIGTERM lands while it creates a task run.
    try:
        try:
            raise signal
        except BaseException:
            raise ValueError("Task run is not set")  # noqa: B904 - the context is the point
    except ValueError as error:
        return error


def _record(exc: BaseException | None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "m", (), info)


def test_a_signal_is_found_behind_the_error_it_caused() -> None:
    term = TerminationSignal(signal=15)
    assert signal_inside(_raised_while_handling(term)) is term
    ctrl_c = KeyboardInterrupt()
    assert signal_inside(_raised_while_handling(ctrl_c)) is ctrl_c
    assert signal_inside(ValueError("a real failure")) is None


def test_prefects_record_of_an_interrupt_stays_off_the_terminal() -> None:
    noise = _InterruptNoise()
    assert not noise.filter(_record(_raised_while_handling(TerminationSignal(signal=15))))
    assert not noise.filter(_record(KeyboardInterrupt()))
    assert noise.filter(_record(ValueError("a real failure")))  # a failure is still shown
    assert noise.filter(_record(None))


def test_the_filter_goes_on_prefects_terminal_handler_once() -> None:
    handler = PrefectConsoleHandler(stream=sys.stderr)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        quiet_interrupt_tracebacks()
        quiet_interrupt_tracebacks()
        assert [type(f) for f in handler.filters] == [_InterruptNoise]
    finally:
        root.removeHandler(handler)
