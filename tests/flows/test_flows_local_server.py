"""``nis run`` on its own: the temporary Prefect API is a child process of the command that dies
with it, so killing the command (even with SIGKILL), or a command that stops on a mistake before
its run starts, leaves nothing running; a configured server that does not answer is one clear
line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flows_support import synthetic_extracts, write_config

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

NIS = str(Path(sys.executable).with_name("nis"))


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIS_"))}
    env["PREFECT_HOME"] = str(home)
    return env


def _running_with_home(home: Path) -> list[int]:
    """The processes whose environment has this PREFECT_HOME."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"PREFECT_HOME={home}".encode() + b"\0" in environ + b"\0":
            found.append(int(entry.name))
    return found


def _none_left(home: Path, within: float = 10) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _running_with_home(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _run_until_its_flow_begins(
    tmp_path: Path, home: Path, marker: bytes = b"Beginning flow run"
) -> subprocess.Popen[bytes]:
    """A ``nis run`` of 400 families into tmp_path/out, once its flow is running (``marker`` is
    in its output): the temporary API is up and in use by then. Its output goes to
    tmp_path/run.log."""
    source = synthetic_extracts(tmp_path / "extracts", families=400, seed=3)
    config = write_config(tmp_path / "nis.toml")
    home.mkdir()
    with open(tmp_path / "run.log", "wb") as log:
        run = subprocess.Popen(
            [NIS, "run", "--census", "2026-03-31", "--source", str(source), "--config",
             str(config), "--out", str(tmp_path / "out"), "--verbose"],
            env=_environment(home), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while marker not in (tmp_path / "run.log").read_bytes():
            assert run.poll() is None, (tmp_path / "run.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.02)
    except BaseException:
        run.kill()
        raise
    return run


def test_a_killed_run_leaves_no_prefect_server_behind(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    run = _run_until_its_flow_begins(tmp_path, home)
    try:
        # The API is served by one child of the command: Prefect's server, not another nis.
        children = _children(run.pid)
        assert len(children) == 1
        (child,) = children
        assert b"flows.api_process" in Path(f"/proc/{child}/cmdline").read_bytes()
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == -signal.SIGKILL
    # Nothing it started outlives it: no process runs with this PREFECT_HOME once it is gone.
    assert _none_left(home) == []


def test_a_terminated_run_cleans_up_and_is_recorded(tmp_path: Path) -> None:
    """SIGTERM (a service manager, kill) ends a run as Ctrl-C does: exit 143, an audit line
    "interrupted", no partial folder and nothing left running. (Python's own SIGTERM ended the
    process at once, with no audit line.)"""
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    # Once the flow's body has begun (its first log line), so its flow run is known.
    run = _run_until_its_flow_begins(tmp_path, home, marker=b"Census date 2026-03-31")
    try:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    said = (tmp_path / "run.log").read_text(errors="replace")
    assert run.returncode == 143, said
    assert "Traceback" not in said
    assert said.rstrip().endswith("stopped: nis run was interrupted (SIGTERM) before it finished")
    [line] = (out / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert (entry["command"], entry["outcome"], entry["exit_code"]) == ("run", "interrupted", 143)
    assert entry["flow_run_id"] is not None  # the flow had begun: its run is named
    assert [p.name for p in out.rglob("*") if ".partial" in p.name] == []
    assert not (out / "E08000012" / "2026-03-31" / "manifest.json").exists()
    assert _none_left(home) == []


def test_a_failed_runs_task_runs_are_all_recorded_before_its_api_stops(tmp_path: Path) -> None:
    """A run over its threshold ends soon after its last task: the temporary API must record
    that task's states before it stops (it lost them: the validation task stayed Pending and
    the report task was missing from the database the team's UI later reads)."""
    import sqlite3

    source = synthetic_extracts(tmp_path / "extracts", families=40, seed=4, defects=0.2)
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    home.mkdir()
    done = subprocess.run(
        [NIS, "run", "--census", "2026-03-31", "--source", str(source),
         "--config", str(write_config(tmp_path / "nis.toml", threshold=0.01)), "--out", str(out)],
        env=_environment(home), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    run_id = json.loads((out / "audit.jsonl").read_text().splitlines()[-1])["flow_run_id"]
    # Prefect's own tables, read after its API has gone: what `prefect server start` would show.
    with sqlite3.connect(home / "prefect.db") as db:
        rows = db.execute(
            "SELECT name, state_type FROM task_run WHERE flow_run_id = ?", (run_id,)
        ).fetchall()
    states = {name.rsplit("-", 1)[0] if name.startswith("validate") else name: kind
              for name, kind in rows}  # fmt: skip
    assert states.get("failed-run-report-2026-03-31") == "COMPLETED", rows
    assert states.get("validate-extracts") == "COMPLETED", rows
    assert set(states.values()) == {"COMPLETED"}, rows


def test_a_run_that_stops_before_it_starts_leaves_no_server_behind(tmp_path: Path) -> None:
    # The API's process is started first thing; a census date after the extract date is
    # refused after that, before the run starts.
    source = synthetic_extracts(tmp_path / "extracts", families=5, seed=3)
    home = tmp_path / "prefect-home"
    home.mkdir()
    done = subprocess.run(
        [NIS, "run", "--census", "2027-03-31", "--source", str(source),
         "--config", str(write_config(tmp_path / "nis.toml")), "--out", str(tmp_path / "out")],
        env=_environment(home), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "2027-03-31" in done.stderr
    assert _none_left(home) == []


def test_a_configured_server_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=5, seed=3)
    env = _environment(tmp_path / "home")
    env["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # the discard port: nothing answers
    done = subprocess.run(
        [NIS, "run", "--census", "2026-03-31", "--source", str(source),
         "--config", str(write_config(tmp_path / "nis.toml")), "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: the Prefect server at http://127.0.0.1:9/api (PREFECT_API_URL) does not answer: "
        "start it (prefect server start), or unset PREFECT_API_URL to run with a temporary one"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_the_temporary_api_answers_without_nagles_delay() -> None:
    """The API child serves on the parent's listening socket: its connections must have
    TCP_NODELAY, else each response waits ~40 ms for the client's delayed ACK (uvicorn's fd=
    took the socket for a Unix one, so asyncio never set it)."""
    import asyncio
    import socket

    from flows.api_process import listening_socket

    parent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as flows.local_server opens it
    parent.bind(("127.0.0.1", 0))
    parent.listen(8)
    listener = listening_socket(os.dup(parent.fileno()))
    parent.close()
    assert (listener.family, listener.proto) == (socket.AF_INET, socket.IPPROTO_TCP)

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        try:
            return await asyncio.wait_for(seen, timeout=10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_run_whose_reader_has_gone_still_writes_its_submission(tmp_path: Path) -> None:
    """``nis hub ... | head -1``: the hub's flow failed on its second line (BrokenPipeError) and
    wrote no council; a run ended exit 1 on its summary. Output nobody reads now goes nowhere
    and the command finishes as it would have."""
    source = synthetic_extracts(tmp_path / "extracts", families=60, seed=3)
    config = write_config(tmp_path / "nis.toml")
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    home.mkdir()
    run = subprocess.Popen(
        [NIS, "run", "--census", "2026-03-31", "--source", str(source), "--config", str(config),
         "--out", str(out), "--verbose"],
        env=_environment(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()  # the reader leaves before the first line
    run.stderr.close()  # and so does the terminal's (2>&1 | head)
    try:
        assert run.wait(timeout=240) == 0
    finally:
        if run.poll() is None:
            run.kill()
    assert (out / "E08000012" / "2026-03-31" / "manifest.json").exists()
    [line] = (out / "audit.jsonl").read_text().splitlines()
    assert json.loads(line)["outcome"] == "ok"
    assert _none_left(home) == []


def test_a_runs_last_lines_are_recorded_before_its_api_stops(tmp_path: Path) -> None:
    """The run's log lines go to the API in batches; the temporary API stops when the command
    ends, so the last batch must be sent first (here batches are a minute apart: only that
    send can record the run's last lines, which the team then reads in the UI)."""
    import sqlite3

    home, out = _small_run(tmp_path, PREFECT_LOGGING_TO_API_BATCH_INTERVAL="60")
    with sqlite3.connect(home / "prefect.db") as db:
        lines = [row[0] for row in db.execute("SELECT message FROM log")]
    folder = out / "E08000012" / "2026-03-31"
    assert f"2026-03-31: wrote 7 files to {folder}" in lines


def test_a_run_with_a_server_configured_is_recorded_there_and_starts_no_api(
    tmp_path: Path,
) -> None:
    """PREFECT_API_URL names the team's server (here the test session's): the run and its tasks
    are there, for the UI, and the command starts no temporary API of its own."""
    from uuid import UUID

    from flows_support import flow_run, task_runs
    from prefect.settings import PREFECT_API_URL

    home, out = _small_run(tmp_path, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    run_id = json.loads((out / "audit.jsonl").read_text().splitlines()[-1])["flow_run_id"]
    run = flow_run(UUID(run_id))
    assert (run.name, run.state.type.value) == ("nis-E08000012-2026-03-31", "COMPLETED")
    assert len(task_runs(run.id)) > 3
    assert not (home / "prefect.db").exists()  # no database of a temporary API of its own


def _small_run(tmp_path: Path, **environment: str) -> tuple[Path, Path]:
    """A ``nis run`` of 20 families with these variables set; its PREFECT_HOME and its --out."""
    source = synthetic_extracts(tmp_path / "extracts", families=20, seed=3)
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    home.mkdir()
    done = subprocess.run(
        [NIS, "run", "--census", "2026-03-31", "--source", str(source),
         "--config", str(write_config(tmp_path / "nis.toml")), "--out", str(out)],
        env={**_environment(home), **environment}, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return home, out
