"""The ``nis`` command itself (nis_pipeline/cli.py): what it says with no command, and the
defaults it hands the commands (checked where they are handed over, without running them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import flows.commands
import nis_pipeline.cli
from nis_pipeline.cli import app


def test_no_command_shows_the_commands_not_an_error() -> None:
    result = CliRunner().invoke(app, [])
    text = result.stdout + result.stderr
    assert text.startswith("Usage: root [OPTIONS] COMMAND [ARGS]...")
    assert "Missing command" not in text
    for command in ("synth", "validate", "columns", "run", "backfill", "hub", "package", "purge"):
        assert f"\n  {command} " in text


def test_hub_runs_two_local_workers_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[tuple[Any, ...]] = []

    def hub_command(*args: Any, **kwargs: Any) -> int:
        handed.append(args)
        return 0

    monkeypatch.setattr(nis_pipeline.cli, "_start_prefect_api", lambda verbose: None)
    monkeypatch.setattr(flows.commands, "hub_command", hub_command)
    out, sources = tmp_path / "out", tmp_path / "sources"
    base = ["hub", "--census", "2026-03-31", "--sources", str(sources), "--out", str(out)]
    assert CliRunner().invoke(app, base).exit_code == 0
    assert CliRunner().invoke(app, [*base, "--workers", "5"]).exit_code == 0
    # (census, sources, config, out, workers, scheduler, replace, verbose)
    assert [args[4] for args in handed] == [2, 5]
    assert [args[5:] for args in handed] == [(None, False, False), (None, False, False)]


@pytest.mark.parametrize("command", ["run", "backfill", "hub"])
@pytest.mark.parametrize("verbose", [False, True])
def test_prefects_own_lines_reach_the_terminal_only_with_verbose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, verbose: bool
) -> None:
    """The commands that run flows set Prefect's terminal defaults from --verbose, before the
    temporary API starts (flows.local_server.quiet_defaults, tested on its own)."""
    import flows.local_server

    told: list[object] = []
    monkeypatch.setattr(flows.local_server, "quiet_defaults", told.append)
    monkeypatch.setattr(flows.local_server, "start_temporary_api", lambda: told.append("api"))
    monkeypatch.setattr(flows.commands, f"{command}_command", lambda *a, **k: 0)
    args = {
        "run": ["--census", "2026-03-31"],
        "backfill": ["--from", "2025-09-30", "--to", "2026-03-31"],
        "hub": ["--census", "2026-03-31", "--sources", str(tmp_path)],
    }[command]
    flag = ["--verbose"] if verbose else []
    result = CliRunner().invoke(app, [command, *args, "--out", str(tmp_path / "out"), *flag])
    assert result.exit_code == 0, result.stderr
    assert told == [verbose, "api"]
