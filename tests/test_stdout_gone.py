"""Standard output whose reader has gone takes what is written and drops it (stdout_gone)."""

from __future__ import annotations

import os

from nis_pipeline.stdout_gone import ReaderMayLeave


def test_writing_after_the_reader_left_raises_nothing_and_goes_nowhere() -> None:
    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    out = ReaderMayLeave(stream)
    assert out.write("NIS E08000012 2026-03-31\n") == 25
    out.flush()
    assert os.read(read, 100) == b"NIS E08000012 2026-03-31\n"
    os.close(read)  # the reader leaves (head -1 has its line)
    assert out.write("  rows read 4735\n") == 17
    out.flush()  # the pipe refuses it: from now on the descriptor is /dev/null
    assert out.write("  written\n") == 10
    out.flush()
    assert os.path.samefile(f"/proc/self/fd/{stream.fileno()}", os.devnull)
    assert out.fileno() == stream.fileno() and out.isatty() is False  # the stream's own
    stream.close()
