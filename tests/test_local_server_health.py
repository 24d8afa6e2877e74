"""How the command asks its temporary API whether it is up (flows.local_server): a 200 from
``/health`` under the API's path, on plain HTTP, and no TLS context made for it (each one loads
the certificate bundle: a poll every 50 ms then cost nearly half a core while the run read and
validated ahead)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flows import local_server


class _Api:
    """A stand-in API: answers GET /api/health with the next of ``statuses`` (the last one
    repeated), anything else with 404, and records the paths asked for."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.paths = list(statuses), []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                api.paths.append(self.path)
                status = 404
                if self.path == "/api/health":
                    status = api.statuses.pop(0) if len(api.statuses) > 1 else api.statuses[0]
                body = b"true" if status == 200 else b"no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[_Api]:
    server = _Api([503, 503, 200])
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_up_is_a_200_from_health_under_the_api_path(api: _Api) -> None:
    assert not local_server._loopback_healthy(api.url, timeout=2)  # 503
    assert not local_server._loopback_healthy(api.url + "/", timeout=2)  # 503
    assert local_server._loopback_healthy(api.url, timeout=2)
    assert api.paths == ["/api/health"] * 3
    assert not local_server._loopback_healthy(api.url.replace("/api", "/other"), timeout=2)


def test_nothing_listening_or_a_broken_answer_is_not_up() -> None:
    with socket.socket() as probe:  # a port just freed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not local_server._loopback_healthy(f"http://127.0.0.1:{port}/api", timeout=2)
    with socket.socket() as listener:  # accepts, then hangs up without a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        hang_up = threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True)
        hang_up.start()
        assert not local_server._loopback_healthy(url, timeout=2)
        hang_up.join(timeout=5)


def test_waiting_for_the_api_makes_no_tls_context(
    api: _Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[object] = []
    real = ssl.SSLContext

    class Counted(real):  # type: ignore[misc,valid-type]
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            made.append(args)
            return real.__new__(real, *args, **kwargs)

    monkeypatch.setattr(ssl, "SSLContext", Counted)
    monkeypatch.setattr(local_server.time, "sleep", lambda seconds: None)
    local_server._wait_until_up(api.url, lambda: True)
    assert api.paths == ["/api/health"] * 3  # asked until the 200
    assert made == []


def test_the_wait_for_the_apis_end_returns_when_it_ends_and_keeps_its_timeout() -> None:
    # A child that ends after 0.3 s: reaped as it ends (Python's own wait with a timeout looks
    # every 50 ms by then), its status kept as Popen keeps it.
    ends = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    local_server._wait_for_exit(ends, timeout=10)
    assert ends.returncode == 0
    local_server._wait_for_exit(ends, timeout=10)  # (already reaped: returns as Popen.wait does)
    stays = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            local_server._wait_for_exit(stays, timeout=0.2)
        assert stays.poll() is None
    finally:
        stays.kill()
        stays.wait()


_QUIET = (
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "DO_NOT_TRACK",
    "PREFECT_SERVER_UI_ENABLED",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",
    "DASK_LOGGING__DISTRIBUTED",
)


@pytest.mark.parametrize("verbose", [False, True])
def test_prefect_is_quiet_and_offline_unless_told(
    monkeypatch: pytest.MonkeyPatch, verbose: bool
) -> None:
    """Telemetry is off whatever the flags (councils run offline: a failed call home is an error
    line); Prefect's and Dask's own lines reach the terminal only with --verbose."""
    for name in _QUIET:
        monkeypatch.setenv(name, "")  # so that the teardown restores each as it was
        monkeypatch.delenv(name)
    local_server.quiet_defaults(verbose)
    seen = {name: local_server.os.environ.get(name) for name in _QUIET}
    assert seen == {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": None if verbose else "CRITICAL",
        "DASK_LOGGING__DISTRIBUTED": None if verbose else "critical",
    }


def test_settings_given_are_kept_but_the_terminal_stays_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in _QUIET:
        monkeypatch.setenv(name, "")  # so that the teardown restores each as it was
        monkeypatch.delenv(name)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "warning")
    # A profile's console level would print Prefect's lines among the command's own: only
    # --verbose shows them.
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO")
    local_server.quiet_defaults(verbose=False)
    environ = local_server.os.environ
    assert environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "true"
    assert environ["DASK_LOGGING__DISTRIBUTED"] == "warning"
    assert environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "CRITICAL"


