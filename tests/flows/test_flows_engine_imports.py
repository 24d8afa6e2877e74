"""The command imports what Prefect's engine imports at a first flow call while it waits for its
temporary API (``flows.local_server.ENGINE_MODULES``), not after it is up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import local_server

ROOT = Path(__file__).resolve().parents[2]


def test_the_engine_modules_are_new_to_the_command_and_all_there() -> None:
    # In a fresh interpreter: the command's own imports leave them out (else the early import is
    # no use), and each one imports (a Prefect upgrade that moves one fails here, not silently).
    code = (
        "import sys, flows.commands, flows.submission\n"
        "from flows.local_server import ENGINE_MODULES, import_engine_modules\n"
        "print([m for m in ENGINE_MODULES if m in sys.modules])\n"
        "import_engine_modules()\n"
        "print([m for m in ENGINE_MODULES if m not in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "[]"]


def test_they_are_imported_before_the_command_waits_for_its_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    class Api:
        url = "http://127.0.0.1:9/api"

        def alive(self) -> bool:
            return True

        def stop(self) -> None:
            seen.append("stop")

    class Waited(Exception):
        pass

    def wait(url: str, alive: object) -> None:
        seen.append("wait")
        raise Waited

    monkeypatch.setattr(local_server, "_early", None)
    monkeypatch.setattr(local_server, "_ApiProcess", Api)
    monkeypatch.setattr(local_server, "import_engine_modules", lambda: seen.append("import"))
    monkeypatch.setattr(local_server, "_wait_until_up", wait)
    with pytest.raises(Waited), local_server._temporary_api_process():
        pass
    assert seen == ["import", "wait", "stop"]
