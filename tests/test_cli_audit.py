"""``audited``: whatever way a command ends, one audit line is appended, to the right OUT, and a
command is never silently successful without one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.signals import forget_interrupts, note_interrupt
from nis_pipeline import terminate
from nis_pipeline.audit_scope import CommandAudit, audited, current_flow_run_id
from nis_pipeline.cli import app as nis_app
from nis_pipeline.terminate import Terminated, end_on_sigterm_as_on_ctrl_c

Body = Callable[[CommandAudit], None]
QUOTED = "Featherstonehaugh 1985-05-20"  # what a library message might quote


def _app(body: Body) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    def cmd(
        out: Path = typer.Option(None, "--out"),  # noqa: B008
        config: Path = typer.Option(None, "--config"),  # noqa: B008
    ) -> None:
        with audited("package", config=config, out=out) as audit:
            body(audit)

    @app.command()
    def other() -> None:  # a second command, so typer keeps the command name
        pass

    return app


def _run(body: Body, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(body), ["cmd", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def _entries(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]


def test_success_failure_and_fatal_are_each_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"

    def fill(code: int) -> Body:
        def body(audit: CommandAudit) -> None:
            audit.record.census = "2025-03-31"
            audit.record.counts["files"] = 5
            if code:
                raise typer.Exit(code)

        return body

    for code in (0, 1, 2):
        assert _run(fill(code), "--out", str(out))[0] == code
    entries = _entries(out)
    assert [(e["command"], e["exit_code"], e["outcome"]) for e in entries] == [
        ("package", 0, "ok"),
        ("package", 1, "failed"),
        ("package", 2, "fatal"),
    ]
    assert all(e["census"] == "2025-03-31" and e["counts"] == {"files": 5} for e in entries)
    assert all(e["flow_run_id"] is None for e in entries)


def test_an_unexpected_exception_is_one_line_exit_1_and_recorded_as_crashed(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"

    def body(audit: CommandAudit) -> None:
        raise ValueError(f"cannot place {QUOTED}")

    code, err = _run(body, "--out", str(out))
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("error: nis package failed unexpectedly: ValueError at test_cli_audit")
    assert "Featherstonehaugh" not in err and "Traceback" not in err
    [entry] = _entries(out)
    assert (entry["outcome"], entry["exit_code"], entry["error"]) == ("crashed", 1, "ValueError")
    assert "Featherstonehaugh" not in json.dumps(entry)


def test_a_log_that_cannot_be_written_turns_success_into_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("a file where OUT should be")
    code, err = _run(lambda audit: None, "--out", str(out))
    assert code == 1
    assert f"could not append to {out / 'audit.jsonl'}" in err
    # However the body says it succeeded: an exit with 0, or sys.exit() with no code.
    for ends in (typer.Exit(0), SystemExit(None), SystemExit(0)):
        code, err = _run(lambda audit, ends=ends: (_ for _ in ()).throw(ends), "--out", str(out))
        assert code == 1, ends
        assert f"could not append to {out / 'audit.jsonl'}" in err
    # A failure stays the failure it was.
    code, _ = _run(lambda audit: (_ for _ in ()).throw(typer.Exit(2)), "--out", str(out))
    assert code == 2


def test_the_record_goes_to_the_config_output_dir_even_when_the_config_is_wrong(
    tmp_path: Path,
) -> None:
    config = tmp_path / "cfg" / "nis.toml"
    config.parent.mkdir()
    config.write_text('output_dir = "../council-out"\nquarantine_threshold = 7\n')

    def body(audit: CommandAudit) -> None:
        audit.try_settings(config)  # refused: the threshold is over 1
        assert audit.settings is None
        raise typer.Exit(2)

    code, _ = _run(body, "--config", str(config))
    assert code == 2
    [entry] = _entries(tmp_path / "council-out")
    assert entry["exit_code"] == 2


def test_settings_give_out_and_council(tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text('output_dir = "elsewhere"\nla_code = "E08000012"\n')
    out = tmp_path / "out"

    def body(audit: CommandAudit) -> None:
        audit.try_settings(config, output_dir=out)  # --out wins over the file

    assert _run(body, "--config", str(config))[0] == 0
    [entry] = _entries(out)
    assert entry["la_code"] == "E08000012"
    assert not (tmp_path / "elsewhere").exists()


def test_no_flow_run_outside_prefect() -> None:
    assert current_flow_run_id() is None


@pytest.mark.parametrize(("interrupt", "code"), [(KeyboardInterrupt, 130), (Terminated, 143)])
def test_an_interrupted_command_is_recorded(tmp_path: Path, interrupt: type, code: int) -> None:
    out = tmp_path / "out"

    def body(audit: CommandAudit) -> None:
        raise interrupt()

    result = CliRunner().invoke(_app(body), ["cmd", "--out", str(out)])
    assert result.exit_code == code
    [entry] = _entries(out)
    assert (entry["outcome"], entry["exit_code"]) == ("interrupted", code)


@pytest.fixture
def command_handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The console script's signal handlers in this process, for one test."""
    import flows.signals

    monkeypatch.setattr(flows.signals, "_wakeup", None)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    wakeup = signal.set_wakeup_fd(-1)
    # As at a terminal, whatever started pytest: a run in the background ignores Ctrl-C, and the
    # handlers leave an ignored Ctrl-C ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        end_on_sigterm_as_on_ctrl_c()
        yield
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
        signal.set_wakeup_fd(wakeup)
        forget_interrupts()


