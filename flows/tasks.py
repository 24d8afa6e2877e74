"""The Prefect tasks of a submission run, and the inputs every period of a run shares.

Frames pass between tasks in memory only: every task that takes or returns a DataFrame has
``cache_policy=NO_CACHE`` (no input hashing) and ``persist_result=False`` (no pickles of personal
data on disk); task parameters are never sent to Prefect's API. Only pulls from a database are
retried: a missing file or a failed validation will fail the same way again.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from exports.manifest import PreviousReference
from exports.previous import PreviousSubmissionError
from exports.shares import share_text as share
from exports.submission import SubmissionExistsError
from exports.validation_report import ReportContext
from extracts.source import ExtractSource
from flows.artifacts import cohort_sizes
from flows.db_password import source_password
from flows.results import CohortSizes, InputSummary, StageError, guarded
from flows.settings import Settings
from flows.signals import signal_inside, stop_if_interrupted
from schemas.errors import PipelineError
from schemas.models import EXTRACT_NAMES
from schemas.raw import RawExtract
from schemas.validation import ValidationResult
from transforms.periods import Period
from transforms.submission import SubmissionTables

DB_RETRIES = 3
DB_RETRY_DELAYS: list[float] = [10, 30, 90]


# What Prefect's engine logs when a flow run ends Failed under a worker: the run's own failure,
# raised again to end the process. The reason was logged once already, and the run's state
# carries it: for the pipeline's own errors this line says nothing but "unexpected".
_ENGINE_EXIT = "Engine execution exited with unexpected exception"


class _QuietExpectedErrors(logging.Filter):
    """Drop the traceback from Prefect's log of a task or flow that failed in an expected way,
    and the engine's "unexpected exception" line for it, so a user's mistake reads as one line
    on the terminal and in the UI. A Ctrl-C or SIGTERM is expected too, and so is the error it
    causes inside Prefect: a SIGTERM landing while the engine starts a task run was logged as
    "Encountered exception during execution: ValueError('Task run is not set')" with two
    tracebacks, before the command's own line saying it was interrupted."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and (
            isinstance(exc, PipelineError | ConnectionError) or signal_inside(exc) is not None
        ):
            if record.getMessage() == _ENGINE_EXIT:
                return False
            if record.name == "prefect.task_runs" and isinstance(
                exc, PipelineError | ConnectionError
            ):
                # "Task run failed with exception: FatalInputError('...')": the flow says the
                # reason once, in its own words, and its state carries it.
                return False
            record.exc_info = None
            record.exc_text = None
        return True


def install_log_filters() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietExpectedErrors) for f in logger.filters):
            logger.addFilter(_QuietExpectedErrors())


install_log_filters()


