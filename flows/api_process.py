"""The temporary Prefect API of one ``nis`` command, as a child process of it.

Run as ``python -m flows.api_process FD PARENT_PID`` by ``flows.local_server``: it serves
Prefect's API on the listening socket FD (opened by the parent, so the port is known before
this process starts and nothing else can take it) until it is sent SIGTERM, and dies with
its parent: on Linux the kernel kills it when the parent ends (even by SIGKILL), and
elsewhere a watch thread notices within a second.

Only the standard library is imported before the parent check, so a parent that is already gone
costs nothing.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any

_PR_SET_PDEATHSIG = 1
_SIGKILL = 9

# A temporary API lives for one command. Its automations (the triggers service and the actions
# it takes) have nothing to act on in that time, and block types are registered by a server a
# team starts for its UI (Block.save registers a block's own type): skipping both takes about a
# second off every run's start-up (one second of CPU too). The key-value store Prefect's task
# queue (docket) imports wraps each of its functions in runtime type checks (beartype) that only
# ever warn: left unwrapped, its import takes about 0.1 CPU-seconds less. Settings given in the
# environment are kept.
LEAN_SERVER = {
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
    "PY_KEY_VALUE_DISABLE_BEARTYPE": "true",
}


def lean_settings() -> None:
    """Put :data:`LEAN_SERVER` in this process's environment, under what it already holds."""
    for name, value in LEAN_SERVER.items():
        os.environ.setdefault(name, value)


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)

    # Its first look is at once: a parent that ended before the line above took effect (the
    # kernel then sends nothing) ends this process too, before Prefect's server is imported.
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="nis-parent-watch", daemon=True).start()


def listening_socket(fd: int) -> socket.socket:
    """The parent's listening socket, as what it is: a TCP one, its connections without Nagle's
    algorithm. (uvicorn's own ``fd=`` takes every descriptor for a Unix socket, so asyncio left
    Nagle on, and each response, headers and body written apart, waited about 40 ms for the
    client's delayed ACK: a second or more of every run.)"""
    listener = socket.socket(fileno=fd)  # family, type and protocol read from the descriptor
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def make_app() -> Any:
    """Prefect's API app, imported and made with the garbage collector paused, its routes built
    (:func:`build_routes`), then frozen out of later collections (``flows.startup_gc``): about
    0.6 CPU-seconds less start-up.

    Not ``final``: with the FastAPI pinned here that flag only asks for a full collection
    (Prefect's routes are no longer copied, so there is nothing to drop), 0.1 to 0.2
    CPU-seconds to free a few thousand objects, which the freeze that follows leaves alone."""
    from flows.startup_gc import freeze_startup, paused_gc

    with paused_gc():
        import uvicorn  # noqa: F401 - main's server, imported in the pause with the rest
        from prefect.server.api.server import create_app

        app = create_app(ephemeral=True, final=False)
        build_routes(app)
    freeze_startup()
    return app


def build_routes(app: Any) -> None:
    """Have FastAPI build the request and response models of the app's routes now.

    It builds them for every route of an included router at the first request routed through
    it (about 0.3 CPU-seconds for Prefect's 184 routes): that was the command's first request,
    the version check at its flow's start, on the run's longest chain, while a big run validates
    on both cores. One request of the app's own before it serves (a version read, which needs
    no database) does it while the command still imports and validates. Whatever goes wrong
    here leaves the building to the first request, as before."""
    import asyncio
    import contextlib

    import httpx

    async def ask() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            await client.get("/api/admin/version")

    with contextlib.suppress(Exception):
        asyncio.run(ask())


def prompt_server(config: Any) -> Any:
    """uvicorn's server for ``config``, ending as soon as the command asks it to.

    uvicorn looks for its signal every 0.1 s, and at its shutdown waits another 0.1 s for the
    connections it has asked to close; by the time the command stops its API it has recorded
    the run and closed its connections, so a stop spent about 0.15 s waiting on those timers at
    the end of every command. This one is woken by the signal, and skips the pause when no
    connection or request is open (uvicorn's own shutdown when any is)."""
    import asyncio
    import contextlib

    import uvicorn

    class PromptServer(uvicorn.Server):
        tick_seconds = 0.1  # uvicorn's own: the date header and its other checks keep their pace
        _wake: Any = None

        async def main_loop(self) -> None:
            told = asyncio.Event()
            loop = asyncio.get_running_loop()
            self._wake = lambda: loop.call_soon_threadsafe(told.set)
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(told.wait(), self.tick_seconds)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if self._wake is not None:
                with contextlib.suppress(RuntimeError):  # a loop already closed: nothing to wake
                    self._wake()

        async def shutdown(self, sockets: Any = None) -> None:
            if self.server_state.connections or self.server_state.tasks:
                await super().shutdown(sockets=sockets)
                return
            for server in self.servers:
                server.close()
            for sock in sockets or []:
                sock.close()
            if not self.force_exit:
                await self.lifespan.shutdown()

    return PromptServer(config)


def main(argv: list[str]) -> None:
    fd, parent = int(argv[1]), int(argv[2])
    _die_with(parent)
    lean_settings()
    app = make_app()
    import uvicorn

    server = prompt_server(uvicorn.Config(app, log_level="error", lifespan="on"))
    server.run(sockets=[listening_socket(fd)])
    sys.stdout.flush()
    sys.stderr.flush()
    # The database is closed by the server's shutdown; tearing down the interpreter's modules
    # would only add seconds to the parent's exit.
    os._exit(0 if server.started else 1)


if __name__ == "__main__":
    main(sys.argv)
