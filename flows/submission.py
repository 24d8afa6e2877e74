"""The ``nis_submission`` flow: one census date, from extracts to a finished submission folder.

Stages, each a Prefect task: pull each extract, validate them together, compute the two
submission tables and the statistics, export the folder. Expected failures (a bad config, a
missing extract, the quarantine threshold, a submission already in the way) end the run in a
Failed state with a one-line message and a :class:`RunResult`; they are never raised as
tracebacks.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Failed

from exports.previous import PreviousSubmissionError, previous_reference
from exports.submission import SubmissionBusyError, SubmissionExistsError
from flows.artifacts import period_markdown, publish_markdown, publish_validation
from flows.freshness import finished_files_if_up_to_date
from flows.naming import period_run_name, rename_current_run
from flows.results import Outcome, PeriodResult, RunResult
from flows.tasks import (
    LaCodeError,
    PreparedInputs,
    StageError,
    compare_with_previous,
    compute_submission,
    export_submission,
    prepare_inputs,
    write_failed_report,
)
from nis_pipeline.settings import ConfigError, Settings, load_settings
from schemas.rules import FatalInputError
from transforms.periods import CensusDateError, latest_census, parse_census, period_start

SCHEDULE_TIMEZONE = ZoneInfo("Europe/London")

# What stops a run before any period: the user's to fix, reported in one line.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    CensusDateError,
    FatalInputError,
    LaCodeError,
)


def load_run_settings(
    config_path: str | None, source_path: str | None, output_dir: str | None
) -> Settings:
    return load_settings(
        Path(config_path) if config_path else None,
        source_path=source_path or None,
        output_dir=output_dir or None,
    )


def run_date() -> date:
    """The date a run counts as "today": its scheduled start in London, so a late scheduled run
    still picks the period its schedule meant."""
    from prefect.runtime import flow_run

    return flow_run.scheduled_start_time.astimezone(SCHEDULE_TIMEZONE).date()


def resolve_census(census_date: str | None, settings: Settings, today: date | None = None) -> date:
    """The census date asked for, or the latest one at least ``census_lag_weeks`` before today."""
    if census_date:
        return parse_census(census_date)
    lag = timedelta(weeks=settings.census_lag_weeks)
    return latest_census(today or run_date(), lag)


def _submission_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    census_date = params.get("census_date")
    try:
        settings = load_run_settings(
            params.get("config_path"), params.get("source_path"), params.get("output_dir")
        )
        census = resolve_census(census_date, settings)
    except Exception:  # the flow itself reports the problem; a name must still be given
        return period_run_name(None, str(census_date or "latest"))
    return period_run_name(settings.la_code, census)


def fatal(logger: Any, message: str) -> Any:
    """End the run before any period: a problem the user must fix (exit code 2)."""
    logger.error("Stopped before any period ran: %s", message)
    return Failed(message=message, data=RunResult(fatal=message))


def crashed(logger: Any, message: str) -> Any:
    """End the run before any period on an unexpected failure (exit code 1)."""
    logger.error("Stopped before any period ran: %s", message)
    return Failed(message=message, data=RunResult(error=message))


def _up_to_date(
    out_root: Path, la: str, census: date, input_hashes: dict[str, str]
) -> tuple[str, ...] | None:
    try:
        previous = previous_reference(out_root, la, census)
    except PreviousSubmissionError:
        return None  # not up to date: the run then stops on that submission with its reason
    return finished_files_if_up_to_date(out_root / la / census.isoformat(), input_hashes, previous)


def submit_period(
    prepared: PreparedInputs, census: date, replace: bool, logger: Any
) -> PeriodResult:
    """Write one period's submission from validated inputs, publish its summary artifact and
    return what happened. Never raises for an expected failure."""
    la = prepared.la_code
    label = census.isoformat()
    out_root = Path(prepared.settings.output_dir)
    folder = out_root / la / label
    result: PeriodResult
    cohort = None
    up_to_date = None if replace else _up_to_date(out_root, la, census, prepared.input_hashes)
    if up_to_date is not None:
        result = PeriodResult(
            label,
            la,
            Outcome.UP_TO_DATE,
            folder=str(folder),
            files=up_to_date,
            message="a finished submission made from the same inputs is already there",
        )
        logger.info("%s: up to date, skipped (%s)", label, folder)
    elif prepared.threshold_exceeded:
        message = (
            f"{prepared.share:.1%} of people rows quarantined, above the threshold "
            f"{prepared.threshold:.1%}: no submission written"
        )
        try:
            report = write_failed_report(out_root, la, census, prepared.validation)
            message += f"; validation report at {report}"
        except (StageError, SubmissionBusyError) as exc:
            message += f"; the validation report could not be written ({exc})"
        logger.error("%s: %s", label, message)
        result = PeriodResult(label, la, Outcome.THRESHOLD_EXCEEDED, message=message)
    else:
        result, cohort = _compute_and_export(prepared, census, out_root, replace, logger)
    publish_markdown(
        period_markdown(
            result,
            period_start(census).isoformat(),
            prepared.validation.counts,
            prepared.share,
            prepared.threshold,
            cohort,
        ),
        ("nis-summary", la, label),
        f"NIS submission {la} {label}",
    )
    return result


def _compute_and_export(
    prepared: PreparedInputs, census: date, out_root: Path, replace: bool, logger: Any
) -> tuple[PeriodResult, Any]:
    la, label = prepared.la_code, census.isoformat()
    try:
        logger.info("%s: computing cohorts, FPD and statistics", label)
        computed = compute_submission(prepared.validation.clean, census)
        c = computed.cohort
        logger.info(
            "%s: NIS cohort %d people in %d families, FPD cohort %d people in %d families, "
            "%d opted out",
            label,
            c.nis_people,
            c.nis_families,
            c.fpd_people,
            c.fpd_families,
            c.opted_out,
        )
        changes = compare_with_previous(out_root, la, census, computed)
        if changes.previous is None:
            logger.info("%s: no finished submission of the census date before", label)
        else:
            counts = ", ".join(f"{k} {n}" for k, n in changes.counts.items() if n)
            logger.info(
                "%s: changes since %s: %s",
                label,
                changes.previous.census.isoformat(),
                counts or "none",
            )
        logger.info("%s: writing the submission folder", label)
        written: Any = export_submission(
            out_root, la, census, computed, prepared.validation, replace, changes
        )
    except SubmissionExistsError:
        message = (
            f"{out_root / la / label} holds a finished submission made from other inputs (or "
            "compared with another previous submission): run again with replace (--replace) "
            "to replace it; the old one is kept beside it"
        )
        logger.error("%s: %s", label, message)
        return PeriodResult(label, la, Outcome.FAILED, message=message), None
    except (StageError, SubmissionBusyError, PreviousSubmissionError) as exc:
        logger.error("%s: %s", label, exc)
        return PeriodResult(label, la, Outcome.FAILED, message=str(exc)), None
    files = tuple(Path(f).name for f in written.files)
    note = ""
    if getattr(written, "workbook_skipped_reason", None):
        note = f"workbook not written: {written.workbook_skipped_reason}"
        logger.warning("%s: %s", label, note)
    logger.info("%s: wrote %d files to %s", label, len(files), written.folder)
    return (
        PeriodResult(
            label,
            la,
            Outcome.WRITTEN,
            folder=str(written.folder),
            files=files,
            message=note,
            previous_census=None
            if changes.previous is None
            else changes.previous.census.isoformat(),
            change_counts=tuple(changes.counts.items()),
        ),
        computed.cohort,
    )


@flow(
    name="nis-submission",
    flow_run_name=_submission_run_name,
    persist_result=False,
    description="Validate the case extracts and write the NIS submission of one census date.",
)
def nis_submission(
    census_date: str | None = None,
    config_path: str | None = None,
    source_path: str | None = None,
    output_dir: str | None = None,
    replace: bool = False,
) -> Any:
    """Write the submission for ``census_date`` (ISO, e.g. 2026-03-31).

    With no census date, takes the latest census date at least ``census_lag_weeks`` (config,
    default 6) before the run's scheduled start: what the six-monthly schedule needs.
    ``source_path`` and ``output_dir`` override the config file's folders.
    """
    logger = get_run_logger()
    try:
        settings = load_run_settings(config_path, source_path, output_dir)
        census = resolve_census(census_date, settings)
        logger.info("Census date %s (period %s to %s)", census, period_start(census), census)
        prepared = prepare_inputs(settings, logger)
    except FATAL_ERRORS as exc:
        return fatal(logger, str(exc))
    except (StageError, ConnectionError) as exc:  # a bug, or a database still down after retries
        return crashed(logger, str(exc))
    rename_current_run(period_run_name(prepared.la_code, census))
    logger = get_run_logger()
    publish_validation(
        prepared.la_code,
        census.isoformat(),
        prepared.validation.counts,
        prepared.validation.top_rules(10),
    )
    period = submit_period(prepared, census, replace, logger)
    result = RunResult(periods=(period,), la_code=prepared.la_code)
    if not period.outcome.ok:
        return Failed(message=result.failure_message(), data=result)
    return result