def _signal_self(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.5)  # the handler runs between bytecodes, here at once


def test_sigterm_raises_terminated_and_sets_the_exit_code(command_handlers: None) -> None:
    assert terminate.exit_code(130) == 130  # Ctrl-C, no SIGTERM yet
    with pytest.raises(Terminated):
        _signal_self(signal.SIGTERM)
    assert terminate.exit_code(130) == 143 and terminate.exit_code(2) == 2


def test_a_second_ctrl_c_does_not_cut_the_first_ones_clean_up_short(
    command_handlers: None,
) -> None:
    """Pressed twice, Ctrl-C raised again while the first unwound (at the next call: often the
    audit's own ``__exit__``), and the command ended with no audit line (4 runs in 5)."""
    from flows.signals import stop_if_interrupted

    with pytest.raises(KeyboardInterrupt):
        _signal_self(signal.SIGINT)
    _signal_self(signal.SIGINT)  # noted, not raised
    _signal_self(signal.SIGTERM)
    assert terminate.exit_code(130) == 143  # the SIGTERM is still told
    with pytest.raises(Terminated):  # and a run whose first was swallowed stops at its next step
        stop_if_interrupted()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_no_interrupt_cuts_the_audit_line_short(command_handlers: None, signum: int) -> None:
    from flows.signals import interrupts_held, stop_if_interrupted

    with interrupts_held():
        _signal_self(signum)
        written = True
    assert written
    with pytest.raises(Terminated if signum == signal.SIGTERM else KeyboardInterrupt):
        stop_if_interrupted()


def test_sigterm_is_told_by_its_handler_where_an_event_loop_took_the_wakeup(
    command_handlers: None,
) -> None:
    """An event loop on the main thread takes the interpreter's wake-up descriptor; the
    handler's own note still makes the exit 143, not 130."""
    taken = signal.set_wakeup_fd(-1)
    try:
        with pytest.raises(Terminated):
            _signal_self(signal.SIGTERM)
    finally:
        signal.set_wakeup_fd(taken)
    assert terminate.exit_code(130) == 143


