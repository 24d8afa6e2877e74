"""``nis hub`` on a cluster whose workers cannot write a council as ``nis run`` would: a worker
without the pipeline, one with another version of it, a scheduler without workers, and the
deployment's flow loaded from its file without being sent to the workers. Each waited for ever
(Dask leaves a task it cannot load "processing"); each now stops the hub at once, exit 2, one
line, nothing written. (The decision on the workers' answers is in tests/test_hub_workers.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.commands import hub_command
from synth.generate import write_synthetic

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

ROOT = Path(__file__).resolve().parents[2]
CENSUS = "2026-03-31"

# A Dask worker that cannot import this pipeline (or, with a version, sees that one installed):
# the editable install's finder and the checkout's folder are taken away before it starts.
_WORKER = """
import importlib.metadata, sys
root, version, address = sys.argv[1:4]
if version != "-":
    import flows  # the pipeline stays importable; only its version is another
    real = importlib.metadata.version
    importlib.metadata.version = lambda name: version if name == "nis-pipeline" else real(name)
else:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path[:] = [p for p in sys.path if p and p.rstrip("/") != root]
    try:
        import flows
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("the pipeline is still importable")
from distributed.cli.dask_worker import main
# No nanny: the worker runs in this very process, with the import system as set above.
sys.argv = ["dask-worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
main()
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub-workers") / "sources"
    write_synthetic(root / "liverpool", families=20, seed=3)
    return root


@pytest.fixture
def scheduler() -> Iterator[str]:
    """A Dask scheduler without workers of its own."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local:
        yield str(local.scheduler_address)


def _start_worker(address: str, version: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen(
        [sys.executable, "-c", _WORKER, str(ROOT), version, address],
        cwd=ROOT.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(count, timeout=60)


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (
            "-",
            "error: 1 of the Dask cluster's 1 workers cannot load the council task "
            "(ModuleNotFoundError on 127.0.0.1 ...): install this pipeline (nis-pipeline 0.1.0) "
            "on every worker, or run the hub's flow from its package (flows.hub), see "
            "docs/prefect.md",
        ),
        (
            "0.0.9",
            "error: 1 of the Dask cluster's 1 workers run nis-pipeline 0.0.9 (127.0.0.1 ...), "
            "this command 0.1.0: their councils' files could differ from what nis run writes; "
            "install this pipeline (nis-pipeline 0.1.0) on every worker",
        ),
    ],
)
def test_workers_that_cannot_write_a_council_as_nis_run_does_get_none(
    sources: Path,
    scheduler: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    version: str,
    expected: str,
) -> None:
    worker = _start_worker(scheduler, version)
    try:
        _wait_for_workers(scheduler, 1)
        out = tmp_path / "out"
        started = time.monotonic()
        assert hub_command(CENSUS, sources, None, out, 2, scheduler) == 2
        assert time.monotonic() - started < 60
        printed = capsys.readouterr()
        assert printed.err.splitlines()[-1] == expected
        assert "Traceback" not in printed.out + printed.err
        assert not out.exists() or not any(p.is_dir() for p in out.iterdir())
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)


def test_a_scheduler_without_workers_is_one_line_not_a_wait_for_ever(
    sources: Path,
    scheduler: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flows.hub_workers

    monkeypatch.setattr(flows.hub_workers, "WORKERS_JOIN_SECONDS", 2.0)
    out = tmp_path / "out"
    assert hub_command(CENSUS, sources, None, out, 2, scheduler) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines()[-1] == (
        f"error: the Dask scheduler at {scheduler} has no workers (none joined within 2 s): "
        f"start them (dask worker {scheduler})"
    )
    assert not out.exists() or not any(p.is_dir() for p in out.iterdir())


def test_a_flow_loaded_from_its_file_and_not_sent_to_the_workers_stops_at_once(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a Prefect worker loads the nis-hub deployment (the module is then "hub", which the Dask
    workers cannot import), with the module's sending by value left out: the council task
    cannot be loaded there, and the flow run fails saying so instead of waiting."""
    from prefect.flows import load_flow_from_entrypoint

    hub_flow = load_flow_from_entrypoint(f"{ROOT / 'flows' / 'hub.py'}:nis_hub")
    monkeypatch.setitem(hub_flow.fn.__globals__, "send_this_module_by_value", lambda: None)
    out = tmp_path / "out"
    state = hub_flow(
        census_date=CENSUS,
        sources_path=str(sources),
        output_dir=str(out),
        workers=1,
        return_state=True,
    )
    assert state.type.value == "FAILED"
    assert "cannot load the council task (ModuleNotFoundError on 127.0.0.1 ...)" in str(
        state.message
    )
    assert not out.exists() or not any(p.is_dir() for p in out.iterdir())


def test_the_workers_last_lines_reach_a_temporary_api_before_it_stops(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing cluster on this machine, and ``nis hub`` with its temporary API: the workers
    outlive the command, and their log lines, sent in batches, were lost when the API stopped
    before the next batch. (Batches every minute here, so only the hub's flush can send them.)"""
    import sqlite3

    from distributed import LocalCluster

    monkeypatch.setenv("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "60")
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIS_"))}
    env.update(PREFECT_HOME=str(home), NIS_EXTRACT_DATE="2026-11-01")
    out = tmp_path / "out"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("nis")), "hub", "--census", CENSUS, "--sources",
             str(sources), "--out", str(out), "--scheduler", cluster.scheduler_address],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(home / "prefect.db") as db:
            lines = [row[0] for row in db.execute("SELECT message FROM log")]
    folder = out.resolve() / "E08000012" / CENSUS
    assert f"{CENSUS}: wrote 7 files to {folder}" in lines
