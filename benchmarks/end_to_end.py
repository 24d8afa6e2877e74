"""Benchmark `nis run` end to end against a DuckDB SQL peer and the pyarrow read floor (issue 13).

    .venv/bin/python benchmarks/end_to_end.py --families 100000 --repeat 3
    .venv/bin/python benchmarks/end_to_end.py --source /tmp/bench/e400k --repeat 1 --backfill

On one set of synthetic extracts (generated here, or an existing folder given by ``--source``)
and one census date, each repeat times, one after the other so the machine's load falls on all
alike:

- the **pyarrow read floor**: ``pyarrow.csv.read_csv`` of the ten extract files, in this process;
- the **DuckDB peer**: ``benchmarks/duckdb_peer.sql`` run through the duckdb package in a fresh
  process (what an analyst would write instead: the same period by plain SQL over the same files,
  the individuals and FPD CSVs written; see the SQL's header for what it leaves out);
- **`nis run`** end to end in a fresh process (Prefect, validation, all seven files), of the code of
  the checkout this script lives in, into a fresh ``--out`` folder, with the temporary Prefect API
  it starts itself; with ``--server``, also against a ``prefect server start`` (started before
  anything is timed, as a team monitoring its runs in the Prefect UI has one running).

Then the pipeline's stages in process (read, validate, transform, export: ``benchmarks/run.py``'s
``one_pass``, in a fresh process, ``--repeat`` times) and, with ``--backfill``, one
``nis backfill`` of the twelve census dates 2020-09-30 .. 2026-03-31.

Prints the median seconds of the repeats, each as a ratio to the DuckDB peer and to the pyarrow
floor, and each child's peak RSS (``wait4``; for a child with children of its own, the largest
of them, not their sum). The machine is shared and noisy: the load average is printed at the
start and the end; compare runs by the ratios.

Everything heavy (generating data, the floor, the peer, the stages) runs in a child, so this
process stays small: Linux hands a child the parent's RSS high-water mark through fork/exec,
and a large parent would show up as every child's peak. The floor and the peer report their
own time (without the interpreter's start); ``nis run`` and ``nis backfill`` are timed whole,
as a user waits for them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from entry import entry  # benchmarks/entry.py
from prefect_server import free_port, start_server  # benchmarks/prefect_server.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXTRACTS = (
    "families",
    "people",
    "eligibility",
    "school_attendance",
    "exclusions",
    "offences",
    "asb_incidents",
    "domestic_abuse_incidents",
    "social_care_episodes",
    "employment_spells",
)
PEER_SQL = ROOT / "benchmarks" / "duckdb_peer.sql"
BACKFILL = ("2020-09-30", "2026-03-31")  # twelve census dates, each 31 March and 30 September
STAGES = ("read", "validate", "transform", "export")
# The command line of the checkout under test, as the console script enters it (entry.py).
NIS = [sys.executable, "-c", entry(str(ROOT))]


def encoding_of(path: Path) -> str:
    """The encoding to read an extract with: UTF-8 (with or without BOM) when it decodes as
    such, else Latin-1 (the contract's Windows-1252, but for bytes 0x80-0x9F)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def read_floor(source: Path) -> None:
    """The floor any reader is compared with: pyarrow's multithreaded CSV reader, types
    inferred, over all ten files."""
    from pyarrow import csv

    for name in EXTRACTS:
        path = source / f"{name}.csv"
        csv.read_csv(path, read_options=csv.ReadOptions(encoding=encoding_of(path)))


def run_peer(source: Path, out: Path, census: str) -> None:
    """The DuckDB peer, in this process (a child of the benchmark)."""
    import duckdb

    from transforms.periods import Period

    period = Period.of(census)
    began = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET VARIABLE source = ?", [str(source)])
    con.execute("SET VARIABLE out = ?", [str(out)])
    con.execute("SET VARIABLE census = ?::DATE", [period.census])
    con.execute("SET VARIABLE period_start = ?::DATE", [period.start])
    con.execute("SET VARIABLE previous_start = ?::DATE", [period.previous_start])
    for name in EXTRACTS:
        con.execute(f"SET VARIABLE enc_{name} = ?", [encoding_of(source / f"{name}.csv")])
    con.execute(PEER_SQL.read_text(encoding="utf-8"))
    con.close()
    print(json.dumps({"seconds": time.perf_counter() - began}))


def run_stages(source: Path, out: Path, census: str, extract_date: str, repeat: int) -> None:
    """The pipeline's stages in this process (a child of the benchmark); prints JSON."""
    import resource

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import one_pass  # benchmarks/run.py

    from flows.settings import load_settings
    from transforms.periods import Period

    settings = load_settings(
        None, source_path=source, extract_date=date.fromisoformat(extract_date)
    )
    timings: dict[str, list[float]] = {}

    def record(stage: str, seconds: float, peak: float, trace: bool) -> None:
        timings.setdefault(stage, []).append(seconds)

    for i in range(repeat):
        one_pass(settings, out / f"stages{i}", lambda: None, False, record, Period.of(census))
        shutil.rmtree(out / f"stages{i}", ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": {s: timings[s] for s in STAGES}, "rss_mib": rss}))


def child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``command``; its wall seconds, its peak RSS in MiB and its output. Fails loudly."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[-8:])} exited {process.returncode}:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=20000, help="when generating data")
    parser.add_argument("--source", type=Path, help="an existing folder of the ten CSVs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--census", default="2026-03-31")
    parser.add_argument("--extract-date", default="2026-11-01", help="the synthetic data's")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--defects", type=float, default=0.01)
    parser.add_argument("--no-stages", action="store_true", help="skip the in-process stages")
    parser.add_argument("--backfill", action="store_true", help="also time a 12-period backfill")
    parser.add_argument(
        "--server", action="store_true", help="also time nis run against a running Prefect server"
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    parser.add_argument(
        "--child", choices=["floor", "peer", "stages", "synth"], help=argparse.SUPPRESS
    )
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "synth":
        from synth.generate import write_synthetic

        write_synthetic(args.out, families=args.families, seed=args.seed, defects=args.defects)
        return
    if args.child == "floor":
        began = time.perf_counter()
        read_floor(args.source)
        print(json.dumps({"seconds": time.perf_counter() - began}))
        return
    if args.child == "peer":
        run_peer(args.source, args.out, args.census)
        return
    if args.child == "stages":
        run_stages(args.source, args.out, args.census, args.extract_date, args.repeat)
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="nis-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    started_load = load()
    source = args.source
    if source is None:
        source = work / "extracts"
        command = [sys.executable, __file__, "--child", "synth", "--out", str(source)]
        command += ["--families", str(args.families), "--seed", str(args.seed)]
        seconds, _, _ = child([*command, "--defects", str(args.defects)])
        print(f"generated {args.families} families in {seconds:.1f} s")
    source = source.resolve()
    with open(source / "families.csv", "rb") as handle:
        families = sum(1 for _ in handle) - 1
    with open(source / "people.csv", "rb") as handle:
        people = sum(1 for _ in handle) - 1

    # Prefect's database, created before anything is timed (a council's runs find it there).
    env = dict(os.environ, PREFECT_HOME=str(work / "prefect"), NIS_EXTRACT_DATE=args.extract_date)
    prefect = [str(Path(sys.executable).parent / "prefect"), "server", "database", "upgrade", "-y"]
    child(prefect, env)

    me = [sys.executable, __file__, "--source", str(source), "--census", args.census]
    times: dict[str, list[float]] = {}
    rss: dict[str, float] = {}

    def note(step: str, seconds: float, peak: float | None = None) -> None:
        times.setdefault(step, []).append(seconds)
        if peak is not None:
            rss[step] = max(rss.get(step, 0.0), peak)

    def reported(output: str) -> float:
        return float(json.loads(output.strip().splitlines()[-1])["seconds"])

    server, served = None, None
    if args.server:
        port = free_port()
        server = start_server(work / "server-prefect", port)
        served = dict(env, PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
        served["PREFECT_HOME"] = str(work / "served-home")
    try:
        for i in range(args.repeat):
            _, peak, output = child([*me, "--child", "floor"])
            note("floor", reported(output), peak)

            out = work / f"peer{i}"
            out.mkdir()
            _, peak, output = child([*me, "--child", "peer", "--out", str(out)])
            note("peer", reported(output), peak)
            shutil.rmtree(out)

            command = [*NIS, "run", "--census", args.census, "--source", str(source), "--out"]
            out = work / f"run{i}"
            seconds, peak, _ = child([*command, str(out)], env)
            note("run", seconds, peak)
            shutil.rmtree(out)
            line = f"repeat {i + 1}: floor {times['floor'][-1]:.1f} s"
            line += f", peer {times['peer'][-1]:.1f} s, nis run {seconds:.1f} s"
            if served is not None:
                seconds, peak, _ = child([*command, str(out)], served)
                note("served", seconds, peak)
                shutil.rmtree(out)
                line += f", against the server {seconds:.1f} s"
            print(f"{line} (load {load()})", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait()

    if not args.no_stages:
        out = work / "stages"
        command = [*me, "--child", "stages", "--out", str(out), "--repeat", str(args.repeat)]
        _, peak, output = child([*command, "--extract-date", args.extract_date])
        result = json.loads(output.strip().splitlines()[-1])
        for stage in STAGES:
            for seconds in result["seconds"][stage]:
                note(stage, seconds)
        rss["stages"] = peak

    if args.backfill:
        out = work / "backfill"
        command = [*NIS, "backfill", "--from", BACKFILL[0], "--to", BACKFILL[1]]
        seconds, peak, _ = child([*command, "--source", str(source), "--out", str(out)], env)
        periods = len([p for p in out.glob("*/*") if p.is_dir()])
        note("backfill", seconds, peak)
        shutil.rmtree(out)

    median = {step: statistics.median(values) for step, values in times.items()}
    peer, floor = median["peer"], median["floor"]
    print(
        f"\nfamilies={families} people={people} source={source} census={args.census}"
        f" repeats={args.repeat} cpus={os.cpu_count()} load(1/5/15 min) at start {started_load},"
        f" at end {load()}"
    )
    print(f"{'step':<52}{'median s':>10}{'x peer':>9}{'x floor':>9}{'peak RSS MiB':>14}")

    def row(label: str, step: str, peak: float | None = None) -> None:
        m = median[step]
        shown = rss.get(step, float("nan")) if peak is None else peak
        text = "" if shown != shown else f"{shown:,.0f}"
        print(f"{label:<52}{m:>10.2f}{m / peer:>9.2f}{m / floor:>9.2f}{text:>14}")

    row("pyarrow read floor (pyarrow.csv, ten files)", "floor")
    row("DuckDB peer (benchmarks/duckdb_peer.sql)", "peer")
    if not args.no_stages:
        for stage in STAGES:
            row(f"  in process: {stage}", stage)
        median["stages"] = sum(median[s] for s in STAGES)
        row("  in process: read+validate+transform+export", "stages", rss["stages"])
    row("nis run end to end (Prefect, validation, seven files)", "run")
    if args.server:
        row("  the same against a running prefect server", "served")
    if not args.no_stages:
        fixed = median["run"] - median["stages"]
        print(f"{'  of which outside the four stages':<52}{fixed:>10.2f}")
    if args.backfill:
        row(f"nis backfill {BACKFILL[0]}..{BACKFILL[1]} ({periods} periods)", "backfill")
        print(f"{'  x one nis run':<52}{median['backfill'] / median['run']:>10.2f}")
    print(
        "targets (issue 13): nis run <= 4x peer at 100,000 families, <= 5x at 400,000; "
        "peak RSS <= 4,096 MiB; backfill of 12 periods <= 3x one nis run at 400,000"
    )
    summary: dict[str, Any] = {"families": families, "median_s": median, "rss_mib": rss}
    (work / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
