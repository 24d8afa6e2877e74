"""One audit line per command, however it ends (spec section 8).

A command body runs inside :func:`audited` and fills ``audit.record`` (an
:class:`exports.audit.AuditRecord`) with facts as it learns them: census, council, inputs,
outputs, counts. When the body ends, by returning, by ``typer.Exit(code)`` (0, 1 or 2) or by an
unexpected exception, the record gets its exit code and is appended to ``OUT/audit.jsonl``::

    with audited("package", config=config, out=out) as audit:
        settings = load_settings(config, output_dir=out)
        audit.use_settings(settings)
        audit.record.census = census
        ...
        audit.record.add_output(settings.output_dir, zip_path)
        raise typer.Exit(0)

- OUT is the command's output folder once ``use_settings`` has been called; before that (the
  config could not be read) it is ``--out``, or the config's ``output_dir`` read leniently, or
  the default ``./submissions``.
- An unexpected exception is recorded as ``crashed`` with its type only, and reported in one line
  (type and place, no message: messages can quote personal values), exit 1, no traceback.
- If the line cannot be appended, the command says so on stderr; a command that had succeeded
  then exits 1, since a run that cannot be proved did not fully succeed.
- A command refused because OUT is a symbolic link or a file, or (``package``, ``purge``, see
  :meth:`CommandAudit.refuse_missing_out`) is not there, writes no line: there is no output
  folder to write it in, and one is not made for it. Nor does a ``hub`` refused because OUT is
  inside its sources folder (:meth:`CommandAudit.keep_out_of`): the line would make or fill a
  folder the next hub takes for a council.
- Usage errors found by the argument parser (a missing option) happen before the command starts
  and are not recorded: nothing was read or written.
"""

from __future__ import annotations

import sys
import time
import tomllib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import typer

from exports.audit import AUDIT_NAME, AuditRecord, append_audit
from flows.settings import ConfigError, Settings, load_settings
from flows.signals import interrupts_held, signal_inside, sigterm_noted
from nis_pipeline.terminate import TERMINATED_EXIT, Terminated
from schemas.errors import ExitCode
from schemas.models import EXTRACT_NAMES

# Commands that read the extracts: their record names the inputs even when they stop early.
READS_EXTRACTS = frozenset({"run", "backfill", "research-extract"})
WRITES_SUBMISSIONS = frozenset({"run", "backfill", "hub"})


def current_flow_run_id() -> str | None:
    """The id of the Prefect flow run this code runs in, if any (without importing Prefect)."""
    if "prefect" not in sys.modules:
        return None
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return str(context.flow_run.id)


def _lenient_output_dir(config: Path | None) -> Path | None:
    """The config file's ``output_dir`` when the file reads as TOML, even if other settings in it
    are wrong (so a config mistake is still recorded in that council's log)."""
    if config is None:
        return None
    try:
        with open(config, "rb") as handle:
            value = tomllib.load(handle).get("output_dir")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(value, str) or not value:
        return None
    return (config.parent / value).resolve()


class CommandAudit:
    """The audit record of one command, and where it goes."""

    def __init__(self, command: str, config: Path | None, out: Path | None) -> None:
        self.record = AuditRecord(command=command)
        self.config = config
        self.out = out
        self.settings: Settings | None = None
        self._run_state: Any = None
        self._out_missing = False
        self._sources: Path | None = None  # a hub's: a refused run writes nothing under it
        self._started_ns = time.time_ns()  # what an interrupted run finished is found by it
        flows_ran = sys.modules.get("flows.run_audit")  # imported once a flow body began
        self._runs_mark = flows_ran.flow_runs_begun() if flows_ran is not None else 0

    # -- facts the commands give -------------------------------------------------------------

    def use_settings(self, settings: Settings) -> None:
        """The command's settings: they give OUT and, when configured, the council."""
        self.settings = settings
        if self.record.la_code is None and settings.la_code:
            self.record.la_code = settings.la_code

    def try_settings(self, config: Path | None, **overrides: Any) -> None:
        """Load the settings as the command will, for OUT and the council; a config the command
        itself will refuse is left for it to report."""
        with suppress(ConfigError):
            self.use_settings(load_settings(config, **overrides))

    def refuse_missing_out(self) -> None:
        """For a command that only works in an OUT already there (``package``, ``purge``): exit 2
        with one line when the settings could be read and their OUT is not there.
        No audit line is then written: making the folder to hold one would leave a stray folder
        for a mistyped ``--out``, and a purge of it would look like "nothing was due"."""
        if self.settings is None:
            return  # the command reports the config first, and its line is kept
        root = self.out_root
        if root.exists() or root.is_symlink():
            return
        print(f"error: the output folder {root} does not exist", file=sys.stderr)
        self._out_missing = True
        raise typer.Exit(ExitCode.FATAL)

    def keep_out_of(self, sources: Path) -> None:
        """The hub's sources folder: a hub that did not succeed writes no line under it. Its only
        way there is an OUT inside the sources, which the hub refuses (exit 2) because the next
        hub would take that folder for a council; making it for the audit line would do just
        that."""
        self._sources = sources

    def _under_sources(self, root: Path) -> bool:
        if self._sources is None:
            return False
        return Path(root).resolve().is_relative_to(Path(self._sources).resolve())

    def council_under_out(self) -> None:
        """The one council folder under OUT, when the settings name no council: the council
        ``nis package`` packs for then, so its line names it whether it packs or refuses."""
        from exports.package import only_la_code
        from schemas.errors import PipelineError

        if self.record.la_code is None:
            with suppress(PipelineError, OSError):  # none or several: the command says which
                self.record.la_code = only_la_code(self.out_root)

    def record_package(self, out_root: Path, package: Any) -> None:
        """The package ``nis package`` built: its file, and the files packed in it."""
        self.record.add_output(out_root, package.path, package.sha256)
        self.record.details["packed"] = [
            {"name": name, "sha256": digest} for name, digest in package.files
        ]

    def observe_run(self, state: Any) -> None:
        """Called with the final Prefect state of ``nis run`` / ``nis backfill``'s flow."""
        self._run_state = state

    # -- where the line goes -----------------------------------------------------------------

    @property
    def out_root(self) -> Path:
        if self.settings is not None:
            return Path(self.settings.output_dir)
        if self.out is not None:
            return self.out
        lenient = _lenient_output_dir(self.config)
        if lenient is not None:
            return lenient
        try:
            return Path(load_settings(None).output_dir)  # NIS_OUTPUT_DIR, or the default
        except ConfigError:
            return Path("submissions")

    def finish(self, exit_code: int, crashed: str | None = None) -> bool:
        """Complete the record and append it; False (after one line on stderr) when it could
        not be appended. A Ctrl-C or SIGTERM meanwhile waits for the line (``interrupts_held``):
        the command is ending anyway."""
        with interrupts_held():
            return self._finish(exit_code, crashed)

    def _finish(self, exit_code: int, crashed: str | None) -> bool:
        record = self.record
        record.exit_code = exit_code
        if crashed is not None:
            record.outcome = "crashed"
            record.details["error"] = crashed
        if record.flow_run_id is None:
            record.flow_run_id = current_flow_run_id()
        root = self.out_root
        if self._run_state is not None:
            from flows.run_facts import add_state_facts

            add_state_facts(record, root, self._run_state)
        elif record.outcome == "interrupted" and record.command in WRITES_SUBMISSIONS:
            from flows.run_facts import add_finished_since

            add_finished_since(record, root, self._started_ns)
        flows_ran = sys.modules.get("flows.run_audit")  # imported by a flow body, if one began
        if flows_ran is not None and record.flow_run_id is None:
            record.flow_run_id = flows_ran.last_flow_run_since(self._runs_mark)
        if not record.inputs and self.settings is not None and record.command in READS_EXTRACTS:
            record.inputs = source_file_hashes(self.settings)
        if exit_code != 0 and (
            self._out_missing
            or Path(root).is_symlink()
            or Path(root).is_file()
            or self._under_sources(root)
        ):
            return True  # the command refused that output folder already, and said so
        try:
            append_audit(root, record)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            print(f"error: could not append to {root / AUDIT_NAME}: {reason}", file=sys.stderr)
            return False
        return True


