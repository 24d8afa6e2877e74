"""Benchmark reading `.xlsx` extracts: calamine where it agrees with openpyxl, against openpyxl.

    .venv/bin/nis synth --families 20000 --seed 7 --format xlsx --out /tmp/bench/x20k
    .venv/bin/python benchmarks/xlsx_read.py --source /tmp/bench/x20k --repeat 3

Reads each extract of ``--source`` with the reader as it is (``extracts.reader.read_extract``:
calamine for a workbook the two libraries read alike, openpyxl otherwise) and with openpyxl
alone (the fast reader switched off), the two alternating in each repeat so the load of the
machine falls on both alike, and checks that both give the same frame. Prints the median wall
time per extract and for all, the ratio, and which extracts the fast reader took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

import extracts.reader as reader  # noqa: E402
from extracts.source import ExtractSource  # noqa: E402
from extracts.xlsx_fast import sheet_rows_fast  # noqa: E402
from schemas.models import EXTRACT_NAMES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = ExtractSource(folder=args.source)
    fast_reader = reader.sheet_rows_fast
    times: dict[tuple[str, str], list[float]] = {}
    rows: dict[str, int] = {}
    for _ in range(args.repeat):
        for name in EXTRACT_NAMES:
            frames = {}
            for way, fast in (("calamine", fast_reader), ("openpyxl", lambda data: None)):
                reader.sheet_rows_fast = fast  # type: ignore[assignment]
                start = time.perf_counter()
                frames[way] = reader.read_extract(source, name).frame
                times.setdefault((way, name), []).append(time.perf_counter() - start)
            reader.sheet_rows_fast = fast_reader
            pd.testing.assert_frame_equal(frames["calamine"], frames["openpyxl"])
            rows[name] = len(frames["calamine"])
    print(f"source={args.source} repeats={args.repeat} (median seconds)")
    print(f"{'extract':28} {'rows':>9} {'fast':>5} {'openpyxl':>9} {'calamine':>9} {'x':>5}")
    totals = {"openpyxl": 0.0, "calamine": 0.0}
    for name in EXTRACT_NAMES:
        path = reader.find_extract_file(args.source, name)
        took = sheet_rows_fast(path.read_bytes()) is not None
        medians = {way: statistics.median(times[(way, name)]) for way in totals}
        for way in totals:
            totals[way] += medians[way]
        print(
            f"{name:28} {rows[name]:>9} {'yes' if took else 'no':>5} "
            f"{medians['openpyxl']:>9.2f} {medians['calamine']:>9.2f} "
            f"{medians['openpyxl'] / medians['calamine']:>5.1f}"
        )
    print(
        f"{'all ten':28} {'':>9} {'':>5} {totals['openpyxl']:>9.2f} {totals['calamine']:>9.2f} "
        f"{totals['openpyxl'] / totals['calamine']:>5.1f}"
    )


if __name__ == "__main__":
    main()
