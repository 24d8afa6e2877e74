"""Benchmark the pipeline stage by stage on synthetic data of a given scale.

    .venv/bin/python benchmarks/run.py --families 20000 --repeat 3 [--format csv]

Prints, per stage, the median wall time of the repeats, the peak memory of the stage (tracemalloc,
measured in one extra untimed pass) and the ratio of each stage to a baseline measured in the same
run (plain pandas reading the ten extract files), so figures from a noisy machine can be compared
between runs and machines.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

from exports.submission import write_submission  # noqa: E402
from extracts.reader import read_extracts  # noqa: E402
from flows.settings import Settings, load_settings  # noqa: E402
from schemas.validation import validate  # noqa: E402
from synth.generate import write_synthetic  # noqa: E402
from transforms.changes import no_changes  # noqa: E402
from transforms.periods import Period  # noqa: E402
from transforms.statistics import build_statistics  # noqa: E402
from transforms.submission import build_submission  # noqa: E402

PERIOD = Period.of("2026-03-31")
BASELINE = "baseline: plain pandas read of all ten"


def measure(fn: Callable[[], Any], trace: bool) -> tuple[float, float, Any]:
    """Wall time, and (when ``trace``) the tracemalloc peak in MiB. Tracing slows pandas code
    several-fold, so timed passes run untraced and one extra pass measures memory."""
    gc.collect()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, result


def one_pass(
    settings: Settings,
    out: Path,
    baseline: Callable[[], None],
    trace: bool,
    record: Callable[[str, float, float, bool], None],
    period: Period = PERIOD,
) -> None:
    s, p, _ = measure(baseline, trace)
    record(BASELINE, s, p, trace)
    s, p, raw = measure(lambda: read_extracts(settings.extract_source()), trace)
    record("read", s, p, trace)
    s, p, result = measure(lambda: validate(raw, settings.resolved_extract_date()), trace)
    record("validate", s, p, trace)
    s, p, tables = measure(lambda: build_submission(result.clean, period), trace)
    record("transform", s, p, trace)
    s, p, _ = measure(
        lambda: write_submission(
            out,
            result.la_code or "E08000012",
            period,
            tables,
            build_statistics(tables),
            result.findings,
            result.counts,
            changes=no_changes(),
            previous=None,
        ),
        trace,
    )
    record("export", s, p, trace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="csv", choices=["csv", "parquet", "xlsx"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--defects", type=float, default=0.01)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nis-bench-"))
    source = work / "extracts"
    timings: dict[str, list[float]] = {}
    peaks: dict[str, list[float]] = {}

    def record(stage: str, seconds: float, peak: float, trace: bool) -> None:
        if trace:
            peaks.setdefault(stage, []).append(peak)
        else:
            timings.setdefault(stage, []).append(seconds)

    seconds, _, summary = measure(
        lambda: write_synthetic(
            source, families=args.families, seed=args.seed, fmt=args.format, defects=args.defects
        ),
        trace=False,
    )
    timings["synth (once)"] = [seconds]
    peaks["synth (once)"] = [float("nan")]
    settings = load_settings(None, source_path=source, extract_date=date(2026, 11, 1))
    files = sorted(source.glob(f"*.{args.format}"))

    def baseline() -> None:
        # Plain pandas reading every extract, untyped: the floor any reader is compared with.
        for path in files:
            if args.format == "csv":
                pd.read_csv(path, dtype="str", encoding_errors="replace")
            elif args.format == "parquet":
                pd.read_parquet(path)
            else:
                pd.read_excel(path, dtype="str", engine="calamine")

    for i in range(args.repeat + 1):
        trace = i == args.repeat  # the last pass measures memory, untimed
        one_pass(settings, work / f"out{i}", baseline, trace, record)

    rows = summary.rows["people"]
    base = statistics.median(timings[BASELINE])
    print(f"families={args.families} people_rows={rows} format={args.format} repeats={args.repeat}")
    print(f"{'stage':<40}{'median s':>10}{'x baseline':>12}{'peak MiB':>10}")
    for stage, values in timings.items():
        median = statistics.median(values)
        print(f"{stage:<40}{median:>10.2f}{median / base:>12.1f}{max(peaks[stage]):>10.0f}")
    print("(x baseline: median time / median time of the baseline in this run)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    arrow = pa.default_memory_pool().max_memory() / 2**20
    # tracemalloc sees numpy buffers but not Arrow's (pandas 3 keeps text in Arrow): both shown.
    print(f"process peak RSS: {rss:.0f} MiB; Arrow pool peak: {arrow:.0f} MiB")


if __name__ == "__main__":
    main()
