"""A Ctrl-C or SIGTERM that a library turned into an ordinary error, found and raised again."""

from __future__ import annotations

import os
import re
import signal as signals
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# How pydantic-core names an exception raised inside a serialiser it called (its message is all
# that is left of the exception when serialisers are nested: the outer error has no cause).
_WRAPPED_BY_PYDANTIC = re.compile(
    r"^Error calling function `[^`]*`: (KeyboardInterrupt|Terminated|TerminationSignal)\b"
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is (``nis_pipeline.terminate``)."""


# The interrupts this process's handlers have raised: "sigint", "sigterm". A library may swallow
# the exception a handler raises (a logging handler that catches any error it meets while it
# formats a record: pydantic has by then turned the signal into its own error), and the run went
# on to the end; each task checks here before it starts.
_noted: set[str] = set()


def watch_for_interrupts() -> None:
    """Have the interpreter note every Ctrl-C and SIGTERM, whichever Python handler then runs
    (Prefect puts its own SIGTERM handler in place while a flow runs, and it does not hand the
    signal on when its exception is caught inside): the interpreter writes each signal's number
    to a pipe (``signal.set_wakeup_fd``), read when a task starts. Main thread only; where an
    event loop later takes the wake-up descriptor, the handlers' own notes remain."""
    global _wakeup
    if _wakeup is not None:
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signals.set_wakeup_fd(write, warn_on_full_buffer=False)
    _wakeup = read


_wakeup: int | None = None


def _read_wakeups() -> None:
    if _wakeup is None:
        return
    try:
        numbers = os.read(_wakeup, 4096)
    except (BlockingIOError, OSError):
        return
    if signals.SIGTERM in numbers:
        _noted.add("sigterm")
    if signals.SIGINT in numbers:
        _noted.add("sigint")


_held = 0


@contextmanager
def interrupts_held() -> Iterator[None]:
    """While the audit line is written: a Ctrl-C or SIGTERM is noted, not raised. An impatient
    second Ctrl-C while an interrupted command wrote its line left no line at all (spec section
    8: one whatever the outcome). The handlers of ``nis_pipeline.terminate`` ask ``held``."""
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1


def held() -> bool:
    return _held > 0


_raised = False


def first_to_raise() -> bool:
    """True the first time only: the handlers raise one interrupt, and note those after it. A
    second Ctrl-C pressed while the first unwound (it is raised at the next call the main
    thread makes, often the very ``__exit__`` of the command's audit) ended the command before
    its clean-up and its audit line. One swallowed on its way is raised again by the next task
    (``stop_if_interrupted``)."""
    global _raised
    first, _raised = not _raised, True
    return first


def note_interrupt(kind: str) -> None:
    """Record a Ctrl-C ("sigint") or SIGTERM ("sigterm") as its handler raises it."""
    _noted.add(kind)


def sigterm_noted() -> bool:
    _read_wakeups()
    return "sigterm" in _noted


def forget_interrupts() -> None:
    """For tests that send themselves a signal."""
    global _raised
    _read_wakeups()
    _noted.clear()
    _raised = False


def stop_if_interrupted() -> None:
    """Raise the interrupt a handler raised before, in case something caught it: called as each
    task starts, so a run stopped by Ctrl-C or SIGTERM stops at its next step at the latest."""
    _read_wakeups()
    if "sigterm" in _noted:
        raise Terminated()
    if "sigint" in _noted:
        raise KeyboardInterrupt()


def signal_inside(exc: BaseException) -> BaseException | None:
    """The Ctrl-C or SIGTERM that ``exc`` wraps, if any.

    The signal's exception is raised wherever the main thread is when it arrives, and a library
    there may turn it into an ordinary error: pydantic's serialisers (where a hub's flow waits,
    in Prefect's client) wrap any exception raised in them, even ``KeyboardInterrupt`` or
    Prefect's ``TerminationSignal``, in a ``PydanticSerializationError``; Prefect's task engine,
    stopped while it starts a task run, raises ``ValueError('Task run is not set')`` while
    handling it. Either way a run stopped by SIGTERM ended "failed", exit 1, in a library's
    words, instead of "interrupted", 143.
    """
    termination = _termination_signal_type()
    chain = _chain(exc)
    for current in chain:
        if isinstance(current, KeyboardInterrupt) or (
            termination is not None and isinstance(current, termination)
        ):
            return current
    for current in chain:
        wrapped = _wrapped_by_pydantic(current)
        if wrapped is not None:
            return wrapped
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _termination_signal_type() -> type[BaseException] | None:
    """Prefect's ``TerminationSignal``, if Prefect is imported (none can be raised before)."""
    module = sys.modules.get("prefect.exceptions")
    found = getattr(module, "TerminationSignal", None)
    return found if isinstance(found, type) else None


def _wrapped_by_pydantic(exc: BaseException) -> BaseException | None:
    """The signal a ``PydanticSerializationError`` stands for, by its message.

    A serialiser inside another (Prefect's settings, serialised while its logging is set up
    at import, hold nested models) is wrapped twice, and the outer error keeps neither cause nor
    context: a Ctrl-C that landed there ended the command "failed unexpectedly", exit 1."""
    if type(exc).__name__ != "PydanticSerializationError":
        return None
    match = _WRAPPED_BY_PYDANTIC.match(str(exc))
    if match is None:
        return None
    if match[1] == "KeyboardInterrupt":
        return KeyboardInterrupt()
    if match[1] == "Terminated":
        return Terminated()
    termination = _termination_signal_type()
    return termination(signals.SIGTERM) if termination is not None else Terminated()


def reraise_signal(exc: BaseException) -> None:
    """Raise the Ctrl-C or SIGTERM that ``exc`` wraps, so that it stops the run as a signal."""
    signal = signal_inside(exc)
    if signal is not None and signal is not exc:
        raise signal from None


def stopped_by_signal(exc: BaseException) -> None:
    """For a command whose flow ended with ``exc``: raise the signal it wraps, as the command's
    own interrupt (a ``KeyboardInterrupt``; :class:`Terminated` for SIGTERM, which Prefect's
    handler raises as its ``TerminationSignal`` while a flow runs)."""
    from prefect.exceptions import TerminationSignal

    found = signal_inside(exc)
    if found is None:
        return
    if isinstance(found, TerminationSignal):
        raise Terminated() from None
    raise found from None
