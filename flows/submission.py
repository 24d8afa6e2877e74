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
from prefect.states import Failed, State

from exports.freshness import altered_files, finished_files_if_up_to_date, stale_reason
from exports.manifest import read_manifest
from exports.paths import check_output_root
from exports.previous import PreviousSubmissionError, previous_reference
from exports.shares import share_text as share
from exports.submission import REPORT_NAME, SubmissionExistsError, is_finished
from flows.artifacts import period_markdown, publish_markdown, publish_validation
from flows.compute_ahead import drop_computed_ahead, start_computing
from flows.naming import census_label, period_run_name, rename_current_run
from flows.results import Outcome, PeriodResult, RunFailed, RunResult, SourceUnavailable
from flows.settings import ConfigError, Settings, load_settings
from flows.tasks import (
    PreparedInputs,
    compare_with_previous,
    compute_submission,
    export_submission,
    package_period,
    period_tables,
    prepare_inputs,
    write_failed_report,
)
from schemas.errors import ExitCode, PipelineError
from transforms.periods import Period, check_census_not_after, latest_census, parse_census

SCHEDULE_TIMEZONE = ZoneInfo("Europe/London")


def load_run_settings(
    config_path: str | None,
    source_path: str | None,
    output_dir: str | None,
    check_output: bool = True,
) -> Settings:
    """A run's settings from its parameters; with ``check_output``, refused when the output
    folder could not be written (a run's name does not ask: it keeps the config's council)."""
    if config_path is not None and not config_path.strip():
        # A field cleared in the UI: not "no config", which would write with the defaults
        # (today's extract date, no column map) into the worker's own folder.
        raise ConfigError(
            "config_path is empty: give the config file (the deployments' default is nis.toml)"
        )
    settings = load_settings(
        Path(config_path) if config_path else None,
        source_path=source_path or None,
        output_dir=output_dir or None,
    )
    if check_output:
        # As the command line checks before a run starts: never read and validate the extracts
        # for a run that could not write its files.
        check_output_root(Path(settings.output_dir))
    return settings


def run_date() -> date:
    """The date a run counts as "today": its scheduled start in London, so a late scheduled run
    still picks the period its schedule meant."""
    from prefect.runtime import flow_run

    return flow_run.scheduled_start_time.astimezone(SCHEDULE_TIMEZONE).date()


def asked_census(census_date: str | None, settings: Settings, today: date | None = None) -> date:
    """The census date asked for, or the latest one at least ``census_lag_weeks`` before today
    (not yet checked against the extract date)."""
    if census_date:
        return parse_census(census_date)
    return latest_census(today or run_date(), timedelta(weeks=settings.census_lag_weeks))


def resolve_census(census_date: str | None, settings: Settings, today: date | None = None) -> date:
    """:func:`asked_census`, when it is not after the extract date."""
    census = asked_census(census_date, settings, today)
    return check_census_not_after(census, settings.resolved_extract_date())


def _submission_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    census_date = params.get("census_date")
    # The flow itself reports a problem with either; a name must still be given, and it keeps
    # the council the config names even when the census date is wrong.
    try:
        settings = load_run_settings(
            params.get("config_path"),
            params.get("source_path"),
            params.get("output_dir"),
            check_output=False,
        )
    except Exception:
        return period_run_name(None, census_label(census_date))
    try:
        # The date the run is about, even when it is refused (after the extract date): a run
        # for "the latest" is named for the date it took.
        census: date | str = asked_census(census_date, settings)
    except Exception:
        census = census_label(census_date)
    return period_run_name(settings.la_code, census)


def failed(error: PipelineError) -> Any:
    """The Failed state that ends a run: its message is the one-line reason, its data the
    pipeline's exception (so a Python caller gets it raised, and a worker logs no traceback)."""
    return Failed(message=str(error), data=error)


def stopped(logger: Any, exc: Exception) -> Any:
    """End the run before any period ran, saying why once."""
    if isinstance(exc, ConnectionError):  # a database still down after its retries
        exc = SourceUnavailable(f"the extracts could not be read: {exc}")
    assert isinstance(exc, PipelineError)
    logger.error("Stopped before any period ran: %s", exc)
    return failed(exc)


def _up_to_date(prepared: PreparedInputs, period: Period) -> tuple[str, ...] | None:
    out_root, la = prepared.out_root, prepared.la_code
    try:
        previous = previous_reference(out_root, la, period.census)
    except PreviousSubmissionError:
        return None  # not up to date: the run then stops on that submission with its reason
    return finished_files_if_up_to_date(
        out_root / la / period.label,
        prepared.input_hashes,
        previous,
        prepared.settings.results_sha256(),
    )


