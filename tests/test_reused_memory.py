"""The `nis` command keeps freed memory for reuse: a buffer allocated again after one of its
size was freed costs no new page faults (glibc's malloc for numpy's buffers, Arrow's mimalloc
for Arrow's), where by default every page of it faulted in again."""

from __future__ import annotations

import os
import sys

import pytest
from fresh_python import AFTER_NIS_HELP, fresh_python

from nis_pipeline.reused_memory import (
    M_ARENA_MAX,
    M_MMAP_MAX,
    M_TRIM_THRESHOLD,
    PURGE_DELAY,
    PURGE_DELAY_MS,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt is glibc's; faults are read on Linux"
)

MIB64 = 64 * 2**20
PAGES = MIB64 // 4096

# Allocates a 64 MiB buffer and writes every page, frees it, keeps allocating small buffers for
# a second and a half (mimalloc purges freed pages while the process allocates, after its delay),
# and prints the page faults of making the big one again. Pages are the kernel's ordinary ones,
# as in the command, so that each 4 KiB counts.
_AGAIN = """
import ctypes, resource, time
import numpy as np
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)
{setup}
def touched(size):
    {make}
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
touched({n})
end = time.monotonic() + 1.5
while time.monotonic() < end:
    touched(2**20)
    time.sleep(0.01)
before = faults()
touched({n})
print("FAULTS", faults() - before)
"""
_NUMPY = "np.ones(size, dtype=np.uint8)"
_ARROW = (
    "import pyarrow as pa\n"
    "    buffer = pa.allocate_buffer(size)\n"
    "    np.frombuffer(buffer, dtype=np.uint8)[:] = 1"
)


def _python(code: str, **env: str) -> str:
    """What ``code`` prints in a fresh interpreter whose environment sets neither allocator
    (but for ``env``)."""
    clean = {k: v for k, v in os.environ.items() if k not in (PURGE_DELAY, "GLIBC_TUNABLES")}
    return fresh_python(code, {**clean, **env})


def _faults(make: str, keep: bool) -> int:
    setup = ""
    if keep:
        setup = "from nis_pipeline.reused_memory import keep_freed_memory\nkeep_freed_memory()"
    out = _python(_AGAIN.format(setup=setup, make=make, n=MIB64))
    return int(out.split("FAULTS")[-1])


def test_constants_are_glibcs_own() -> None:
    # malloc.h: a wrong number would set another of malloc's parameters.
    assert (M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX) == (-1, -4, -8)
    assert PURGE_DELAY_MS == "10000"  # ms: longer than a run's phases, short for a lasting worker


@pytest.mark.parametrize("allocator", ["numpy (glibc malloc)", "Arrow (mimalloc)"])
def test_a_buffer_made_again_reuses_the_memory_of_the_one_freed(allocator: str) -> None:
    make = _NUMPY if allocator.startswith("numpy") else _ARROW
    assert _faults(make, keep=False) > PAGES // 2  # the test means something only if they fault
    assert _faults(make, keep=True) < PAGES // 10


def test_a_setting_in_the_environment_is_kept() -> None:
    out = _python(
        "import os\n"
        "from nis_pipeline.reused_memory import keep_freed_memory\n"
        "keep_freed_memory()\n"
        f"print(os.environ['{PURGE_DELAY}'])",
        **{PURGE_DELAY: "250"},
    )
    assert out.strip() == "250"


def test_the_console_script_keeps_freed_memory() -> None:
    # Run as `nis --help`: mimalloc's option is in the environment for Arrow and what the
    # command starts, and glibc serves a big buffer from its heap (no mapping of its own).
    out = _python(
        AFTER_NIS_HELP + f"import os\nprint('DELAY', os.environ.get('{PURGE_DELAY}'))" + _MAPPED
    )
    lines = out.splitlines()
    assert lines[-2] == f"DELAY {PURGE_DELAY_MS}"
    assert lines[-1] == "MAPPED False"


# Whether a 64 MiB block from malloc got a mapping of its own: glibc counts those in
# mallinfo2's hblks (glibc 2.33 on).
_MAPPED = f"""
import ctypes
libc = ctypes.CDLL(None)
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
before = libc.mallinfo2().hblks
block = libc.malloc({MIB64})
print('MAPPED', libc.mallinfo2().hblks > before)
"""
