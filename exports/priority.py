"""Work that fills the gaps: the threads of an export that are not on its longest chain yield the
cores to it.

An export at national scale is bound by one stream: the biggest table sheet, deflated at zlib's
default level, which cannot be split without changing the workbook's bytes. The other work (the
other sheets, the CSVs, a backfill's next period computed ahead) is more than the second core can
do alongside it, and when every thread is equal the scheduler shares both cores among all of
them: the biggest sheet then gets half a core for most of the export and ends alone, with one
core idle. A thread doing gap-filling work lowers its own scheduling priority, so the biggest
sheet's chain runs whenever it can and the rest takes the time left over: on two cores a
400,000-family export takes about 12 s instead of 14 (docs/performance.md). Only the scheduling
changes: the threads do the same work on the same data, and the files are byte for byte the
same.

Linux only: there a thread's nice value is its own, set through its thread id. Elsewhere (and
where the system refuses) this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

# How much lower than its creator's a gap-filling thread's priority is: in the Linux scheduler's
# weights, a nice value 10 higher gets about a tenth of the time when both want a core.
BACKGROUND_NICENESS = 10
_LOWEST = 19


def in_background() -> bool:
    """Lower the calling thread's scheduling priority (see the module notes); whether it was
    lowered. Threads it starts inherit the lower priority, and it ends with the thread."""
    if not sys.platform.startswith("linux"):
        return False
    thread = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(now + BACKGROUND_NICENESS, _LOWEST))
    except OSError:
        return False
    return True
