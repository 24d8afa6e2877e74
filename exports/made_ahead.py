"""Items of an iterator made by a thread of their own, a few ahead of the one using them.

A workbook's big sheet is made (row XML, in Arrow kernels) and deflated (zlib) chunk by chunk:
each releases the GIL, so with the chunks made ahead, making one overlaps deflating the one
before, and the sheet costs about the longer of the two instead of their sum. The items come in
their order, unchanged: what is written does not depend on it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_WAIT = 0.1  # seconds between looks at whether the user stopped taking items


def made_ahead(items: Iterator[T], name: str, depth: int = 2) -> Iterator[T]:
    """``items`` in order, made in a thread named ``name`` at most ``depth`` ahead. What making
    them raises is raised here, in its place. Closing the iterator early stops the thread after
    the item it is making (and waits for it, so nothing runs on after the caller is done)."""
    made: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                made.put(entry, timeout=_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as exc:  # noqa: BLE001 - handed to the user, raised there
            put((False, exc))

    thread = threading.Thread(target=make, name=name, daemon=True)
    thread.start()
    try:
        while True:
            ok, item = made.get()
            if not ok:
                assert isinstance(item, BaseException)
                raise item
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
