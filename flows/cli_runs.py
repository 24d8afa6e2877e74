"""What ``nis run`` and ``nis backfill`` do: check the arguments, run the flow in Prefect's local
mode (a temporary API server Prefect starts and stops itself, no server to set up) and turn the
outcome into an exit code.

Exit codes: 0 every period written or up to date; 1 the quarantine threshold was exceeded, a
period failed, or the run broke unexpectedly; 2 nothing ran because of a user's mistake (a bad
config or census date, a missing or unreadable extract). A user's mistake prints one line on
stderr, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Prefect reads these when it is first imported; the CLI imports it only below. Its temporary
# server needs a while for its first database migration on a fresh machine; its telemetry is off;
# and task runs log to the terminal only when something goes wrong, so the stages stay readable.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "WARNING")

from flows.results import EXIT_FAILED, EXIT_FATAL, RunResult  # noqa: E402
from nis_pipeline.settings import ConfigError, Settings, load_settings  # noqa: E402
from schemas.rules import FatalInputError  # noqa: E402
from transforms.periods import CensusDateError, parse_census  # noqa: E402


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _check_source(settings: Settings) -> None:
    """Fail fast on a missing source folder or extract file, before Prefect starts."""
    if settings.source.url is not None:
        return
    from extracts.reader import find_extract_file
    from nis_pipeline.settings import EXTRACT_NAMES

    if settings.source.path is None:
        raise ConfigError("no source given: pass --source DIR or set [source] path in the config")
    for name in EXTRACT_NAMES:
        find_extract_file(Path(settings.source.path), name)


def _report(state: Any) -> int:
    """Print one line per period and, when the run failed, one error line; return the exit code."""
    outcome = state.result(raise_on_failure=False)
    if not isinstance(outcome, RunResult):
        # The flow broke outside the failures it reports itself (Prefect says why in its log).
        return _error(f"the run ended {state.type.value.lower()}: {state.message}", EXIT_FAILED)
    for period in outcome.periods:
        print(period.line())
    if outcome.exit_code:
        return _error(outcome.failure_message(), outcome.exit_code)
    return outcome.exit_code


# Called with the flow's final state before the outcome is reported (the CLI's audit log reads
# the flow run id and the result from it).
StateObserver = Callable[[Any], None]


def _run_flow(flow_fn: Any, observer: StateObserver | None = None, **parameters: Any) -> int:
    try:
        state = flow_fn(**parameters, return_state=True)
    except Exception as exc:  # Prefect could not start (its temporary server, its database)
        return _error(f"the run could not start: {type(exc).__name__}: {exc}", EXIT_FAILED)
    if observer is not None:
        observer(state)
    return _report(state)


def run_command(
    census: str | None,
    source: Path | None,
    config: Path | None,
    out: Path | None,
    replace: bool = False,
    observer: StateObserver | None = None,
) -> int:
    """``nis run``: the submission of one census date (the latest due one when ``census`` is
    None)."""
    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        if census is not None:
            census = parse_census(census).isoformat()
        _check_source(settings)
    except (ConfigError, CensusDateError, FatalInputError) as exc:
        return _error(str(exc), EXIT_FATAL)
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
    observer: StateObserver | None = None,
) -> int:
    """``nis backfill``: one submission per census date from ``from_census`` to ``to_census``."""
    from flows.backfill import census_range

    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        censuses = census_range(from_census, to_census)
        _check_source(settings)
    except (ConfigError, CensusDateError, FatalInputError) as exc:
        return _error(str(exc), EXIT_FATAL)
    from flows.backfill import nis_backfill

    print(f"backfill of {len(censuses)} periods: {censuses[0]} to {censuses[-1]}")
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
