"""Session-wide test settings. Prefect must never touch the developer's own ~/.prefect, and must
not reach a server configured on the machine: both are set before anything imports prefect."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from embedded_pg import EmbeddedPostgres

_PREFECT_HOME = tempfile.mkdtemp(prefix="nis-tests-prefect-")
# Each session (and each xdist worker) has its own; left behind, every `make test` added a few
# megabytes of Prefect databases to /tmp for good.
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# The harness server inherits this environment: no telemetry from tests (on a fresh database it
# can also log "database is locked" tracebacks).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Extract dates in tests are pinned where a rule depends on them; this keeps the rest stable.
os.environ.pop("NIS_EXTRACT_DATE", None)

# Import Prefect while pytest's session-wide capture is in place: its console log handler keeps
# the stderr it finds when logging is set up, and a test's capsys stream would be closed under the
# next test's logs.
import prefect.main  # noqa: E402,F401

# Prefect's events client keeps a websocket open in its event-loop thread after a flow test, and
# websockets draws each keepalive ping's payload from the global `random`. Hypothesis checks that
# the global generator is untouched while it draws an example: a ping landing mid-draw (another
# test on the same xdist worker, seconds later) failed a property test at random. websockets gets
# a generator of its own; nothing else about its pings changes.
import websockets.asyncio.connection  # noqa: E402

websockets.asyncio.connection.random = random.Random()

# --- a real PostgreSQL server --------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """One PostgreSQL server per test session (per xdist worker: its own port and folder),
    stopped and deleted at the end, also when tests fail. A server that cannot start fails the
    tests that need it, with PostgreSQL's reason: it is never skipped."""
    from embedded_pg import ServerStartError, start_server

    reason = ""
    try:
        server = start_server()
    except ServerStartError as exc:
        reason = str(exc)
    if reason:  # outside the except: the reason alone, not a chain of tracebacks
        pytest.fail(f"the test PostgreSQL server could not start: {reason}", pytrace=False)
    try:
        yield server
    finally:
        server.destroy()


# Property tests judge values, not speed: on a shared, loaded machine hypothesis's per-example
# deadline only makes them flaky (speed is measured in benchmarks/).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("nis", deadline=None)
_hypothesis_settings.load_profile("nis")
