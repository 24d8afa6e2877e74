"""The Prefect API a command-line run talks to.

When a Prefect server is configured (``PREFECT_API_URL``, e.g. by ``prefect config set`` in the
active profile), runs are recorded there and show in its UI; it must then be running. Otherwise
the run gets a temporary API, with its SQLite database in ``PREFECT_HOME``, served by a child
process of the command (``flows.api_process``) on a free port of the loopback interface. The
command starts that process first thing (``start_temporary_api``), so Prefect's server imports
and starts on the second core while the command imports its own modules and checks its
arguments, and the API's work for the run's tasks is not done on the GIL of the process doing the
data work. The child dies with the command, even one killed with ``kill -9``. Where a child
cannot be passed a socket (not POSIX), the API is served from a thread of the command instead.

Telemetry is off for the temporary API and for the client: councils run this offline, and a
failed attempt to phone home is an error line in the run's log.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import importlib
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.errors import PipelineError

STARTUP_TIMEOUT_SECONDS = float(os.environ.get("NIS_PREFECT_STARTUP_TIMEOUT", "180"))


class PrefectUnavailableError(PipelineError):
    """The configured Prefect server does not answer, or the temporary one did not start."""


def quiet_defaults(verbose: bool) -> None:
    """Environment defaults for Prefect, set before it is first imported: no telemetry, and (not
    verbose) nothing from Prefect on the terminal while its logs still reach the API and UI."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
    if not verbose:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
        # Dask's own log lines are for --verbose too (a hub's local workers inherit this): on
        # Ctrl-C its workers logged "Async instruction ... cancelled" warnings and a heartbeat's
        # traceback. What matters reaches the command as a council's failure, in its words.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str, timeout: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _loopback_healthy(url: str, timeout: float) -> bool:
    """:func:`_healthy` for the temporary API (plain HTTP on the loopback interface), asked
    through the standard library. httpx makes a TLS context for every client it makes, loading
    the whole certificate bundle (40 ms of CPU): polled every 50 ms, that took nearly half a core
    from a run validating its extracts while its API started."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        connection.request("GET", f"{parts.path.rstrip('/')}/health")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the URL of the API this command's runs use (see the module notes)."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        stop_early_api()  # started on the guess that none was configured
        if not _healthy(configured, timeout=10):
            raise PrefectUnavailableError(
                f"the Prefect server at {configured} (PREFECT_API_URL) does not answer: start "
                "it (prefect server start), or unset PREFECT_API_URL to run with a temporary one"
            )
        yield configured
        return
    served = _temporary_api_process if os.name == "posix" else _temporary_api_thread
    with served() as url:
        yield url


class _ApiProcess:
    """A child process serving the temporary API on a socket opened here."""

    def __init__(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        fd = listener.fileno()
        # The child imports this very checkout's ``flows``, however this process found it.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flows.api_process", str(fd), str(os.getpid())],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
                # Its own session: Ctrl-C at the terminal reaches the command, whose clean-up
                # then stops the API, rather than both at once.
                start_new_session=True,
            )
        finally:
            listener.close()  # the child holds its own copy

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                _wait_for_exit(self.process, timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_for_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
    """``process.wait(timeout)``, told the moment the process ends where Linux can say so (a
    descriptor for the process, ready when it ends): Python's own wait with a timeout looks
    every 50 ms once it has waited a while, a quarter of that late on average at every
    command's end."""
    if hasattr(os, "pidfd_open") and process.returncode is None:
        try:
            descriptor = os.pidfd_open(process.pid)
        except OSError:  # a kernel before 5.3, or the process already reaped
            descriptor = None
        if descriptor is not None:
            try:
                ends = select.poll()
                ends.register(descriptor, select.POLLIN)
                ready = ends.poll(timeout * 1000)
            finally:
                os.close(descriptor)
            if not ready:
                raise subprocess.TimeoutExpired(process.args, timeout)
    process.wait(timeout=timeout)


_early: _ApiProcess | None = None


def start_temporary_api() -> None:
    """Start the temporary API's process now, unless the environment names a server; the run
    uses it when ``prefect_api`` finds no server configured (else it is stopped unused)."""
    global _early
    if _early is None and os.name == "posix" and not os.environ.get("PREFECT_API_URL"):
        _early = _ApiProcess()
        atexit.register(stop_early_api)  # a command that stops before its run starts