def submit_period(
    prepared: PreparedInputs,
    period: Period,
    replace: bool,
    logger: Any,
    next_period: Period | None = None,
) -> PeriodResult:
    """Write one period's submission from validated inputs, publish its summary artifact and
    return what happened. Never raises for an expected failure. With ``next_period`` (a
    backfill's), that period's tables are computed while this one's files are written
    (``flows.compute_ahead``)."""
    la = prepared.la_code
    label = period.label
    out_root = Path(prepared.settings.output_dir)
    folder = out_root / la / label
    result: PeriodResult
    cohort = None
    # The threshold first: a finished submission made from these same inputs under a higher
    # threshold is not "up to date" with a run that would write nothing; it is left as it is.
    exceeded = prepared.threshold_exceeded
    up_to_date = None if exceeded else _up_to_date(prepared, period)
    altered = () if exceeded or replace or up_to_date is not None else altered_files(folder)
    if exceeded:
        why = (
            f"{share(prepared.share)} of people rows quarantined, above the threshold "
            f"{share(prepared.threshold)}"
        )
        message = f"{why}: no submission written"
        if is_finished(folder):
            message += f"; the finished submission already in {folder} is left as it is"
        report = None
        try:
            report = str(write_failed_report(prepared, period, why))
        except PipelineError as exc:
            message += f"; the validation report could not be written ({exc})"
        logger.error("%s: %s", label, message)
        result = PeriodResult(label, la, Outcome.THRESHOLD_EXCEEDED, message=message, report=report)
    elif altered:
        # Neither up to date nor to be overwritten unasked: someone changed a finished folder.
        message = (
            f"{folder} holds a finished submission altered since it was written "
            f"({len(altered)} file(s) missing or changed: {', '.join(altered)}): run again with "
            "replace (--replace) to write it again; the altered one is kept beside it"
        )
        logger.error("%s: %s", label, message)
        result = PeriodResult(label, la, Outcome.FAILED, message=message)
    elif up_to_date is not None:
        # Writing again would give the same bytes, so even --replace keeps the folder as it is
        # (a .replaced-N copy of identical files would only be clutter).
        message = "made from the same inputs" + ("; nothing to replace" if replace else "")
        result = PeriodResult(
            label,
            la,
            Outcome.UP_TO_DATE,
            folder=str(folder),
            files=up_to_date,
            message=message,
            report=str(folder / REPORT_NAME),
        )
        logger.info("%s: up to date, skipped (%s)", label, folder)
    elif not replace and is_finished(folder):
        # Known before anything is computed: the export would refuse it (and Prefect would log
        # the refusal as a task's traceback).
        message = _in_the_way(prepared, period)
        logger.error("%s: %s", label, message)
        result = PeriodResult(label, la, Outcome.FAILED, message=message)
    else:
        result, cohort = _compute_and_export(
            prepared, period, out_root, replace, logger, next_period
        )
    publish_markdown(
        period_markdown(
            result,
            period.start.isoformat(),
            prepared.validation.counts,
            prepared.share,
            prepared.threshold,
            cohort,
        ),
        ("nis-summary", la, label),
        f"NIS submission {la} {label}",
    )
    return result


def _compute_ahead(prepared: PreparedInputs, period: Period | None, out_root: Path) -> None:
    """Start computing ``period`` (the next of a backfill) unless it may be skipped: a folder
    with a finished submission in it may be up to date, and is then not computed at all."""
    if period is None or read_manifest(out_root / prepared.la_code / period.label) is not None:
        return
    start_computing(prepared.validation.clean, period, period_tables)


def compute_first_ahead(prepared: PreparedInputs, period: Period) -> None:
    """Start computing ``period``, the first the run writes, as soon as the extracts are
    validated: its tables then come while the flow renames its run, publishes the validation
    artifact and starts the compute task (about a tenth of a second of requests to the API).
    Not when the period will not be computed (quarantine above the threshold) or may be
    skipped (a finished submission in its folder)."""
    folder = Path(prepared.settings.output_dir) / prepared.la_code / period.label
    if prepared.threshold_exceeded or read_manifest(folder) is not None:
        return
    start_computing(prepared.validation.clean, period, period_tables, background=False)


def _in_the_way(prepared: PreparedInputs, period: Period) -> str:
    folder = prepared.out_root / prepared.la_code / period.label
    why = _why_stale(prepared, period)
    return (
        f"{folder} holds a finished submission "
        + (
            why
            if why is not None
            else "made from other inputs or settings (such as another extract date or column "
            "map), or compared with another previous submission"
        )
        + ": run again with replace (--replace) to replace it; the old one is kept beside it"
    )


def _why_stale(prepared: PreparedInputs, period: Period) -> str | None:
    """Why the finished submission of ``period`` is not what this run would write, if that can
    be said (its manifest and the previous submission's read)."""
    out_root, la = prepared.out_root, prepared.la_code
    manifest = read_manifest(out_root / la / period.label)
    if manifest is None:
        return None
    try:
        previous = previous_reference(out_root, la, period.census)
    except PreviousSubmissionError:
        return None
    return stale_reason(
        manifest, prepared.input_hashes, previous, prepared.settings.results_sha256()
    )


