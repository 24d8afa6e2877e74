"""One real deployment, as the data team runs it (docs/prefect.md): a Prefect server on a loopback
port, the ``nis-process`` work pool, ``prefect deploy`` of ``nis-backfill`` from prefect.yaml, a
process worker, and a run triggered through the REST API. Everything it starts is stopped at the
end, pass or fail: each process leads its own process group, and any descendant that left its
group is found through /proc and stopped too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from flows_support import LA, submission_files, synthetic_extracts, write_config

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("prefect-server")]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
SERVER_START_TIMEOUT = 240  # a fresh database is migrated on first start: slow on a cold CI box
COMMAND_TIMEOUT = 180
RUN_TIMEOUT = 300
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces: the parent pid is the second field after ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


class Processes:
    """Background processes, each in its own session, stopped together."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.started.append((name, process))
        return process

    def stop_all(self) -> None:
        # Workers first, so no flow run is picked up while the server goes away.
        for _, process in reversed(self.started):
            pids = {process.pid} | _descendants(process.pid)
            self._signal(process.pid, pids, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            self._signal(process.pid, pids, signal.SIGKILL)
            process.wait(timeout=15)

    @staticmethod
    def _signal(leader: int, pids: set[int], sig: signal.Signals) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(leader, sig)
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def tail(self) -> str:
        parts = []
        for name, _ in self.started:
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            parts.append(f"--- {name} ---\n{text[-3000:]}")
        return "\n".join(parts)


@contextmanager
def _processes(logs: Path) -> Iterator[Processes]:
    processes = Processes(logs)
    try:
        yield processes
    finally:
        processes.stop_all()


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_healthy(api: str, server: subprocess.Popen[bytes], processes: Processes) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited\n{processes.tail()}"
        try:
            if httpx.get(f"{api}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server did not start in {SERVER_START_TIMEOUT}s\n{processes.tail()}")


def _wait_for_run(api: str, run_id: str, processes: Processes) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        run = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
        if run["state"] and run["state"]["type"] in TERMINAL:
            return run
        time.sleep(1)
    pytest.fail(f"the flow run did not finish in {RUN_TIMEOUT}s\n{processes.tail()}")


def _post(url: str, body: dict[str, Any]) -> httpx.Response:
    """POST as Prefect's own client does: a 503 is the server asking to retry (its SQLite
    database was busy), so retry it a few times."""
    for attempt in range(8):
        response = httpx.post(url, json=body, timeout=10)
        if response.status_code != 503:
            break
        time.sleep(0.5 * (attempt + 1))
    response.raise_for_status()
    return response


def _start_run(api: str, deployment: str, parameters: dict[str, Any]) -> str:
    found = httpx.get(f"{api}/deployments/name/{deployment}", timeout=10)
    found.raise_for_status()
    created = _post(
        f"{api}/deployments/{found.json()['id']}/create_flow_run", {"parameters": parameters}
    )
    return str(created.json()["id"])


def _run_logs(api: str, run_id: str) -> str:
    logs = httpx.post(
        f"{api}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
        timeout=10,
    ).json()
    return "\n".join(entry["message"] for entry in logs)


def test_backfill_deployment_runs_through_a_real_server_and_worker(tmp_path: Path) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=30, seed=21)
    config = write_config(tmp_path / "nis.toml", la_code=LA)
    out = tmp_path / "out"
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
    }
    logs = tmp_path / "logs"
    logs.mkdir()

    with _processes(logs) as processes:
        server = processes.start(
            "server", [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env
        )
        _wait_healthy(api, server, processes)
        _run([PREFECT, "work-pool", "create", "nis-process", "--type", "process"], env)
        _run([PREFECT, "deploy", "--name", "nis-backfill", "--no-prompt"], env)
        _run([PREFECT, "deploy", "--name", "nis-six-monthly", "--no-prompt"], env)
        processes.start(
            "worker", [PREFECT, "worker", "start", "--pool", "nis-process", "--limit", "1"], env
        )

        deployment = httpx.get(f"{api}/deployments/name/nis-backfill/nis-backfill", timeout=10)
        deployment.raise_for_status()
        assert deployment.json()["parameters"] == {"config_path": "nis.toml"}
        created = _post(
            f"{api}/deployments/{deployment.json()['id']}/create_flow_run",
            {
                "parameters": {
                    "from_census": "2025-09-30",
                    "to_census": "2026-03-31",
                    "config_path": str(config),
                    "source_path": str(source),
                    "output_dir": str(out),
                }
            },
        )
        run = _wait_for_run(api, created.json()["id"], processes)

        assert run["state"]["type"] == "COMPLETED", processes.tail()
        assert run["name"] == f"nis-backfill-{LA}-2025-09-30-to-2026-03-31"
        for census in ("2025-09-30", "2026-03-31"):
            folder = out / LA / census
            assert {p.name for p in folder.iterdir()} == submission_files(census)
        tasks = httpx.post(
            f"{api}/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [run["id"]]}}},
            timeout=10,
        ).json()
        periods = [t for t in tasks if t["task_key"].startswith("write_period")]
        assert sorted((t["name"], t["state"]["type"]) for t in periods) == [
            (f"nis-{LA}-2025-09-30", "COMPLETED"),
            (f"nis-{LA}-2026-03-31", "COMPLETED"),
        ]

        # A backfill that fails: Failed, its reason as the state message, no engine traceback.
        failing = _run_logs_of_failed_run(
            api,
            processes,
            "nis-backfill/nis-backfill",
            {
                "from_census": "2025-03-31",
                "to_census": "2025-06-30",
                "config_path": str(config),
                "source_path": str(source),
                "output_dir": str(out),
            },
        )
        assert failing["state"]["message"].startswith(
            "2025-06-30 is not a census date (31 March or 30 September): the nearest are "
            "2025-03-31 and 2025-09-30"
        )
        # A six-monthly run that fails: an extract is missing.
        broken = tmp_path / "broken"
        broken.mkdir()
        for extract in source.iterdir():
            if extract.name != "offences.csv":
                (broken / extract.name).write_bytes(extract.read_bytes())
        failing = _run_logs_of_failed_run(
            api,
            processes,
            "nis-submission/nis-six-monthly",
            {
                "census_date": "2025-09-30",
                "config_path": str(config),
                "source_path": str(broken),
                "output_dir": str(out),
            },
        )
        assert failing["state"]["message"].startswith("[F001] ")
        assert "offences.csv" in failing["state"]["message"]
        worker_log = (logs / "worker.log").read_text(errors="replace")
        assert "Engine execution exited with unexpected exception" not in worker_log
        assert "Traceback" not in worker_log and "TypeError" not in worker_log

        _alerts_are_created(api, env)
        started = [p.pid for _, p in processes.started]

    for pid in started:  # everything this test started is gone
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _run_logs_of_failed_run(
    api: str, processes: Processes, deployment: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    run = _wait_for_run(api, _start_run(api, deployment, parameters), processes)
    assert run["state"]["type"] == "FAILED", processes.tail()
    # The run's process sends its last log lines as it exits, after its final state.
    deadline = time.monotonic() + 30
    logs = _run_logs(api, run["id"])
    while "Finished in state Failed" not in logs and time.monotonic() < deadline:
        time.sleep(1)
        logs = _run_logs(api, run["id"])
    assert "Finished in state Failed" in logs, logs
    assert "Traceback" not in logs and "Engine execution exited" not in logs, logs
    assert "TypeError" not in logs, logs
    return run


def _alerts_are_created(api: str, env: dict[str, str]) -> None:
    """``nis alerts`` creates the automations of automations.yaml, notifying through the block
    the council made; a second run updates them rather than adding copies."""
    block = (
        "from prefect.blocks.notifications import SlackWebhook;"
        "SlackWebhook(url='https://hooks.slack.com/services/T0/B0/nis').save('nis-alerts')"
    )
    _run([sys.executable, "-c", block], env)
    nis = str(Path(sys.executable).with_name("nis"))
    first = _run([nis, "alerts", "--block", "slack-webhook/nis-alerts"], env)
    names = [
        "nis-run-failed",
        "nis-six-monthly-late",
        "nis-six-monthly-not-completed",
        "nis-work-pool-not-ready",
    ]
    assert first.splitlines() == [f"created: {name}" for name in names]
    again = _run([nis, "alerts", "--block", "slack-webhook/nis-alerts"], env)
    assert again.splitlines() == [f"updated: {name}" for name in names]
    found = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    assert sorted(a["name"] for a in found) == names
    block_id = httpx.post(
        f"{api}/block_documents/filter",
        json={"block_documents": {"name": {"any_": ["nis-alerts"]}}},
        timeout=10,
    ).json()[0]["id"]
    for automation in found:
        assert [a["block_document_id"] for a in automation["actions"]] == [block_id]
    failed = next(a for a in found if a["name"] == "nis-run-failed")
    assert set(failed["trigger"]["expect"]) == {
        "prefect.flow-run.Failed",
        "prefect.flow-run.Crashed",
    }


def _is_zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
