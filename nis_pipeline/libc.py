"""The C library's own calls that tune the ``nis`` process (``prctl``, ``mallopt``), where the
process runs on Linux and its C library has them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def linux_libc_call(name: str) -> Callable[..., Any] | None:
    """The C library's function ``name`` (it returns an int), or None off Linux or where the
    library lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
