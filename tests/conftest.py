"""Session-wide test settings. Prefect must never touch the developer's own ~/.prefect, and must
not reach a server configured on the machine: both are set before anything imports prefect."""

from __future__ import annotations

import os
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="nis-tests-prefect-")
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
