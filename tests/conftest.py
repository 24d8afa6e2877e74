"""Session-wide test settings. Prefect must never touch the developer's own ~/.prefect, and must
not reach a server configured on the machine: both are set before anything imports prefect."""

from __future__ import annotations

import os
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="nis-tests-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# Extract dates in tests are pinned where a rule depends on them; this keeps the rest stable.
os.environ.pop("NIS_EXTRACT_DATE", None)
