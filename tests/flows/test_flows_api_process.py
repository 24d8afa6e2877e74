"""The temporary API's process starts lean: Prefect's automations services and block
registration are off there (under the setting names Prefect reads), the key-value store's runtime
type checks are off, its app is made without a full collection, and a setting given in the
environment is kept."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flows.api_process import LEAN_SERVER, prompt_server

# What Prefect itself makes of an environment: its enabled ephemeral-server services and whether
# block types are registered on start.
_PROBE = """
import json
from flows.api_process import lean_settings
lean_settings()
from prefect.server.services.base import RunInEphemeralServers
from prefect.settings import get_current_settings
server = get_current_settings().server
print(json.dumps({
    "services": sorted(s.__name__ for s in RunInEphemeralServers.enabled_services()),
    "register": server.register_blocks_on_start,
    "memoize": server.memoize_block_auto_registration,
    "beartype": __import__("key_value.aio").aio.strategy.name,
}))
"""


def _probe(code: str = _PROBE, **environment: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter, free of this session's Prefect settings; it prints
    one JSON line last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(environment)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_temporary_api_runs_without_automations_or_block_registration() -> None:
    seen = _probe()
    assert "Actions" not in seen["services"] and "ReactiveTriggers" not in seen["services"]
    # What the run needs is still served: task runs are recorded, events persisted.
    assert {"TaskRunRecorder", "EventPersister"} <= set(seen["services"])  # type: ignore[arg-type]
    assert seen["register"] is False and seen["memoize"] is False
    assert seen["beartype"] == "O0"  # no checks made (O1, the package's default, makes them)


def test_a_setting_in_the_environment_is_kept() -> None:
    seen = _probe(PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED="true")
    assert "Actions" in seen["services"] and "ReactiveTriggers" in seen["services"]
    assert set(LEAN_SERVER) == {
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START",
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION",
        "PY_KEY_VALUE_DISABLE_BEARTYPE",
    }


_FULL_COLLECTIONS = """
import gc, json
full = []
def count(phase, info):
    if phase == "start" and info["generation"] == 2:
        full.append(1)
gc.callbacks.append(count)
from flows.api_process import make_app
app = make_app()
seen = {"full": len(full), "frozen": gc.get_freeze_count() > 0, "routes": len(app.routes)}
print(json.dumps(seen))
"""


def test_the_app_is_made_without_a_full_collection(tmp_path: Path) -> None:
    # Whatever making the app writes stays in the test's folder.
    seen = _probe(_FULL_COLLECTIONS, PREFECT_HOME=str(tmp_path))
    # Prefect's final=True collects everything once (0.1 to 0.2 CPU-seconds); the freeze
    # afterwards keeps the start-up's objects out of every later collection instead.
    assert seen["full"] == 0
    assert seen["frozen"] is True and seen["routes"] > 0  # type: ignore[operator]


_ROUTES_BUILT = """
import asyncio, json, sys
import fastapi.dependencies.utils as dependencies
import fastapi.routing as routing
import httpx
import flows.api_process as api_process
if sys.argv[1] == "unbuilt":
    api_process.build_routes = lambda app: None
made = [0]
def spy(made_by):
    def counted(*args, **kwargs):
        made[0] += 1
        return made_by(*args, **kwargs)
    return counted