def stop_early_api() -> None:
    """Stop the temporary API started early, if no run took it (also at the command's exit)."""
    global _early
    if _early is not None:
        _early.stop()
        _early = None


# What Prefect imports the first time a flow is called (the flow and task engines, the artifacts
# module, FastAPI's JSON encoder for the run's parameters). The command imports them while it waits
# for its temporary API, instead of after, when every moment holds up the run.
ENGINE_MODULES = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.artifacts",
    "fastapi.encoders",
)


def import_engine_modules() -> None:
    from flows.startup_gc import paused_gc

    with paused_gc():
        for name in ENGINE_MODULES:
            # One moved by a later Prefect is left to the engine, which imports what it needs.
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


@contextmanager
def _temporary_api_process() -> Iterator[str]:
    global _early
    from prefect.settings import temporary_settings

    api, _early = (_early or _ApiProcess()), None
    try:
        import_engine_modules()
        _wait_until_up(api.url, api.alive)
        with temporary_settings(updates=_temporary_settings(api.url)):
            since = datetime.now(UTC)
            try:
                yield api.url
            finally:
                _hand_over_to_api(since)
    finally:
        api.stop()


@contextmanager
def _temporary_api_thread() -> Iterator[str]:
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import temporary_settings

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    app = create_app(ephemeral=True, final=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="nis-prefect-api", daemon=True)
    thread.start()
    try:
        _wait_until_up(url, thread.is_alive)
        with temporary_settings(updates=_temporary_settings(url)):
            since = datetime.now(UTC)
            try:
                yield url
            finally:
                _hand_over_to_api(since)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _temporary_settings(url: str) -> dict[Any, Any]:
    """The client settings of a run on the temporary API: its URL, and no flow heartbeats (they
    let a server notice a run whose process died; this API dies with the process, and stopping
    the heartbeat thread holds up the end of every run by up to a second)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    return {PREFECT_API_URL: url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}


def _wait_until_up(url: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _loopback_healthy(url, timeout=5):
            return
        if not alive():
            break
        time.sleep(0.05)
    raise PrefectUnavailableError(
        "the temporary Prefect API did not start"
        + ("" if alive() else " (see the lines above)")
        + f"; its database is under {os.environ.get('PREFECT_HOME', '~/.prefect')}"
    )


def _wait_until_recorded(since: Any, within: float = 3.0) -> None:
    """Wait, at most ``within`` seconds, until the API's record of this command's task runs (those
    of the flow runs started since ``since``) is whole: every one in a final state, and two reads
    50 ms apart the same. The states a run sends last reach the API's task-run recorder a moment
    later, and a recorder stopped in the middle of a write loses them: after a failed run, its
    validation task stayed Pending in the database and its report task was missing. Best
    effort: the run's own outcome never depends on it.

    Each read is two counts (all of them, those final), not the task runs themselves: reading
    them made the API load each with its state and relations, 40 to 75 ms a read at the end of
    every command, for two numbers."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    final = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    ours = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since))
    every = {"flow_runs": ours.model_dump(mode="json", exclude_unset=True)}
    finished = TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=final)))
    done = {**every, "task_runs": finished.model_dump(mode="json", exclude_unset=True)}
    deadline = time.monotonic() + within
    seen: object = None
    try:
        # A context without a certificate: the temporary API is plain HTTP on the loopback
        # interface, and Prefect's client otherwise loads the whole bundle for it (35 ms).
        plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with get_client(sync_client=True, httpx_settings={"verify": plain}) as client:

            def count(body: dict[str, Any]) -> int:
                response = client.request("POST", "/task_runs/count", json=body)
                response.raise_for_status()
                return int(response.json())

            while time.monotonic() < deadline:
                now = (count(every), count(done))
                if now == seen and now[0] == now[1]:
                    return
                seen = now
                time.sleep(0.05)
    except Exception:  # the API went away or refused: nothing more to wait for
        return


def _hand_over_to_api(since: datetime) -> None:
    """Before a temporary API stops: send the run's last logs and events, and wait until it has
    recorded them."""
    _flush_to_api()
    _wait_until_recorded(since)


def _flush_to_api() -> None:
    """Send the run's last logs and events before the API goes away (else Prefect retries
    against a closed port and prints errors after the run has ended)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30, at_exit=False)
    EventsWorker.drain_all(timeout=30, at_exit=False)
