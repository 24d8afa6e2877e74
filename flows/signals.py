"""A Ctrl-C or SIGTERM that a library turned into an ordinary error, found and raised again."""

from __future__ import annotations


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is (``nis_pipeline.terminate``)."""


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
    from prefect.exceptions import TerminationSignal

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (KeyboardInterrupt, TerminationSignal)):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


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
