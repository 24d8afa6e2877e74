"""The command's memory in the kernel's ordinary pages, not transparent huge pages (Linux).

Where the kernel backs memory with huge pages whenever it can (``always`` in
``/sys/kernel/mm/transparent_hugepage/enabled``, as on the machines this was measured on), each
first touch of a fresh 2 MiB range makes the kernel clear all 2 MiB, though a run's many
short-lived buffers (Arrow's, numpy's, zlib's) use a fraction of each before they are freed and
the memory handed back. A 100,000-family run spent about 1.2 of its 16 CPU-seconds in the kernel
clearing pages. With the flag below it clears only the 4 KiB pages it touches: about 1.3
CPU-seconds less in the kernel, the same bytes out (docs/performance.md). The flag is kept by
the processes the command starts (the temporary API), as Linux documents for
``PR_SET_THP_DISABLE``; it changes no value, only how the memory is mapped.
"""

from __future__ import annotations

from nis_pipeline.libc import linux_libc_call

PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42


def leave_out_huge_pages() -> bool:
    """Ask Linux for ordinary pages for this process and those it starts; whether it agreed.

    Elsewhere, or on a kernel without the flag (before 3.15), nothing changes."""
    return _prctl(PR_SET_THP_DISABLE, 1) == 0


def huge_pages_left_out() -> bool:
    """Whether this process's flag is set (Linux); False elsewhere."""
    return _prctl(PR_GET_THP_DISABLE, 0) == 1


def _prctl(option: int, value: int) -> int | None:
    """``prctl(option, value)``'s result, or None where there is no such call."""
    prctl = linux_libc_call("prctl")
    return None if prctl is None else int(prctl(option, value, 0, 0, 0))
