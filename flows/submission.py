"""The ``nis_submission`` flow: one census date, from extracts to a finished submission folder.

Stages, each a Prefect task: pull each extract, validate them together, compute the two
submission tables and the statistics, export the folder. Every failure ends the run in a Failed
state whose message is its one-line reason and whose data is the pipeline's own exception (see
``flows.results``); none is logged as a traceback.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Failed

from exports.freshness import altered_files, finished_files_if_up_to_date
from exports.submission import SubmissionExistsError
from flows.artifacts import period_markdown, publish_markdown, publish_validation
from flows.naming import period_run_name, rename_current_run
from flows.results import Outcome, PeriodResult, RunFailed, RunResult, StageError
from flows.settings import Settings, load_settings
from flows.tasks import (
    PreparedInputs,
    compute_submission,
    export_submission,
    prepare_inputs,
    write_failed_report,
)
from schemas.errors import PipelineError
from transforms.periods import (
    check_census_not_after,
    latest_census,
    parse_census,
    period_start,
)

SCHEDULE_TIMEZONE = ZoneInfo("Europe/London")


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
        census = parse_census(census_date)
    else:
        census = latest_census(today or run_date(), timedelta(weeks=settings.census_lag_weeks))
    return check_census_not_after(census, settings.resolved_extract_date())


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


def failed(error: PipelineError) -> Any:
    """The Failed state that ends a run: its message is the one-line reason, its data the
    pipeline's exception (so a Python caller gets it raised, and a worker logs no traceback)."""
    return Failed(message=str(error), data=error)


def stopped(logger: Any, exc: Exception) -> Any:
    """End the run before any period ran, saying why once."""
    if isinstance(exc, ConnectionError):  # a database still down after its retries
        exc = StageError("reading the extracts", exc)
    assert isinstance(exc, PipelineError)
    logger.error("Stopped before any period ran: %s", exc)
    return failed(exc)


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
    up_to_date = None if replace else finished_files_if_up_to_date(folder, prepared.input_hashes)
    altered = () if replace or up_to_date is not None else altered_files(folder)
    if altered:
        # Neither up to date nor to be overwritten unasked: someone changed a finished folder.
        message = (
            f"{folder} holds a finished submission altered since it was written "
            f"({len(altered)} file(s) missing or changed: {', '.join(altered)}): run again with "
            "replace (--replace) to write it again; the altered one is kept beside it"
        )
        logger.error("%s: %s", label, message)
        result = PeriodResult(label, la, Outcome.FAILED, message=message)
    elif up_to_date is not None:
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
        except PipelineError as exc:
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
        logger.info("%s: writing the submission folder", label)
        written: Any = export_submission(
            out_root, la, census, computed, prepared.validation, replace
        )
    except SubmissionExistsError:
        message = (
            f"{out_root / la / label} holds a finished submission made from other inputs: "
            "run again with replace (--replace) to replace it; the old one is kept beside it"
        )
        logger.error("%s: %s", label, message)
        return PeriodResult(label, la, Outcome.FAILED, message=message), None
    except PipelineError as exc:
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
            label, la, Outcome.WRITTEN, folder=str(written.folder), files=files, message=note
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
    except (PipelineError, ConnectionError) as exc:
        return stopped(logger, exc)
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
        return failed(RunFailed(result))
    return result
