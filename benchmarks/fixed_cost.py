"""The fixed cost of `nis run` under Prefect (issue 9): a small run (200 families) three ways,
interleaved so the machine's load falls on all alike, medians after one warm-up round.

    .venv/bin/python benchmarks/fixed_cost.py --old /tmp/wt-old --runs 5

- old: a checkout given by ``--old``: commit 78c06d5 let Prefect start its own temporary server
  in a subprocess; commit 2068dc6 served the temporary API from a thread of the ``nis`` process;
- now: this checkout (since issue 13, the temporary API is a child process that ``nis`` starts
  before importing the pipeline, and the extracts are read while it starts);
- server: this checkout with ``PREFECT_API_URL`` pointing at a ``prefect server start`` that
  this script starts once beforehand.

Each way keeps one ``PREFECT_HOME`` across its runs, as a user's ``~/.prefect`` is kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from entry import entry  # benchmarks/entry.py
from prefect_server import start_server  # benchmarks/prefect_server.py

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# The CLI of the checkout named as cwd, not the editable install's (benchmarks/entry.py).
CLI = entry(".")
PORT = 4299


def nis_run(tree: Path, source: Path, home: Path, extra: dict[str, str]) -> float:
    out = Path(tempfile.mkdtemp(prefix="nis-fixed-out-"))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), NIS_EXTRACT_DATE="2026-11-01", **extra)
    args = ["run", "--census", "2026-03-31", "--source", str(source), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run([PY, "-c", CLI, *args], cwd=tree, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        sys.exit(f"nis run in {tree} ended {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--source", type=Path, default=Path("/tmp/bench/e200"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nis-fixed-"))
    ways = {
        "old": (args.old, {}),
        "now": (ROOT, {}),
        "server": (ROOT, {"PREFECT_API_URL": f"http://127.0.0.1:{PORT}/api"}),
    }
    homes = {name: work / name for name in ways}
    for home in homes.values():
        home.mkdir()
    server = start_server(work / "server-home", PORT)
    times: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for round_ in range(args.runs + 1):
            for name, (tree, extra) in ways.items():
                seconds = nis_run(tree, args.source, homes[name], extra)
                if round_:  # the first round creates the databases and warms the disk cache
                    times[name].append(seconds)
                print(f"round {round_} {name}: {seconds:.1f} s", flush=True)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"{'way':<8}{'median s':>10}  runs   (load at end {load})")
    for name, values in times.items():
        runs = " ".join(f"{v:.1f}" for v in values)
        print(f"{name:<8}{statistics.median(values):>10.2f}  {runs}")


if __name__ == "__main__":
    main()
