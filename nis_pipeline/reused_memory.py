"""Freed memory kept for the command's next buffers rather than handed back to the kernel at once.

A run allocates and frees buffers of megabytes over and over (Arrow's, numpy's, pandas'): every
read, parse, rule, table and sheet makes new ones. glibc's malloc served each buffer above its
mmap threshold (at most 32 MiB) with a fresh mapping and unmapped it when freed, trimmed the free
top of its heap, and gave each thread an arena of its own whose heaps it shrank; Arrow's
allocator (mimalloc) gave freed pages back after about a second. Every time, the next buffer's
first touch faulted each 4 KiB page in again and the kernel cleared it: a 400,000-family
validation took about 970,000 page faults and 2.2 of its 7 CPU-seconds in the kernel (14 GB
mapped and 12 GB unmapped, ``strace``). With the settings below the freed memory is reused:
about 380,000 faults and 0.7 CPU-seconds (docs/performance.md). The price is a higher peak:
memory freed stays with the process, for a 400,000-family run about 0.5 GiB more.

The command sets them first thing. glibc's are its own (``mallopt``: one arena, no mappings of
their own for big buffers, the heap trimmed only above 2 GiB free); mimalloc reads its option
from the environment when Arrow is loaded, later (``MIMALLOC_PURGE_DELAY``: freed pages kept for
ten seconds, so a process the command starts and that lives on, such as a hub's Dask worker,
still gives back what it no longer uses). A value the user set in the environment is kept.
Nothing here changes a value or a byte written, only where memory comes from.
"""

from __future__ import annotations

import os

from nis_pipeline.libc import linux_libc_call

# malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
TRIM_ABOVE = 2**31 - 1  # mallopt takes an int: the largest free top it leaves alone
PURGE_DELAY = "MIMALLOC_PURGE_DELAY"
PURGE_DELAY_MS = "10000"


def keep_freed_memory() -> bool:
    """Have glibc's malloc and Arrow's mimalloc keep freed memory for reuse; whether glibc took
    its settings (False elsewhere, where only mimalloc's option is set). Call it before any
    thread starts and before Arrow is loaded."""
    os.environ.setdefault(PURGE_DELAY, PURGE_DELAY_MS)
    mallopt = linux_libc_call("mallopt")
    if mallopt is None:
        return False
    taken = [mallopt(option, value) for option, value in _SETTINGS]
    return all(result == 1 for result in taken)


_SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_ABOVE))
