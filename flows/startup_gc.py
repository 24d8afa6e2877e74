"""Python's cyclic garbage collector kept out of a command's big imports.

Importing Prefect, pandas and pandera makes hundreds of thousands of objects that live until the
process ends (modules, classes, pydantic models). The collector counts them as they are made and,
every few hundred, walks the youngest of them, and now and then all of them: about 0.4
CPU-seconds of a ``nis run``'s imports and 0.6 of its temporary API's, spent proving that objects
nobody has dropped are still there. Imports made inside :func:`paused_gc` are not collected
meanwhile; the collector runs again after, and its next collections find any garbage made in the
pause. Only the standard library is imported here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic collection inside (other threads' allocations included: the collector is
    the process's); as it was after. Nested pauses end with the outermost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_started = False


@contextmanager
def startup_imports() -> Iterator[None]:
    """:func:`paused_gc`, then, the first time in the process, every object made so far frozen
    (:func:`freeze_startup`): for the imports a command makes before it reads any data, so no
    frame can be frozen in. Only once: a process running commands one after another (a test
    session calling the CLI) holds data by the second, which must stay collectable."""
    global _started
    with paused_gc():
        yield
    if not _started:
        _started = True
        freeze_startup()


def freeze_startup() -> None:
    """Leave every object made so far out of later collections: a server's modules and app,
    alive as long as it is, then cost its requests nothing. For a process that holds no data yet.
    (Prefect's server leaves no cyclic garbage from its start-up, so none is frozen in; a
    collection first to make sure would cost a fifth of a CPU-second.)"""
    gc.freeze()