def source_file_hashes(settings: Settings) -> list[dict[str, Any]]:
    """The SHA-256 of each extract file of a folder source, for a command that ended before it
    could record the hashes it read (a fatal error, a failed run). Empty for a database."""
    from exports.files import sha256_file
    from extracts.reader import find_extract_file
    from schemas.rules import FatalInputError

    if settings.source.path is None or settings.source.url is not None:
        return []
    found: list[dict[str, Any]] = []
    for name in EXTRACT_NAMES:
        try:
            path = find_extract_file(Path(settings.source.path), name)
            found.append({"extract": name, "source": path.name, "sha256": sha256_file(path)})
        except (FatalInputError, OSError):
            continue
    return found


def where_raised(exc: BaseException) -> str:
    """An exception by its type and the line it came from, never its message (messages can
    quote the values they failed on)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno} in {last.name}"


def interrupt_behind(exc: Exception) -> KeyboardInterrupt | None:
    """The interrupt to end with when ``exc`` was caused by a Ctrl-C or SIGTERM
    (:class:`Terminated` for SIGTERM), else None. Since every SIGTERM is noted, one that
    a library turned into any error at all still ends the command as interrupted."""
    found = signal_inside(exc)
    if sigterm_noted() or (found is not None and not isinstance(found, KeyboardInterrupt)):
        return Terminated()  # SIGTERM, or Prefect's TerminationSignal for it
    return found if isinstance(found, KeyboardInterrupt) else None


@contextmanager
def audited(command: str, *, config: Path | None, out: Path | None) -> Iterator[CommandAudit]:
    """Run a command body and append its audit line however it ends (see the module notes)."""
    audit = CommandAudit(command, config, out)
    try:
        yield audit
    except typer.Exit as exc:
        if not audit.finish(exc.exit_code) and exc.exit_code == 0:
            raise typer.Exit(ExitCode.FAILED) from None
        raise
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not audit.finish(code) and code == 0:
            raise typer.Exit(ExitCode.FAILED) from None
        raise
    except KeyboardInterrupt as exc:
        audit.record.outcome = "interrupted"
        if isinstance(exc, Terminated):
            audit.finish(TERMINATED_EXIT)
            raise typer.Exit(TERMINATED_EXIT) from None
        audit.finish(130)
        raise
    except Exception as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is not None:
            # A library turned the Ctrl-C or SIGTERM into its own error: stopped, not failed.
            audit.record.outcome = "interrupted"
            if isinstance(interrupt, Terminated):
                audit.finish(TERMINATED_EXIT)
                raise typer.Exit(TERMINATED_EXIT) from None
            audit.finish(130)
            raise interrupt from None
        where = where_raised(exc)
        audit.finish(ExitCode.FAILED, crashed=type(exc).__name__)
        print(f"error: nis {command} failed unexpectedly: {where}", file=sys.stderr)
        raise typer.Exit(ExitCode.FAILED) from None
    else:
        if not audit.finish(0):
            raise typer.Exit(ExitCode.FAILED)
