"""SIGTERM ends a command as Ctrl-C does.

Python's own SIGTERM ends the process at once: no ``finally`` runs, so a run stopped by a
service manager or ``kill`` left no audit line (spec section 8: whatever the outcome) and relied
on the kernel to stop its temporary API. Here SIGTERM raises :class:`Terminated`, a
``KeyboardInterrupt``, in the main thread: the command's clean-up runs, its audit line says
``interrupted``, and it exits 143 (128 + 15, what a shell reports for SIGTERM). Standard library
only, so the command's start pays nothing for it.
"""

from __future__ import annotations

import re
import signal

from flows.signals import (  # standard library only
    Terminated,
    first_to_raise,
    held,
    note_interrupt,
    sigterm_noted,
    watch_for_interrupts,
)

TERMINATED_EXIT = 143


def end_on_sigterm_as_on_ctrl_c() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread, and note each Ctrl-C and
    SIGTERM so that a task still stops a run whose interrupt a library swallowed."""

    def raise_terminated(signum: int, frame: object) -> None:
        note_interrupt("sigterm")
        if not held() and first_to_raise():
            raise Terminated()

    def raise_interrupt(signum: int, frame: object) -> None:
        note_interrupt("sigint")
        if not held() and first_to_raise():
            raise KeyboardInterrupt()

    watch_for_interrupts()
    signal.signal(signal.SIGTERM, raise_terminated)
    # Only where Ctrl-C is Python's default: a background job started with it ignored keeps it
    # so (as POSIX tools do).
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, raise_interrupt)


def exit_code(code: int) -> int:
    """The exit code to end with: typer ends any KeyboardInterrupt outside a command's audited
    body with 130; after SIGTERM that is 143."""
    return TERMINATED_EXIT if sigterm_noted() and code == 130 else code


def stopped_line(code: int, args: list[str]) -> str | None:
    """What the terminal is told when a command was interrupted (exit 130 or 143): it had said
    nothing, and a silent exit leaves a person unsure whether the command finished."""
    if code not in (130, TERMINATED_EXIT):
        return None
    how = "SIGTERM" if code == TERMINATED_EXIT else "Ctrl-C"
    command = next((a for a in args if not a.startswith("-")), None)
    # A command's name (research-extract has a dash), never a path or value typed in its place.
    named = command is not None and re.fullmatch(r"[a-z]+(-[a-z]+)*", command) is not None
    name = f"nis {command}" if named else "nis"
    return f"stopped: {name} was interrupted ({how}) before it finished"