@pytest.mark.skipif(local_server.os.name != "posix", reason="the API's process is POSIX's")
def test_the_apis_process_has_a_session_of_its_own(tmp_path: Any) -> None:
    """Ctrl-C at the terminal goes to the terminal's whole process group: it must reach the
    command, whose clean-up then records the run and stops the API, not the API at once."""
    import os

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_HOME", str(tmp_path))
        api = local_server._ApiProcess()
    try:
        assert api.alive()
        assert os.getsid(api.process.pid) == api.process.pid != os.getsid(0)
    finally:
        api.stop()
    assert not api.alive()


@pytest.mark.skipif(local_server.os.name != "posix", reason="the API's process is POSIX's")
def test_an_api_started_early_is_stopped_when_a_server_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The command starts its temporary API first thing, guessing none is configured; a server
    set in the profile (not the environment) is found later, and the early API must not run on
    unused to the command's end."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setattr(local_server, "_early", None)
    local_server.start_temporary_api()
    early = local_server._early
    assert early is not None and early.alive()
    api = _Api([200])
    try:
        configured = temporary_settings(updates={PREFECT_API_URL: api.url})
        with configured, local_server.prefect_api() as url:
            assert url == api.url
            assert local_server._early is None and not early.alive()
    finally:
        early.stop()
        api.server.shutdown()
        api.server.server_close()


def test_no_api_is_started_early_when_the_environment_names_a_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PREFECT_API_URL in the environment: the run reports there, so starting Prefect's server
    alongside would only take a core from the run's start."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(local_server, "_early", None)
    local_server.start_temporary_api()
    assert local_server._early is None


class _Counts:
    """A Prefect client whose task-run counts (all, final) are read in turn from ``reads``."""

    def __init__(self, reads: list[tuple[int, int]]) -> None:
        self.reads, self.asked = reads, 0

    def __enter__(self) -> _Counts:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def request(self, method: str, path: str, json: dict[str, Any]) -> Any:
        assert (method, path) == ("POST", "/task_runs/count")
        every, final = self.reads[min(self.asked // 2, len(self.reads) - 1)]
        self.asked += 1
        value = final if "task_runs" in json else every

        class Response:
            def raise_for_status(self) -> None:
                return None

            def json(self) -> int:
                return value

        return Response()


@pytest.mark.parametrize(
    ("reads", "pairs"),
    [
        # Two reads alike, and every task run final: at once.
        ([(3, 3)], 2),
        # Final, but the count still growing (a state on its way): until it stops changing.
        ([(3, 3), (4, 4), (4, 4)], 3),
        # The same twice, but one task run not final yet: until it is.
        ([(3, 2), (3, 2), (3, 3), (3, 3)], 4),
    ],
)
def test_the_api_is_stopped_once_its_record_of_the_run_is_whole(
    monkeypatch: pytest.MonkeyPatch, reads: list[tuple[int, int]], pairs: int
) -> None:
    import prefect.client.orchestration as orchestration

    client = _Counts(reads)
    monkeypatch.setattr(orchestration, "get_client", lambda **kwargs: client)
    monkeypatch.setattr(local_server.time, "sleep", lambda seconds: None)
    local_server._wait_until_recorded(since=None, within=5)
    assert client.asked == 2 * pairs


def test_an_api_whose_process_ended_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's process died starting (its error is on the terminal above): one line at once,
    not three minutes of asking a port nobody serves."""
    with socket.socket() as probe:  # a port just freed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    monkeypatch.setattr(local_server.time, "sleep", slept.append)
    monkeypatch.setattr(local_server, "STARTUP_TIMEOUT_SECONDS", 3.0)
    monkeypatch.setenv("PREFECT_HOME", "/srv/nis/prefect")
    with pytest.raises(local_server.PrefectUnavailableError) as caught:
        local_server._wait_until_up(f"http://127.0.0.1:{port}/api", lambda: False)
    assert slept == []
    assert str(caught.value) == (
        "the temporary Prefect API did not start (see the lines above); its database is under "
        "/srv/nis/prefect"
    )
