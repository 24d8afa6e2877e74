"""A ``prefect server start`` for the benchmarks that time ``nis run`` against a running server
(what a team monitoring its runs in the Prefect UI has): started once, before anything is timed,
with its own ``PREFECT_HOME``, and stopped by the caller."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    """``prefect server start`` on ``port``, once it answers (at most 180 s)."""
    env = dict(os.environ, PREFECT_HOME=str(home), DO_NOT_TRACK="1")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).with_name("prefect")
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(180):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(1)
    server.terminate()
    server.wait()
    sys.exit("prefect server did not answer within 180 s")