def _compute_and_export(
    prepared: PreparedInputs,
    period: Period,
    out_root: Path,
    replace: bool,
    logger: Any,
    next_period: Period | None = None,
) -> tuple[PeriodResult, Any]:
    la, label = prepared.la_code, period.label
    try:
        logger.info("%s: computing cohorts, FPD and statistics", label)
        computed = compute_submission(prepared.validation.clean, period)
        _compute_ahead(prepared, next_period, out_root)
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
        changes = compare_with_previous(out_root, la, period, computed)
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
        written: Any = export_submission(prepared, period, computed, replace, changes)
    except SubmissionExistsError:  # finished by another run while this one computed
        message = _in_the_way(prepared, period)
        logger.error("%s: %s", label, message)
        return PeriodResult(label, la, Outcome.FAILED, message=message), None
    except PipelineError as exc:
        logger.error("%s: %s", label, exc)
        return PeriodResult(label, la, Outcome.FAILED, message=str(exc)), None
    files = tuple(Path(f).name for f in written.files)
    notes: list[str] = []
    if getattr(written, "workbook_skipped_reason", None):
        notes.append(f"workbook not written: {written.workbook_skipped_reason}")
        logger.warning("%s: %s", label, notes[-1])
    if getattr(written, "kept_aside", None) is not None:
        # --replace (or an odd folder in the way) moved the old one aside: say where it went.
        what = "file" if Path(written.kept_aside).is_file() else "folder"
        notes.append(f"the {what} that was there is kept as {written.kept_aside}")
        logger.info("%s: %s", label, notes[-1])
    note = "; ".join(notes)
    logger.info("%s: wrote %d files to %s", label, len(files), written.folder)
    return (
        PeriodResult(
            label,
            la,
            Outcome.WRITTEN,
            folder=str(written.folder),
            files=files,
            message=note,
            cohort=computed.cohort,
            report=str(Path(written.folder) / REPORT_NAME),
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
    """Write the NIS submission of one census date.

    With no census date, takes the latest census date at least ``census_lag_weeks`` (config,
    default 6) before the run's scheduled start: what the six-monthly schedule needs.

    Args:
        census_date: Census date as YYYY-MM-DD, 31 March or 30 September (e.g. 2026-03-31).
            Leave empty for the latest one due.
        config_path: The config file (nis.toml), relative to the folder the worker runs in.
        source_path: Folder of the ten extracts; overrides the config's [source].
        output_dir: Root folder of the submissions; overrides the config's output_dir.
        replace: Replace a finished submission made from other inputs or settings (the old
            one is kept beside it).
    """
    from flows.run_audit import note_flow_run

    note_flow_run()  # for the audit line, should the command be interrupted
    logger = get_run_logger()
    settings: Settings | None = None
    try:
        settings = load_run_settings(config_path, source_path, output_dir)
        period = Period(resolve_census(census_date, settings))
        logger.info("Census date %s (period %s to %s)", period, period.start, period)
        prepared = prepare_inputs(settings, logger)
    except (PipelineError, ConnectionError) as exc:
        census = census_label(census_date)
        return ended("run", census, settings, output_dir, stopped(logger, exc))
    compute_first_ahead(prepared, period)
    try:
        rename_current_run(period_run_name(prepared.la_code, period.label))
        logger = get_run_logger()
        publish_validation(
            prepared.la_code,
            period.label,
            prepared.validation.counts,
            prepared.validation.top_rules(10),
        )
        outcome = submit_period(prepared, period, replace, logger)
    finally:
        drop_computed_ahead()  # not taken when the period failed before its compute
    result = RunResult(periods=(outcome,), la_code=prepared.la_code, inputs=prepared.summary())
    returned: Any = failed(RunFailed(result)) if not outcome.outcome.ok else result
    if settings.package_recipient and outcome.outcome.ok:
        try:
            _ = package_period(prepared, period, settings.package_recipient)
        except PipelineError as exc:  # e.g. the folder was altered since it was written
            logger.error("%s: %s", period.label, exc)
            returned = failed(exc)
    return ended("run", period.label, settings, output_dir, returned)


def ended(
    command: str, census: str, settings: Settings | None, output_dir: str | None, returned: Any
) -> Any:
    """Append the run's audit line (unless a ``nis`` command records it) and hand back what the
    flow returns: its result, or the Failed state of its failure."""
    from flows.run_audit import audit_flow_run

    data = returned.data if isinstance(returned, State) else returned
    code = data.exit_code if isinstance(data, PipelineError) else ExitCode.OK
    root = Path(settings.output_dir) if settings else (Path(output_dir) if output_dir else None)
    audit_flow_run(
        command, census, root, data, int(code), la_code=settings.la_code if settings else None
    )
    return returned
