"""What the ``nis`` commands do, below the command line: check the arguments, run the work (for
``run`` and ``backfill``, the flows, recorded in the configured Prefect server or else in a
temporary API of its own: see ``flows.local_server``) and turn the outcome into an exit
code and a short summary. Prefect's own log lines reach the terminal only with ``--verbose``.

Exit codes (``schemas.errors.ExitCode``): 0 every period written or up to date; 1 the quarantine
threshold was exceeded, a period failed, a finished submission was in the way, or the run broke
unexpectedly; 2 nothing ran because of a user's mistake (a bad config or census date, a missing
or unreadable extract, another council's families). A failure prints one line on stderr, never
a traceback.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exports.plural import counted
from flows.local_server import prefect_api, quiet_defaults
from flows.read_ahead import start_read_ahead, stop_read_ahead
from flows.results import RunFailed, RunResult
from flows.run_audit import AUDITED_BY
from flows.settings import Settings, load_settings
from flows.signals import stopped_by_signal
from flows.startup_gc import paused_gc
from flows.summary import run_summary
from schemas.errors import ExitCode, PipelineError
from transforms.periods import check_census_not_after, parse_census


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _check_source(settings: Settings) -> None:
    """Fail fast on a missing source folder or extract file, before Prefect starts."""
    from extracts.reader import find_extract_file
    from flows.settings import ConfigError
    from schemas.models import EXTRACT_NAMES

    if settings.source.url is not None:
        return
    if settings.source.path is None:
        raise ConfigError("no source given: pass --source DIR or set [source] path in the config")
    for name in EXTRACT_NAMES:
        find_extract_file(Path(settings.source.path), name)


def _check_out(settings: Settings) -> None:
    """Fail fast on an output folder that is a symbolic link or a file (the writers refuse them
    too)."""
    from exports.paths import check_output_root

    check_output_root(Path(settings.output_dir))


def _report(state: Any) -> int:
    """Print the summary and, when the run failed, one error line; return the exit code."""
    outcome = state.result(raise_on_failure=False)
    result = outcome.result if isinstance(outcome, RunFailed) else outcome
    if isinstance(result, RunResult):
        for line in run_summary(result):
            print(line)
    if isinstance(outcome, PipelineError):
        return _error(str(outcome), outcome.exit_code)
    if not isinstance(outcome, RunResult):
        if isinstance(outcome, BaseException):
            # Stopped by Ctrl-C or SIGTERM while Prefect's engine was starting a task run: it
            # turns the signal into its own error (exit 1, "failed"); it ends as interrupted.
            stopped_by_signal(outcome)
        # The flow broke outside the failures it reports itself (Prefect says why in its log).
        return _error(f"the run ended {state.type.value.lower()}: {state.message}", ExitCode.FAILED)
    return ExitCode.OK


# Called with the flow's final state before the outcome is reported (the command line's audit
# log reads the flow run id and the result from it).
StateObserver = Callable[[Any], None]


def _run_flow(flow_fn: Any, observer: StateObserver | None = None, **parameters: Any) -> int:
    # With an observer the command records the run in the audit log: its flow must not add a
    # second line.
    before = os.environ.get(AUDITED_BY)
    if observer is not None:
        os.environ[AUDITED_BY] = "nis"
    try:
        with prefect_api():
            state = flow_fn(**parameters, return_state=True)
            if observer is not None:
                observer(state)
    except PipelineError as exc:  # the configured server does not answer
        return _error(str(exc), exc.exit_code)
    except Exception as exc:  # Prefect could not start (its temporary API, its database)
        return _error(f"the run could not start: {type(exc).__name__}", ExitCode.FAILED)
    except BaseException:  # Ctrl-C or SIGTERM: the command ends without the reads under way
        stop_read_ahead(wait=False)
        raise
    finally:
        stop_read_ahead()
        if before is None:
            os.environ.pop(AUDITED_BY, None)
        else:
            os.environ[AUDITED_BY] = before
    return _report(state)


def run_command(
    census: str | None,
    source: Path | None,
    config: Path | None,
    out: Path | None,
    replace: bool = False,
    verbose: bool = False,
    observer: StateObserver | None = None,
) -> int:
    """``nis run``: the submission of one census date (the latest due one when ``census`` is
    None)."""
    quiet_defaults(verbose)
    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        if census is not None:
            day = check_census_not_after(parse_census(census), settings.resolved_extract_date())
            census = day.isoformat()
        _check_out(settings)
        _check_source(settings)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    start_read_ahead(settings)  # while Prefect's API starts (flows.read_ahead)
    with paused_gc():  # Prefect's imports (flows.startup_gc)
        from flows.submission import nis_submission

    return _run_flow(
        nis_submission,
        observer,
        census_date=census,
        config_path=_text(config),
        source_path=_text(source),
        output_dir=_text(out),
        replace=replace,
    )


def backfill_command(
    from_census: str,
    to_census: str,
    source: Path | None,
    config: Path | None,
    out: Path | None,
    replace: bool = False,
    verbose: bool = False,
    observer: StateObserver | None = None,
) -> int:
    """``nis backfill``: one submission per census date from ``from_census`` to ``to_census``."""
    from flows.backfill import census_range

    quiet_defaults(verbose)
    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        censuses = census_range(from_census, to_census)
        check_census_not_after(censuses[-1], settings.resolved_extract_date())
        _check_out(settings)
        _check_source(settings)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    start_read_ahead(settings)  # while Prefect's API starts (flows.read_ahead)
    with paused_gc():  # Prefect's imports (flows.startup_gc)
        from flows.backfill import nis_backfill

    print(
        f"backfill of {counted(len(censuses), 'period', 'periods')}: "
        f"{censuses[0]} to {censuses[-1]}",
        flush=True,
    )
    return _run_flow(
        nis_backfill,
        observer,
        from_census=censuses[0].isoformat(),
        to_census=censuses[-1].isoformat(),
        config_path=_text(config),
        source_path=_text(source),
        output_dir=_text(out),
        replace=replace,
    )


def _report_refusal(report: Path, settings: Settings) -> str | None:
    """Why ``--report`` cannot be written (None when it can): it is a workbook, and it must not
    take the place of an extract (``--report people.xlsx`` in the source folder replaced the
    council's extract with the report) or of anything a run wrote for a census date (it replaced
    a finished submission's workbook, which the next run and ``nis package`` then refused as
    altered)."""
    from exports.retention import census_of
    from schemas.codes import LA_CODE_PATTERN
    from schemas.models import EXTRACT_NAMES

    if report.suffix.lower() != ".xlsx":
        return f"--report {report}: the report is an Excel workbook; give a name ending .xlsx"
    resolved = report.resolve()
    for place in (resolved, *resolved.parents):
        if census_of(place.name) and re.fullmatch(LA_CODE_PATTERN, place.parent.name):
            return (
                f"--report {report} is inside {place}, written by a run for census date "
                f"{census_of(place.name)}, which is never changed afterwards; write the report "
                "elsewhere"
            )
    if settings.source.url is not None or settings.source.path is None:
        return None
    folder = Path(settings.source.path).resolve()
    target = report.resolve()
    if target.parent == folder and target.stem.lower() in EXTRACT_NAMES:
        return (
            f"--report {report} would take the place of the {target.stem.lower()} extract in the "
            "source folder; write the report elsewhere"
        )
    return None


def validate_command(source: Path | None, config: Path | None, report: Path) -> int:
    """``nis validate``: read and validate the extracts, write the report, print the summary.
    Exit 0 when a run may proceed, 1 when too many people rows are quarantined, 2 when nothing
    could be validated."""
    from exports.validation_report import ReportContext, write_validation_report
    from extracts.reader import read_extracts
    from flows.db_password import source_password
    from flows.summary import validation_summary
    from schemas.validation import validate

    try:
        settings = load_settings(config, source_path=source)
        refused = _report_refusal(report, settings)
        if refused:
            return _error(refused, ExitCode.FATAL)
        raw = read_extracts(settings.extract_source(source_password(settings)))
        result = validate(raw, settings.resolved_extract_date(), settings.la_code)
    except (PipelineError, ConnectionError) as exc:
        code = exc.exit_code if isinstance(exc, PipelineError) else ExitCode.FATAL
        return _error(str(exc), code)
    context = ReportContext(
        census=None,
        extract_date=settings.resolved_extract_date(),
        threshold=settings.quarantine_threshold,
        people_share=result.people_quarantined_share,
        submission="none: nis validate writes no submission",
    )
    try:
        write_validation_report(result.findings, result.counts, report, context)
    except OSError as exc:
        return _error(f"cannot write {report}: {exc.strerror}", ExitCode.FATAL)
    for line in validation_summary(result, settings.quarantine_threshold):
        print(line)
    print(f"validation report: {report}")
    if result.exceeds(settings.quarantine_threshold):
        return ExitCode.FAILED
    return ExitCode.OK


def package_command(
    census: str,
    config: Path | None,
    out: Path | None,
    recipient: str | None,
    written: Callable[[Path, Any], None] | None = None,
) -> int:
    """``nis package``: the transfer package of a finished submission (spec section 6).
    ``written`` is told the output root and the package built (for the audit log)."""
    from exports.package import TRANSFER_DIR, build_package, only_la_code

    where: Path | str = "the output folder"
    try:
        settings = load_settings(config, output_dir=out)
        period = parse_census(census)
        out_root = Path(settings.output_dir)
        _check_out(settings)
        la_code = settings.la_code or only_la_code(out_root)
        # A write refused for want of space names no file: name the folder written in.
        where = out_root / la_code / period.isoformat() / TRANSFER_DIR
        result = build_package(out_root, la_code, period, recipient)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    except OSError as exc:  # a full or read-only disk, a folder without permission
        from exports.paths import reason

        # The work ran and the machine refused it: exit 1, as for run (README, exit codes).
        return _error(f"cannot write the package in {where}: {reason(exc)}", ExitCode.FAILED)
    if written is not None:
        written(out_root, result)
    print(result.path)
    return ExitCode.OK


def columns_command(source: Path | None, config: Path | None) -> int:
    """``nis columns``: per extract, each header and the contract column it maps to, the headers
    the contract does not know (with the column each most likely means) and the contract columns
    missing. Exit 0 when every required column is found, 2 otherwise."""
    from extracts.headers import read_headers
    from flows.db_password import source_password
    from schemas.columns import column_notes, match_headers
    from schemas.models import EXTRACT_NAMES

    try:
        settings = load_settings(config, source_path=source)
        extract_source = settings.extract_source(source_password(settings))
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    if extract_source.url is None and extract_source.folder is None:
        return _error(
            "no source given: pass --source DIR or set [source] path in the config",
            ExitCode.FATAL,
        )
    lacking: list[str] = []
    for name in EXTRACT_NAMES:
        try:
            where, headers = read_headers(extract_source, name)
        except (PipelineError, ConnectionError) as exc:
            print(f"{name}: {exc}")
            lacking.append(name)
            continue
        column_map = extract_source.column_map.get(name, {})
        match = match_headers(name, headers, column_map)
        print(f"{name} ({where})")
        mapped = {v: k for k, v in match.found.items()}
        for header in headers:
            text = str(header).strip()
            if text in mapped:
                via = " (column_map)" if text.casefold() != mapped[text] else ""
                print(f"  {text!r:<32} -> {mapped[text]}{via}")
        for note in column_notes(match):
            print(f"  {note.text}")
        if match.repeated:
            print(f"  given twice: {', '.join(match.repeated)}")
        if match.missing_optional:
            print(f"  missing, read as empty: {', '.join(match.missing_optional)}")
        if match.missing_required or match.repeated:
            print(f"  MISSING (required): {', '.join(match.missing_required) or '-'}")
            lacking.append(name)
    if lacking:
        return _error(
            f"{len(lacking)} of {len(EXTRACT_NAMES)} extracts cannot be used as they are: "
            f"{', '.join(lacking)}",
            ExitCode.FATAL,
        )
    print("every required column is found")
    return ExitCode.OK


def alerts_command(block: str, path: Path | None) -> int:
    """``nis alerts``: create the automations of ``automations.yaml`` on the Prefect server
    (PREFECT_API_URL), notifying through ``block``."""
    from prefect.settings import get_current_settings

    from flows.alerts import DEFAULT_FILE, install_alerts

    if not get_current_settings().api.url:
        return _error(
            "no Prefect server is configured: alerts live on the server the deployments run on; "
            "set PREFECT_API_URL (prefect config set PREFECT_API_URL=http://HOST:4200/api)",
            ExitCode.FATAL,
        )
    try:
        done = install_alerts(block, path or DEFAULT_FILE)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    except Exception as exc:  # the server refused or is away
        return _error(f"the Prefect server refused the automations: {type(exc).__name__}", 1)
    for name, what in done:
        print(f"{what}: {name}")
    return ExitCode.OK


# --- nis hub: many councils on a Dask cluster (flows/hub.py) -----------------------------------


def _report_hub(state: Any) -> int:
    """Print the hub summary and, when a council failed, one error line naming them."""
    from flows.hub_results import HubFailed, HubResult
    from flows.hub_summary import hub_summary

    outcome = state.result(raise_on_failure=False)
    result = outcome.result if isinstance(outcome, HubFailed) else outcome
    if isinstance(result, HubResult):
        for line in hub_summary(result):
            print(line)
    if isinstance(outcome, PipelineError):
        return _error(str(outcome), outcome.exit_code)
    if not isinstance(outcome, HubResult):
        if isinstance(outcome, BaseException):
            stopped_by_signal(outcome)  # as for a run
        return _error(
            f"the hub run ended {state.type.value.lower()}: {state.message}", ExitCode.FAILED
        )
    return ExitCode.OK


def hub_command(
    census: str,
    sources: Path,
    config: Path | None,
    out: Path | None,
    workers: int,
    scheduler: str | None,
    replace: bool = False,
    verbose: bool = False,
    observer: StateObserver | None = None,
) -> int:
    """``nis hub``: one census date for every council folder under ``sources``, in parallel on
    a Dask cluster. Exit 0 every council written or up to date, 1 a council failed (the others
    are still written), 2 nothing could run (a bad argument or config, no council folders, a
    scheduler that does not answer)."""
    from flows.hub_plan import HubInputError, check_scheduler, plan_hub

    quiet_defaults(verbose)
    try:
        if scheduler is not None and not scheduler.strip():
            # `--scheduler "$DASK_SCHEDULER"` with the variable unset: it ran on a local cluster
            # as if the option had been left out.
            raise HubInputError(
                "--scheduler is empty: give the Dask scheduler's address (tcp://HOST:PORT) or "
                "leave the option out to run on a local cluster"
            )
        plan = plan_hub(census, sources, config, out, workers, scheduler)
        if plan.scheduler:
            check_scheduler(plan.scheduler)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    for note in plan.notes:
        print(note, file=sys.stderr)
    print(
        f"hub of {counted(len(plan.councils), 'council', 'councils')} for {plan.census}: "
        f"{plan.sources}",
        flush=True,
    )
    with paused_gc():  # Prefect's imports (flows.startup_gc)
        from flows.hub import nis_hub

    try:
        with prefect_api():
            state = nis_hub(
                census_date=plan.census,
                sources_path=str(plan.sources),
                config_path=_text(plan.config),
                output_dir=str(plan.output_dir),
                workers=plan.workers,
                scheduler=plan.scheduler,
                replace=replace,
                return_state=True,
            )
            if observer is not None:
                observer(state)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    except Exception as exc:  # Prefect could not start (its temporary API, its database)
        return _error(f"the run could not start: {type(exc).__name__}", ExitCode.FAILED)
    return _report_hub(state)