_IGNORING = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a job with '&'
from nis_pipeline.terminate import end_on_sigterm_as_on_ctrl_c
end_on_sigterm_as_on_ctrl_c()
print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, callable(signal.getsignal(signal.SIGTERM)))
"""


def test_a_background_command_that_ignores_ctrl_c_keeps_ignoring_it() -> None:
    """As POSIX tools do: a job started with Ctrl-C ignored is not stopped by the terminal's
    Ctrl-C meant for the foreground; SIGTERM still ends it cleanly."""
    done = subprocess.run(
        [sys.executable, "-c", _IGNORING], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "True"]


def test_an_interrupted_command_says_it_stopped() -> None:
    """Ctrl-C or SIGTERM ended a command with exit 130 or 143 and not a word on the terminal."""
    from nis_pipeline.terminate import stopped_line

    assert stopped_line(130, ["run", "--census", "2026-03-31"]) == (
        "stopped: nis run was interrupted (Ctrl-C) before it finished"
    )
    assert stopped_line(143, ["-v", "backfill"]) == (
        "stopped: nis backfill was interrupted (SIGTERM) before it finished"
    )
    assert stopped_line(130, []) == "stopped: nis was interrupted (Ctrl-C) before it finished"
    assert stopped_line(130, ["research-extract", "--census", "2026-03-31"]) == (
        "stopped: nis research-extract was interrupted (Ctrl-C) before it finished"
    )
    # Not a command's name: not repeated (it could be a path or a value).
    for typed in (["/data/Smith family.csv"], ["Run2"], ["run_"]):
        assert stopped_line(130, typed) == (
            "stopped: nis was interrupted (Ctrl-C) before it finished"
        )
    assert stopped_line(0, ["run"]) is None and stopped_line(1, ["run"]) is None


def test_an_interrupted_backfill_lists_the_periods_it_had_finished(tmp_path: Path) -> None:
    """A backfill stopped part way keeps the periods it finished, but its audit line listed no
    output (the flow's result is lost with the interrupt); they are found from their manifests.
    A folder finished before the command began is not its output."""
    out = tmp_path / "out"
    older = out / "E08000012" / "2025-03-31"
    older.mkdir(parents=True)
    (older / "manifest.json").write_text('{"files": []}')
    os.utime(older / "manifest.json", (1_000_000_000, 1_000_000_000))

    def body(audit: CommandAudit) -> None:
        folder = out / "E08000012" / "2025-09-30"
        folder.mkdir(parents=True)
        (folder / "a.csv").write_text("x\n")
        manifest = {"files": [{"name": "a.csv", "sha256": "ab" * 32, "rows": 1}]}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        (out / "E08000012" / "2026-03-31.partial-1").mkdir()  # being built: not an output
        raise KeyboardInterrupt

    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    def backfill(out: Path = typer.Option(None, "--out")) -> None:  # noqa: B008
        with audited("backfill", config=None, out=out) as audit:
            body(audit)

    @app.command()
    def other() -> None:
        pass

    result = CliRunner().invoke(app, ["backfill", "--out", str(out)])
    assert result.exit_code == 130
    [entry] = _entries(out)
    assert entry["outcome"] == "interrupted" and entry["la_code"] == "E08000012"
    assert [o["name"] for o in entry["outputs"]] == [
        "E08000012/2025-09-30/a.csv",
        "E08000012/2025-09-30/manifest.json",
    ]
    assert entry["outputs"][0]["sha256"] == "ab" * 32
    assert entry["finished_before_the_interrupt"] == [
        {"la_code": "E08000012", "census": "2025-09-30"}
    ]


@pytest.mark.parametrize("signal_raised", ["ours", "prefect's"])
def test_a_signal_prefect_turned_into_its_own_error_still_ends_the_run_as_interrupted(
    signal_raised: str,
) -> None:
    """SIGTERM while Prefect's engine starts a task run: it raises ValueError('Task run is not
    set') while handling the signal, and the run ended "failed", exit 1, in Prefect's words."""
    from flows.commands import _report

    class FailedState:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def result(self, raise_on_failure: bool = True) -> BaseException:
            return self.error

    from prefect.exceptions import TerminationSignal

    error = ValueError("Task run is not set")
    # Raised while the signal was being handled: our handler's, or Prefect's own while a flow
    # runs (its TerminationSignal, no KeyboardInterrupt: it escaped the audit, a traceback).
    error.__context__ = Terminated() if signal_raised == "ours" else TerminationSignal(signal=15)
    with pytest.raises(Terminated):
        _report(FailedState(error))


@pytest.mark.parametrize(
    ("wrapped", "code"),
    [(KeyboardInterrupt, 130), (Terminated, 143), ("prefect", 143), ("sigterm noted", 143)],
)
def test_a_command_whose_interrupt_a_library_turned_into_an_error_is_interrupted(
    tmp_path: Path, wrapped: object, code: int
) -> None:
    """Ctrl-C while Prefect was imported (its logging serialises its settings: pydantic wraps
    the signal twice and keeps only its name) ended `nis run` "failed unexpectedly:
    PydanticSerializationError", exit 1, audited as failed."""
    from prefect.exceptions import TerminationSignal
    from pydantic import BaseModel, model_serializer

    raised: BaseException
    if wrapped == "prefect":
        raised = TerminationSignal(signal=15)
    elif wrapped == "sigterm noted":
        raised = ValueError("an error the signal caused, which names no signal")
    else:
        assert isinstance(wrapped, type)
        raised = wrapped()

    class Inner(BaseModel):
        @model_serializer(mode="plain")
        def _ser(self) -> object:
            raise raised

    class Outer(BaseModel):
        inner: Inner = Inner()

    out = tmp_path / "out"

    def body(audit: CommandAudit) -> None:
        if wrapped == "sigterm noted":
            note_interrupt("sigterm")
        Outer().model_dump()

    try:
        result = CliRunner().invoke(_app(body), ["cmd", "--out", str(out)])
    finally:
        forget_interrupts()
    assert result.exit_code == code
    [entry] = _entries(out)
    assert (entry["outcome"], entry["exit_code"]) == ("interrupted", code)
    assert "failed unexpectedly" not in result.output


def test_an_unaudited_command_whose_interrupt_was_wrapped_is_interrupted() -> None:
    from nis_pipeline.cli import _crashed

    wrapped = ValueError("Task run is not set")
    wrapped.__context__ = Terminated()
    assert _crashed("validate", wrapped).exit_code == 143
    wrapped.__context__ = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        _crashed("validate", wrapped)
    assert _crashed("validate", ValueError("a bug")).exit_code == 1


def test_ctrl_c_while_the_command_line_is_imported_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C in the first tenth of a second printed a traceback of typer's imports and ended
    the process by the signal (exit -2)."""
    import sys

    from nis_pipeline.console import main

    class Importing:
        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "nis_pipeline.cli", Importing())
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 130
    assert capsys.readouterr().err == "stopped: nis was interrupted (Ctrl-C) before it began\n"


def test_with_no_usable_settings_the_line_goes_to_the_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No --out, no config, and an environment the settings refuse: the line still has a home,
    # the folder a run would have written to by default, not the working folder itself.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NIS_QUARANTINE_THRESHOLD", "7")
    monkeypatch.delenv("NIS_OUTPUT_DIR", raising=False)

    def body(audit: CommandAudit) -> None:
        audit.try_settings(None)
        assert audit.settings is None
        raise typer.Exit(2)

    assert _run(body)[0] == 2
    [entry] = _entries(tmp_path / "submissions")
    assert entry["exit_code"] == 2
    assert not (tmp_path / "audit.jsonl").exists()


def test_the_council_a_command_found_is_kept_when_its_settings_come_after(tmp_path: Path) -> None:
    from flows.settings import load_settings

    audit = CommandAudit("run", config=None, out=tmp_path)
    audit.record.la_code = "E06000001"
    audit.use_settings(load_settings(None, output_dir=tmp_path, la_code="E08000012"))
    assert audit.record.la_code == "E06000001"
    # Without one found, the settings' council is the record's.
    fresh = CommandAudit("run", config=None, out=tmp_path)
    fresh.use_settings(load_settings(None, output_dir=tmp_path, la_code="E08000012"))
    assert fresh.record.la_code == "E08000012"


def test_a_command_stopped_early_records_every_extract_file_it_can_find(tmp_path: Path) -> None:
    from flows.settings import load_settings
    from nis_pipeline.audit_scope import source_file_hashes
    from schemas.models import EXTRACT_NAMES

    source = tmp_path / "source"
    source.mkdir()
    # The second of the ten is missing: the eight after it are still recorded.
    present = [name for i, name in enumerate(EXTRACT_NAMES) if i != 1]
    for name in present:
        (source / f"{name}.csv").write_text(f"header_of_{name}\n")
    hashes = source_file_hashes(load_settings(None, source_path=source, output_dir=tmp_path))
    assert [h["extract"] for h in hashes] == present
    assert hashes[0] == {
        "extract": present[0],
        "source": f"{present[0]}.csv",
        "sha256": hashlib.sha256(f"header_of_{present[0]}\n".encode()).hexdigest(),
    }


@pytest.mark.parametrize("command", ["package", "purge"])
def test_an_output_folder_that_is_a_dangling_link_is_refused_as_a_link(
    tmp_path: Path, command: str
) -> None:
    # Not "does not exist": the folder named is a link, and saying so tells the user what to fix.
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "nowhere")
    args = ["--census", "2026-03-31"] if command == "package" else ["--before", "2020-01-01"]
    result = CliRunner().invoke(nis_app, [command, *args, "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the output folder {out} is a symbolic link: give the real folder (nothing is "
        "written through a link)"
    ]
    assert not (tmp_path / "nowhere").exists()


def test_sys_exit_with_a_message_is_recorded_as_a_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Python exits 1 for sys.exit("text") and 0 for sys.exit(): the line says the same.
    for ends in (SystemExit("stopped"), SystemExit(None), SystemExit(2)):
        _run(lambda audit, ends=ends: (_ for _ in ()).throw(ends), "--out", str(out))
    assert [(e["exit_code"], e["outcome"]) for e in _entries(out)] == [
        (1, "failed"),
        (0, "ok"),
        (2, "fatal"),
    ]


def test_an_interrupted_command_names_the_flow_run_it_had_begun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Interrupted inside its flow, a command has no final state to read the id from; the flow
    # body noted it when it began. A flow run begun before the command is not its own.
    from flows import run_audit

    monkeypatch.setattr(run_audit, "_begun", ["an-earlier-commands-run"])
    out = tmp_path / "out"

    def begins_then_stops(audit: CommandAudit) -> None:
        run_audit._begun.append("this-commands-run")
        raise KeyboardInterrupt

    def stops(audit: CommandAudit) -> None:
        raise KeyboardInterrupt

    for body in (begins_then_stops, stops):
        assert CliRunner().invoke(_app(body), ["cmd", "--out", str(out)]).exit_code == 130
    assert [e["flow_run_id"] for e in _entries(out)] == ["this-commands-run", None]


def test_a_package_line_names_the_configured_council_not_the_one_folder_under_out(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    (out / "E06000001").mkdir(parents=True)
    config = tmp_path / "nis.toml"
    config.write_text('la_code = "E08000012"\n')
    result = CliRunner().invoke(
        nis_app, ["package", "--census", "2026-03-31", "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 2  # E08000012 has no submission there
    [entry] = _entries(out)
    assert entry["la_code"] == "E08000012"


def test_a_sigterm_outside_a_commands_audited_body_ends_143_and_says_so(
    command_handlers: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's own end (nis_pipeline.cli.main): a command with no audit line
    (validate) stopped by SIGTERM is ended by typer as any interrupt, 130; main makes it 143
    and says what happened, as the audited commands do."""
    import flows.commands
    from nis_pipeline import cli

    def stopped(*args: object) -> int:
        _signal_self(signal.SIGTERM)
        raise AssertionError("not reached: the SIGTERM raised")

    monkeypatch.setattr(flows.commands, "validate_command", stopped)
    monkeypatch.setattr(sys, "argv", ["nis", "validate", "--source", "/nowhere"])
    monkeypatch.setattr(cli, "leave_out_hypothesis", lambda: None)
    monkeypatch.setattr(cli, "keep_going_when_the_reader_leaves", lambda: None)
    monkeypatch.setattr(cli.gc, "freeze", lambda: None)  # (not this test process's objects)
    # Reads ahead still under way would be left, not waited for (tests/test_read_ahead.py).
    ended_now: list[int] = []
    monkeypatch.setattr(cli, "_end_now_if_reading", ended_now.append)
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 143
    assert ended_now == [143]
    assert capsys.readouterr().err.splitlines()[-1] == (
        "stopped: nis validate was interrupted (SIGTERM) before it finished"
    )
