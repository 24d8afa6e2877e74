"""The Prefect API a command-line run talks to.

When a Prefect server is configured (``PREFECT_API_URL``, e.g. by ``prefect config set`` in the
active profile), runs are recorded there and show in its UI; it must then be running. Otherwise
the run gets a temporary API served from a thread of this very process, on a free port of the
loopback interface, with its SQLite database in ``PREFECT_HOME``. Compared with Prefect's own
temporary server (a second Python process it starts and stops), this saves a process start, and
nothing can outlive the command: a run killed with ``kill -9`` takes its API with it.

Telemetry is off for the temporary API and for the client: councils run this offline, and a
failed attempt to phone home is an error line in the run's log.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the URL of the API this command's runs use (see the module notes)."""
    from prefect.settings import get_current_settings

    configured = get_current_settings().api.url
    if configured:
        if not _healthy(configured, timeout=10):
            raise PrefectUnavailableError(
                f"the Prefect server at {configured} (PREFECT_API_URL) does not answer: start "
                "it (prefect server start), or unset PREFECT_API_URL to run with a temporary one"
            )
        yield configured
        return
    with _temporary_api() as url:
        yield url


@contextmanager
def _temporary_api() -> Iterator[str]:
    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    app = create_app(ephemeral=True, final=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="nis-prefect-api", daemon=True)
    thread.start()
    try:
        _wait_until_up(server, thread, url)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _flush_to_api()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_until_up(server: Any, thread: threading.Thread, url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.started and _healthy(url):
            return
        if not thread.is_alive():
            break
        time.sleep(0.05)
    raise PrefectUnavailableError(
        "the temporary Prefect API did not start"
        + ("" if thread.is_alive() else " (see the lines above)")
        + f"; its database is under {os.environ.get('PREFECT_HOME', '~/.prefect')}"
    )


def _flush_to_api() -> None:
    """Send the run's last logs and events before the API goes away (else Prefect retries
    against a closed port and prints errors after the run has ended)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30, at_exit=False)
    EventsWorker.drain_all(timeout=30, at_exit=False)
