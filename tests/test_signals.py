"""A Ctrl-C or SIGTERM that a library wrapped is found again (flows.signals), and Prefect's log of
the error it caused carries no traceback (flows.tasks)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable

import pytest
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


def _nested_serialiser_error(raised: BaseException) -> Exception:
    """What pydantic raises when ``raised`` comes inside a serialiser called by another, as in
    Prefect's settings, which its logging serialises while Prefect is imported."""
    from typing import Any

    from pydantic import BaseModel, model_serializer

    class Inner(BaseModel):
        value: int = 1

        @model_serializer(mode="wrap")
        def _ser_model(self, handler: Any) -> Any:
            raise raised

    class Outer(BaseModel):
        inner: Inner = Inner()

        @model_serializer(mode="wrap")
        def _ser_model(self, handler: Any) -> Any:
            return handler(self)

    try:
        Outer().model_dump()
    except Exception as error:
        return error
    raise AssertionError("the serialiser raised nothing")


def test_a_signal_is_found_in_the_words_of_a_twice_wrapping_serialiser() -> None:
    """The outer error keeps neither cause nor context: only its message names the signal. A
    Ctrl-C there ended `nis run` "failed unexpectedly: PydanticSerializationError", exit 1."""
    from flows.signals import Terminated

    wrapped = _nested_serialiser_error(KeyboardInterrupt())
    assert type(wrapped).__name__ == "PydanticSerializationError"
    assert wrapped.__cause__ is None and wrapped.__context__ is None
    found = signal_inside(wrapped)
    assert type(found) is KeyboardInterrupt
    assert type(signal_inside(_nested_serialiser_error(Terminated()))) is Terminated
    term = signal_inside(_nested_serialiser_error(TerminationSignal(signal=15)))
    assert isinstance(term, TerminationSignal) and term.signal == 15


def test_a_serialisers_own_error_is_no_signal() -> None:
    assert signal_inside(_nested_serialiser_error(ValueError("KeyboardInterrupt"))) is None
    assert signal_inside(_nested_serialiser_error(RuntimeError("Terminated: 15"))) is None
    # Only pydantic's own error is read by its words: another error saying the same (a message
    # can quote anything) is no signal.
    assert signal_inside(ValueError("Error calling function `f`: KeyboardInterrupt")) is None


def test_a_signal_wrapped_once_is_the_signal_itself() -> None:
    """Wrapped once, pydantic keeps the signal as the cause: that very exception is found."""
    from pydantic import BaseModel, model_serializer

    ctrl_c = KeyboardInterrupt()

    class Once(BaseModel):
        @model_serializer(mode="plain")
        def _ser(self) -> object:
            raise ctrl_c

    try:
        Once().model_dump()
    except Exception as error:
        assert signal_inside(error) is ctrl_c


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_swallowed_interrupt_is_seen_when_the_next_step_starts(
    monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    """Prefect's SIGTERM handler (while a flow runs) raises its TerminationSignal and hands the
    signal on only when that reaches it. Caught on the way (a logging handler catches whatever
    error formatting a record raised, and pydantic had made the signal its own error), the run
    went on and exited 0. The interpreter's note of the signal still stops the next step; so
    for a Ctrl-C whose KeyboardInterrupt a library caught."""
    import flows.signals
    from flows.signals import (
        Terminated,
        forget_interrupts,
        stop_if_interrupted,
        watch_for_interrupts,
    )

    expected = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    monkeypatch.setattr(flows.signals, "_wakeup", None)
    previous_fd = signal.set_wakeup_fd(-1)
    previous = signal.signal(signum, lambda signum, frame: None)  # caught, and lost
    try:
        watch_for_interrupts()
        stop_if_interrupted()  # nothing yet
        os.kill(os.getpid(), signum)
        time.sleep(0.1)  # the handler runs between bytecodes
        with pytest.raises(expected) as raised:
            stop_if_interrupted()
        # A Ctrl-C is not taken for SIGTERM (exit 130, not 143).
        assert isinstance(raised.value, Terminated) == (signum == signal.SIGTERM)
        with pytest.raises(expected):
            stop_if_interrupted()  # and at every step after
    finally:
        signal.signal(signum, previous)
        signal.set_wakeup_fd(previous_fd)
        forget_interrupts()
    stop_if_interrupted()


@pytest.mark.parametrize(("kind", "raised"), [("sigterm", "Terminated"), ("sigint", "Ctrl-C")])
def test_every_step_of_a_run_stops_on_an_interrupt_noted_before(kind: str, raised: str) -> None:
    from flows.backfill import write_period
    from flows.results import StageError, guarded
    from flows.signals import Terminated, forget_interrupts, note_interrupt
    from flows.tasks import (
        compare_with_previous,
        compute_submission,
        export_submission,
        package_period,
        pull_extract,
        validate_extracts,
    )

    expected: type[BaseException] = Terminated if raised == "Terminated" else KeyboardInterrupt
    called: list[str] = []
    steps: dict[str, Callable[[], object]] = {
        "pull": lambda: pull_extract.fn(None, "people"),
        "validate": lambda: validate_extracts.fn({}, None, None),
        "compute": lambda: compute_submission.fn({}, None),
        "compare": lambda: compare_with_previous.fn(None, "E08000012", None, None),
        "export": lambda: export_submission.fn(None, None, None, False, None),
        "package": lambda: package_period.fn(None, None, "recipient"),
        "period": lambda: write_period.fn(None, None, False),
        "guarded": lambda: guarded("a step", called.append, "ran"),
    }
    note_interrupt(kind)
    try:
        for name, step in steps.items():
            with pytest.raises(expected) as stopped:
                step()
            assert type(stopped.value) is expected, name
    finally:
        forget_interrupts()
    assert called == []
    assert guarded("a step", called.append, "ran") is None and called == ["ran"]
    with pytest.raises(StageError):
        guarded("a step", int, "x")


def test_a_step_whose_library_wrapped_the_signal_stops_as_the_signal() -> None:
    from flows.results import guarded

    def wrapping() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("Task run is not set")  # noqa: B904 - the context is the point

    with pytest.raises(KeyboardInterrupt):
        guarded("a step", wrapping)
    with pytest.raises(KeyboardInterrupt):
        guarded("a step", _raise, _nested_serialiser_error(KeyboardInterrupt()))


def _raise(error: BaseException) -> None:
    raise error
