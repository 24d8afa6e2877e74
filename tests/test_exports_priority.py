"""exports.priority: a gap-filling thread lowers its own priority only (and the threads it
starts inherit it); in a workbook, every table sheet but the biggest is made by such a thread,
the biggest first, and the bytes do not depend on it; the CSVs are written by one."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import exports.excel as excel
from exports.priority import BACKGROUND_NICENESS, in_background

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@linux
def test_only_the_calling_thread_and_the_threads_it_starts_are_lowered():
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = _nice()

    def work() -> None:
        seen["before"] = _nice()
        seen["lowered"] = in_background()
        seen["after"] = _nice()
        started = threading.Thread(target=child)
        started.start()
        started.join()

    main_before = _nice()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["lowered"] is True
    assert seen["after"] == min(seen["before"] + BACKGROUND_NICENESS, 19)
    assert seen["child"] == seen["after"]
    assert _nice() == main_before  # the calling thread's own, not the process's


def _book(path: Path) -> None:
    big = pd.DataFrame({"id": [f"P{i}" for i in range(3000)], "n": range(3000)})
    small = pd.DataFrame({"id": ["F1", "F2"], "n": [1, 2]})
    with excel.streaming_workbook(path) as book:
        book.table_sheet("Small", small)  # first in the workbook, but not taken first
        book.table_sheet("Big", big)
        book.save(path)


def test_the_biggest_sheet_is_taken_first_and_keeps_its_priority(tmp_path, monkeypatch):
    calls: list[tuple[str, int]] = []
    taken: list[int] = []
    deflate = excel.StreamingWorkbook._deflate_sheet

    def record(self, sheet, table):  # type: ignore[no-untyped-def]
        taken.append(len(table.frame))
        return deflate(self, sheet, table)

    monkeypatch.setattr(excel.StreamingWorkbook, "_deflate_sheet", record)
    monkeypatch.setattr(
        excel, "in_background", lambda: calls.append((threading.current_thread().name, 0))
    )
    _book(tmp_path / "lowered.xlsx")
    assert taken[0] == 3000  # submitted first: a fresh thread takes it
    assert len(calls) == 1 and calls[0][0].startswith("nis-sheet")  # the small sheet only
    monkeypatch.setattr(excel, "in_background", lambda: False)
    _book(tmp_path / "plain.xlsx")
    digest = [
        hashlib.sha256((tmp_path / f"{n}.xlsx").read_bytes()).digest() for n in ("lowered", "plain")
    ]
    assert digest[0] == digest[1]


def test_the_csvs_are_written_by_a_lowered_thread(tmp_path, monkeypatch):
    import exports.submission as submission

    lowered: list[str] = []
    monkeypatch.setattr(
        submission, "in_background", lambda: lowered.append(threading.current_thread().name)
    )
    from transforms.periods import Period

    names = submission.submission_files("E08000012", Period.of("2026-03-31"))
    frame = pd.DataFrame({"a": [1]})
    prepared = type("Prepared", (), {"individuals": frame, "fpd": frame})()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="nis-csv") as pool:
        pool.submit(submission._write_table_csvs, tmp_path, names, prepared).result()
    assert lowered == ["nis-csv_0"]
    assert (tmp_path / names.individuals).read_bytes() == b"a\n1\n"
