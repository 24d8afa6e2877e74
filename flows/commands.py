"""What the ``nis`` commands do, below the command line: check the arguments, run the work (the
flows in Prefect's local mode for ``run`` and ``backfill``: a temporary API server Prefect
starts and stops itself, no server to set up) and turn the outcome into an exit code.

Exit codes (``schemas.errors.ExitCode``): 0 every period written or up to date; 1 the quarantine
threshold was exceeded, a period failed, a finished submission was in the way, or the run broke
unexpectedly; 2 nothing ran because of a user's mistake (a bad config or census date, a missing
or unreadable extract, another council's families). A failure prints one line on stderr, never
a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Prefect reads these when it is first imported; the commands import it only below. Its
# temporary server needs a while for its first database migration on a fresh machine; its
# telemetry is off; and task runs log to the terminal only when something goes wrong.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")

from flows.results import RunFailed, RunResult  # noqa: E402
from flows.settings import Settings, load_settings  # noqa: E402
from schemas.errors import ExitCode, PipelineError  # noqa: E402
from transforms.periods import check_census_not_after, parse_census  # noqa: E402


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
    """Fail fast on an output folder that is a symbolic link (the writers refuse one too)."""
    from exports.paths import check_not_symlink

    check_not_symlink(Path(settings.output_dir), "the output folder")


def _report(state: Any) -> int:
    """Print one line per period and, when the run failed, one error line; return the exit code."""
    outcome = state.result(raise_on_failure=False)
    result = outcome.result if isinstance(outcome, RunFailed) else outcome
    if isinstance(result, RunResult):
        for period in result.periods:
            print(period.line())
    if isinstance(outcome, PipelineError):
        return _error(str(outcome), outcome.exit_code)
    if not isinstance(outcome, RunResult):
        # The flow broke outside the failures it reports itself (Prefect says why in its log).
        return _error(f"the run ended {state.type.value.lower()}: {state.message}", ExitCode.FAILED)
    return ExitCode.OK


def _run_flow(flow_fn: Any, **parameters: Any) -> int:
    try:
        state = flow_fn(**parameters, return_state=True)
    except Exception as exc:  # Prefect could not start (its temporary server, its database)
        return _error(f"the run could not start: {type(exc).__name__}: {exc}", ExitCode.FAILED)
    return _report(state)


def run_command(
    census: str | None,
    source: Path | None,
    config: Path | None,
    out: Path | None,
    replace: bool = False,
) -> int:
    """``nis run``: the submission of one census date (the latest due one when ``census`` is
    None)."""
    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        if census is not None:
            day = check_census_not_after(parse_census(census), settings.resolved_extract_date())
            census = day.isoformat()
        _check_out(settings)
        _check_source(settings)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    from flows.submission import nis_submission

    return _run_flow(
        nis_submission,
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
) -> int:
    """``nis backfill``: one submission per census date from ``from_census`` to ``to_census``."""
    from flows.backfill import census_range

    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        censuses = census_range(from_census, to_census)
        check_census_not_after(censuses[-1], settings.resolved_extract_date())
        _check_out(settings)
        _check_source(settings)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    from flows.backfill import nis_backfill

    print(f"backfill of {len(censuses)} periods: {censuses[0]} to {censuses[-1]}")
    return _run_flow(
        nis_backfill,
        from_census=censuses[0].isoformat(),
        to_census=censuses[-1].isoformat(),
        config_path=_text(config),
        source_path=_text(source),
        output_dir=_text(out),
        replace=replace,
    )


def validate_command(source: Path | None, config: Path | None, report: Path) -> int:
    """``nis validate``: read and validate the extracts, write the report, print the summary.
    Exit 0 when a run may proceed, 1 when too many people rows are quarantined, 2 when nothing
    could be validated."""
    from exports.validation_report import write_validation_report
    from extracts.reader import read_extracts
    from flows.summary import validation_summary
    from schemas.validation import validate

    try:
        settings = load_settings(config, source_path=source)
        raw = read_extracts(settings.extract_source())
        result = validate(raw, settings.resolved_extract_date(), settings.la_code)
    except (PipelineError, ConnectionError) as exc:
        code = exc.exit_code if isinstance(exc, PipelineError) else ExitCode.FATAL
        return _error(str(exc), code)
    try:
        write_validation_report(result.findings, result.counts, report)
    except OSError as exc:
        return _error(f"cannot write {report}: {exc.strerror}", ExitCode.FATAL)
    for line in validation_summary(result, settings.quarantine_threshold):
        print(line)
    print(f"validation report: {report}")
    if result.exceeds(settings.quarantine_threshold):
        return ExitCode.FAILED
    return ExitCode.OK
