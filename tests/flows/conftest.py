"""Prefect's test harness for the flow tests: one temporary API server and SQLite database per
test session (per xdist worker), started once. Tests that need it carry the ``prefect`` mark and
the ``xdist_group("prefect")`` mark, so ``pytest -n 2 --dist loadgroup`` runs them all on one
worker and the harness starts once.

Prefect never touches the developer's ``~/.prefect``: the root conftest points ``PREFECT_HOME`` at
a temporary folder before anything imports prefect (and this file does so too when run alone).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator

import pytest

if "PREFECT_HOME" not in os.environ:  # pragma: no cover - the root conftest normally sets it
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="nis-flow-tests-prefect-")
os.environ.pop("PREFECT_API_URL", None)
# The harness server is a subprocess that inherits this environment: no telemetry from tests.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Import Prefect now, while pytest's session-wide capture is in place: Prefect's console log handler
# keeps the stderr it finds when logging is set up, and one test's capsys stream would be closed
# under the next test's logs.
import prefect.main  # noqa: E402,F401  (importing prefect.main sets its logging up)

# A fresh CI container needs over a minute for the first SQLite migration (PrefectHQ/prefect#15075).
HARNESS_STARTUP_TIMEOUT = 240


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=HARNESS_STARTUP_TIMEOUT):
        yield
        # The harness says at info level that it stops its server, and by then pytest may have
        # closed the stream Prefect's console handler writes to: a run of a few test files ended
        # on logging's "I/O operation on closed file" and a stack.
        logging.getLogger("prefect").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _harness_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("prefect") is not None:
        request.getfixturevalue("prefect_harness")


@pytest.fixture(autouse=True)
def _modules_pickled_by_value_as_before() -> Iterator[None]:
    """A hub flow run from its file registers its module with cloudpickle to be pickled by value,
    for the rest of the process. Prefect names the module of every later load of that file alike,
    so a later test that runs the flow without that registration found it made already, by
    whichever test of another file had run first on its xdist worker. Each test leaves the
    registry as it found it."""
    import sys
    import types

    import cloudpickle

    before = cloudpickle.list_registry_pickle_by_value()
    yield
    for name in cloudpickle.list_registry_pickle_by_value() - before:
        cloudpickle.unregister_pickle_by_value(sys.modules.get(name) or types.ModuleType(name))