def _retry_on_connection(task_: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a database pull only when the database could not be reached, and say so on the
    terminal: the retries take about two minutes, which would otherwise look like a hang.
    (Prefect asks only while retries are left.)"""
    try:
        state.result()
    except ConnectionError:
        attempt = max(1, min(task_run.run_count, len(DB_RETRY_DELAYS)))
        print(
            f"waiting: {task_run.name.removeprefix('pull-')}: the database does not answer; "
            f"trying again in {DB_RETRY_DELAYS[attempt - 1]:.0f} s "
            f"(retry {attempt} of {DB_RETRIES})",
            file=sys.stderr,
            flush=True,
        )
        return True
    except Exception:
        return False
    return False


@task(
    name="pull-extract",
    task_run_name="pull-{name}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def pull_extract(source: ExtractSource, name: str) -> RawExtract:
    return guarded(f"reading {name}", _read_extract, source, name)


def _read_extract(source: ExtractSource, name: str) -> RawExtract:
    from extracts.reader import read_extract
    from flows.read_ahead import taken_ahead

    raw = taken_ahead(source, name)
    return raw if raw is not None else read_extract(source, name)


@task(name="validate-extracts", cache_policy=NO_CACHE, persist_result=False)
def validate_extracts(
    raw: Mapping[str, RawExtract], extract_date: date, la_code: str | None
) -> ValidationResult:
    from flows.read_ahead import validated_ahead
    from schemas.validation import validate

    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM

    ahead = validated_ahead(raw, extract_date, la_code)
    if ahead is not None:
        return ahead
    return guarded("validation", validate, raw, extract_date, la_code)


@dataclass(frozen=True)
class PeriodTables:
    tables: SubmissionTables
    statistics: pd.DataFrame
    cohort: CohortSizes


@task(
    name="compute-submission",
    task_run_name="compute-{period.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def compute_submission(clean: Mapping[str, pd.DataFrame], period: Period) -> PeriodTables:
    from flows.compute_ahead import computed_ahead

    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM

    ahead = computed_ahead(clean, period)
    if isinstance(ahead, PeriodTables):
        return ahead
    return guarded(f"computing {period.label}", period_tables, clean, period)


def period_tables(clean: Mapping[str, pd.DataFrame], period: Period) -> PeriodTables:
    """The tables, statistics and cohort sizes of ``period`` (transforms only)."""
    from transforms.statistics import build_statistics
    from transforms.submission import build_submission

    tables = build_submission(clean, period)
    statistics = build_statistics(tables)
    return PeriodTables(
        tables=tables,
        statistics=statistics,
        cohort=cohort_sizes(tables.individuals, tables.fpd, tables.opted_out),
    )


@dataclass(frozen=True)
class PeriodChanges:
    """The changes since the previous submission (spec section 6), and which one that was."""

    changes: pd.DataFrame
    previous: PreviousReference | None

    @property
    def counts(self) -> dict[str, int]:
        from transforms.changes import change_counts

        return change_counts(self.changes)


@task(
    name="compare-with-previous",
    task_run_name="changes-{period.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def compare_with_previous(
    out_root: Path, la_code: str, period: Period, computed: PeriodTables
) -> PeriodChanges:
    """Read the previous census date's finished submission (exports) and compare this period's
    individuals table with it (transforms). Raises PreviousSubmissionError when that submission
    was altered or cannot be read."""
    from exports.previous import read_previous
    from transforms.changes import changes_since, no_changes

    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM

    label = period.label
    try:
        previous = read_previous(out_root, la_code, period.census)
    except PreviousSubmissionError:
        raise  # its message names the folder and file only
    except Exception as exc:
        raise StageError(f"reading the submission before {label}", exc) from None
    if previous is None:
        return PeriodChanges(changes=no_changes(), previous=None)
    changes = guarded(
        f"comparing {label} with {previous.reference.census.isoformat()}",
        changes_since,
        previous.individuals,
        computed.tables.individuals,
        previous.reference.census,
    )
    return PeriodChanges(changes=changes, previous=previous.reference)


@task(
    name="export-submission",
    task_run_name="export-{period.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def export_submission(
    prepared: PreparedInputs,
    period: Period,
    computed: PeriodTables,
    replace: bool,
    changes: PeriodChanges,
) -> Any:
    from exports.submission import write_submission

    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM

    validation = prepared.validation
    try:
        return write_submission(
            prepared.out_root,
            prepared.la_code,
            period,
            computed.tables,
            computed.statistics,
            validation.findings,
            validation.counts,
            replace=replace,
            changes=changes.changes,
            previous=changes.previous,
            report_context=prepared.report_context(period, "written: this folder"),
            settings_sha256=prepared.settings.results_sha256(),
        )
    except (SubmissionExistsError, PipelineError):
        raise  # their messages name the folder and the reason only
    except Exception as exc:
        raise StageError(f"writing {period.label}", exc) from None


@task(
    name="write-failed-run-report",
    task_run_name="failed-run-report-{period.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def write_failed_report(prepared: PreparedInputs, period: Period, why: str) -> Any:
    from exports.submission import write_failed_run_report

    validation = prepared.validation
    try:
        return write_failed_run_report(
            prepared.out_root,
            prepared.la_code,
            period,
            validation.findings,
            validation.counts,
            prepared.report_context(period, f"not written: {why}"),
        )
    except PipelineError:
        raise
    except Exception as exc:
        raise StageError(f"writing the failed-run report for {period.label}", exc) from None


@dataclass(frozen=True)
class PreparedInputs:
    """The extracts of a run, read and validated once, shared by every period it writes."""

    settings: Settings
    validation: ValidationResult

    @property
    def la_code(self) -> str:
        return self.validation.la_code

    @property
    def out_root(self) -> Path:
        return Path(self.settings.output_dir)

    def report_context(self, period: Period, submission: str) -> ReportContext:
        return ReportContext(
            census=period.census,
            extract_date=self.settings.resolved_extract_date(),
            threshold=self.threshold,
            people_share=self.share,
            submission=submission,
        )

    @property
    def input_hashes(self) -> dict[str, str]:
        counts = self.validation.counts
        return dict(zip(counts["extract"].astype(str), counts["sha256"].astype(str), strict=True))

    @property
    def share(self) -> float:
        return self.validation.people_quarantined_share

    @property
    def threshold(self) -> float:
        return self.settings.quarantine_threshold

    @property
    def threshold_exceeded(self) -> bool:
        return self.share > self.threshold

    def summary(self) -> InputSummary:
        counts = self.validation.counts
        people = counts.loc[counts["extract"] == "people"]
        return InputSummary(
            rows_read=int(counts["rows_read"].sum()),
            rows_quarantined=int(counts["quarantined"].sum()),
            rows_warned=int(counts["warned"].sum()),
            people_read=int(people["rows_read"].sum()),
            people_quarantined=int(people["quarantined"].sum()),
            threshold=self.threshold,
            column_notes=self.validation.column_notes,
        )


def prepare_inputs(settings: Settings, logger: Any) -> PreparedInputs:
    """Pull the ten extracts (one task each) and validate them together (one task).

    Must run inside a flow. Raises the pipeline's errors (a fatal extract, another council's
    families) for the caller to report.
    """
    pull = pull_extract
    # Looked up once per run, here at the edge; a missing one stops the run (ConfigError).
    source = settings.extract_source(source_password(settings))
    if source.url is not None:
        pull = pull_extract.with_options(
            retries=DB_RETRIES,
            retry_delay_seconds=DB_RETRY_DELAYS,
            retry_condition_fn=_retry_on_connection,
        )
    logger.info("Reading %d extracts from %s", len(EXTRACT_NAMES), source.describe())
    raw: dict[str, RawExtract] = {}
    for name in EXTRACT_NAMES:
        extract = pull(source, name)
        raw[name] = extract
        logger.info("Read %s from %s: %d rows", name, extract.source, extract.rows)
    extract_date = settings.resolved_extract_date()
    logger.info("Validating (extract date %s)", extract_date.isoformat())
    validation = validate_extracts(raw, extract_date, settings.la_code)
    del raw  # the raw text frames are not needed past validation
    counts = validation.counts
    logger.info(
        "Validated: %d rows read, %d quarantined, %d warned; people quarantined %s (threshold %s)",
        int(counts["rows_read"].sum()),
        int(counts["quarantined"].sum()),
        int(counts["warned"].sum()),
        share(validation.people_quarantined_share),
        share(settings.quarantine_threshold),
    )
    for note in validation.column_notes:
        logger.warning("%s", note)
    return PreparedInputs(settings=settings, validation=validation)


@task(
    name="package-submission",
    task_run_name="package-{period.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def package_period(prepared: PreparedInputs, period: Period, recipient: str) -> Any:
    """The transfer package of the period just written, encrypted to the configured recipient
    (spec section 6): what the six-monthly deployment hands to whoever uploads it."""
    from exports.package import build_package

    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM

    try:
        built = build_package(prepared.out_root, prepared.la_code, period.census, recipient)
    except PipelineError:
        raise
    except Exception as exc:
        raise StageError(f"packaging {period.label}", exc) from None
    get_run_logger().info("%s: transfer package %s", period.label, built.path)
    return built
