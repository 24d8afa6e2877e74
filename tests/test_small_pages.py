"""The `nis` command asks Linux for ordinary pages, and what it starts keeps them."""

from __future__ import annotations

import sys

import pytest
from fresh_python import AFTER_NIS_HELP, fresh_python

from nis_pipeline.small_pages import PR_GET_THP_DISABLE, PR_SET_THP_DISABLE

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="PR_SET_THP_DISABLE is a Linux prctl"
)

# Each check runs in a fresh interpreter, the flag cleared first: it is inherited, and a test
# session that ran nis in process has it set. _REPORT prints the flag as prctl reads it back
# and as the kernel reports it for the process and for a process it starts (as the API is).
_CLEARED = f"""
import ctypes
ctypes.CDLL(None).prctl({PR_SET_THP_DISABLE}, 0, 0, 0, 0)
"""
_REPORT = """
import ctypes, subprocess, sys
def thp(status):
    return [line.split()[1] for line in status.splitlines() if line.startswith("THP_enabled")]
libc = ctypes.CDLL(None)
child = subprocess.run([sys.executable, "-c", "print(open('/proc/self/status').read())"],
                       capture_output=True, text=True, check=True).stdout
print(libc.prctl({get}, 0, 0, 0, 0), thp(open("/proc/self/status").read()), thp(child))
"""


def test_constants_are_linux_own() -> None:
    # linux/prctl.h: 41 and 42 since 3.15; a typo here would set another process flag.
    assert (PR_SET_THP_DISABLE, PR_GET_THP_DISABLE) == (41, 42)


def test_a_fresh_process_has_huge_pages_and_the_call_leaves_them_out() -> None:
    report = _REPORT.format(get=PR_GET_THP_DISABLE)
    before = fresh_python(_CLEARED + report).split()
    assert before[0] == "0"  # the test is meaningful only if the flag starts clear
    after = fresh_python(
        _CLEARED
        + "from nis_pipeline.small_pages import leave_out_huge_pages, huge_pages_left_out\n"
        "assert not huge_pages_left_out()\n"
        "assert leave_out_huge_pages() and huge_pages_left_out()\n" + report
    ).split()
    assert after[0] == "1"
    if len(after) > 1 and after[1] != "[]":  # THP_enabled in /proc is there from Linux 5.0
        assert after[1:] == ["['0']", "['0']"], after


def test_the_console_script_sets_it_before_anything_else() -> None:
    out = fresh_python(
        _CLEARED
        + AFTER_NIS_HELP
        + f"print('FLAG', ctypes.CDLL(None).prctl({PR_GET_THP_DISABLE}, 0, 0, 0, 0))\n"
    )
    assert out.splitlines()[-1] == "FLAG 1"
