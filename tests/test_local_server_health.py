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