routing.create_model_field = spy(routing.create_model_field)
dependencies.create_model_field = spy(dependencies.create_model_field)
app = api_process.make_app()
before = made[0]
async def ask():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return (await client.get("/api/admin/version")).status_code
status = asyncio.run(ask())
print(json.dumps({"at_first_request": made[0] - before, "status": status}))
"""


@pytest.mark.parametrize("built", [True, False], ids=["as-made", "without-build_routes"])
def test_the_routes_are_built_before_the_command_asks(built: bool, tmp_path: Path) -> None:
    # FastAPI builds every route's request and response models at the first request routed
    # through an included router (0.3 CPU-seconds for Prefect's 184 routes): the app is made
    # with that request done, so the command's first request finds them built.
    probe = _ROUTES_BUILT.replace("sys.argv[1]", repr("built" if built else "unbuilt"))
    seen = _probe(probe, PREFECT_HOME=str(tmp_path))
    assert seen["status"] == 200
    if built:
        assert seen["at_first_request"] == 0
    else:  # (what the first request costs otherwise: the test would see a FastAPI that changed)
        assert seen["at_first_request"] > 100  # type: ignore[operator]


def _server() -> Any:
    import uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never asked anything here
        raise AssertionError("no request expected")

    config = uvicorn.Config(app, log_level="error", lifespan="off")
    config.load()
    return prompt_server(config)


def test_the_api_ends_when_told_not_at_its_next_tick() -> None:
    # uvicorn looks for its signal every tick (0.1 s); told, this server ends at once. A tick of
    # a minute shows it: without the wake-up, the loop would run past the 10 s bound.
    server = _server()
    server.tick_seconds = 60.0

    async def told_soon() -> float:
        asyncio.get_running_loop().call_later(0.05, server.handle_exit, signal.SIGTERM, None)
        started = time.monotonic()
        await asyncio.wait_for(server.main_loop(), timeout=10)
        return time.monotonic() - started

    assert asyncio.run(told_soon()) < 10
    assert server.should_exit


@pytest.mark.parametrize("open_connections", [0, 1])
def test_the_api_shuts_down_without_uvicorns_pause_when_nothing_is_open(
    open_connections: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    server = _server()
    server.servers = []
    server.server_state.connections.update(object() for _ in range(open_connections))
    seen: list[str] = []

    class Lifespan:
        async def shutdown(self) -> None:
            seen.append("lifespan")

    async def uvicorns_own(self: Any, sockets: Any = None) -> None:
        seen.append("uvicorn")

    server.lifespan = Lifespan()
    monkeypatch.setattr(uvicorn.Server, "shutdown", uvicorns_own)
    asyncio.run(server.shutdown())
    # (uvicorn's own shutdown asks open connections to close, waits 0.1 s, then the lifespan)
    assert seen == (["uvicorn"] if open_connections else ["lifespan"])


def test_the_methods_replaced_are_uvicorns_own() -> None:
    # The server overrides uvicorn's main loop, its signal handler and its shutdown: a uvicorn
    # that no longer calls them from its serving loop (or signal capture) would leave the
    # overrides unused, and this fails, so they are looked at again.
    import inspect

    import uvicorn

    serving = inspect.getsource(uvicorn.Server._serve)
    assert "self.main_loop()" in serving and "self.shutdown(" in serving
    assert "self.handle_exit" in inspect.getsource(uvicorn.Server.capture_signals)
    assert "self.lifespan.shutdown()" in inspect.getsource(uvicorn.Server.shutdown)
    assert "self.servers" in inspect.getsource(uvicorn.Server.startup)
    assert "self.server_state" in inspect.getsource(uvicorn.Server.__init__)


_DEATH_SIGNAL = """
import ctypes, json, os, signal, time
from flows.api_process import _die_with
_die_with(os.getppid())
seen = ctypes.c_int(0)
ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(seen), 0, 0, 0)  # PR_GET_PDEATHSIG
print(json.dumps({"signal": seen.value, "kill": int(signal.SIGKILL)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_api_asks_the_kernel_to_end_it_with_its_parent() -> None:
    """On Linux the kernel kills the API the instant its parent ends, even by SIGKILL (the
    watch thread, elsewhere, notices within a second, which a test of a killed run cannot tell
    apart)."""
    seen = _probe(_DEATH_SIGNAL)
    assert seen["signal"] == seen["kill"] == 9


_ORPHAN = """
import os, sys, time
from flows.api_process import _die_with
_die_with(os.getppid() + 100000)  # not this process's parent: as if the parent had ended
time.sleep(5)
print("still here")
"""


def test_an_api_whose_parent_has_already_ended_ends_at_once() -> None:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _ORPHAN], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (1, "")
    assert time.monotonic() - started < 4
