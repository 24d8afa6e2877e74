"""The Prefect tasks of a submission run, and the inputs every period of a run shares.

Frames pass between tasks in memory only: every task that takes or returns a DataFrame has
``cache_policy=NO_CACHE`` (no input hashing) and ``persist_result=False`` (no pickles of personal
data on disk); task parameters are never sent to Prefect's API. Only pulls from a database are
retried: a missing file or a failed validation will fail the same way again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from exports.submission import SubmissionExistsError
from extracts.source import ExtractSource
from flows.artifacts import CohortSizes, cohort_sizes
from flows.results import StageError
from flows.settings import Settings
from schemas.errors import PipelineError
from schemas.models import EXTRACT_NAMES
from schemas.raw import RawExtract
from schemas.validation import ValidationResult
from transforms.submission import SubmissionTables

DB_RETRIES = 3
DB_RETRY_DELAYS: list[float] = [10, 30, 90]


def _guarded(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn``; a pipeline error or a lost database connection passes as it is (their messages
    are ours and safe), anything else becomes a StageError."""
    try:
        return fn(*args, **kwargs)
    except (PipelineError, ConnectionError):
        raise
    except Exception as exc:
        raise StageError(stage, exc) from None


class _QuietExpectedErrors(logging.Filter):
    """Drop the traceback from Prefect's log of a task that failed in an expected way, so a
    user's mistake reads as one line on the terminal and in the UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PipelineError | ConnectionError):
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
    """Retry a database pull only when the database could not be reached."""
    try:
        state.result()
    except ConnectionError:
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
    from extracts.reader import read_extract

    return _guarded(f"reading {name}", read_extract, source, name)


@task(name="validate-extracts", cache_policy=NO_CACHE, persist_result=False)
def validate_extracts(
    raw: Mapping[str, RawExtract], extract_date: date, la_code: str | None
) -> ValidationResult:
    from schemas.validation import validate

    return _guarded("validation", validate, raw, extract_date, la_code)


@dataclass(frozen=True)
class PeriodTables:
    tables: SubmissionTables
    statistics: pd.DataFrame
    cohort: CohortSizes


@task(
    name="compute-submission",
    task_run_name="compute-{census}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def compute_submission(clean: Mapping[str, pd.DataFrame], census: date) -> PeriodTables:
    from transforms.statistics import build_statistics
    from transforms.submission import build_submission

    def run() -> PeriodTables:
        tables = build_submission(clean, census)
        statistics = build_statistics(tables)
        return PeriodTables(
            tables=tables,
            statistics=statistics,
            cohort=cohort_sizes(tables.individuals, tables.fpd, tables.opted_out),
        )

    return _guarded(f"computing {census.isoformat()}", run)


@task(
    name="export-submission",
    task_run_name="export-{census}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def export_submission(
    out_root: Path,
    la_code: str,
    census: date,
    computed: PeriodTables,
    validation: ValidationResult,
    replace: bool,
) -> Any:
    from exports.submission import write_submission

    try:
        return write_submission(
            out_root,
            la_code,
            census,
            computed.tables,
            computed.statistics,
            validation.findings,
            validation.counts,
            replace=replace,
        )
    except (SubmissionExistsError, PipelineError):
        raise  # their messages name the folder and the reason only
    except Exception as exc:
        raise StageError(f"writing {census.isoformat()}", exc) from None


@task(
    name="write-failed-run-report",
    task_run_name="failed-run-report-{census}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def write_failed_report(
    out_root: Path, la_code: str, census: date, validation: ValidationResult
) -> Any:
    from exports.submission import write_failed_run_report

    try:
        return write_failed_run_report(
            out_root, la_code, census, validation.findings, validation.counts
        )
    except PipelineError:
        raise
    except Exception as exc:
        raise StageError(f"writing the failed-run report for {census.isoformat()}", exc) from None


@dataclass(frozen=True)
class PreparedInputs:
    """The extracts of a run, read and validated once, shared by every period it writes."""

    settings: Settings
    validation: ValidationResult

    @property
    def la_code(self) -> str:
        return self.validation.la_code

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


def prepare_inputs(settings: Settings, logger: Any) -> PreparedInputs:
    """Pull the ten extracts (one task each) and validate them together (one task).

    Must run inside a flow. Raises the pipeline's errors (a fatal extract, another council's
    families) for the caller to report.
    """
    pull = pull_extract
    source = settings.extract_source()
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
        "Validated: %d rows read, %d quarantined, %d warned; people quarantined %.1f%% "
        "(threshold %.1f%%)",
        int(counts["rows_read"].sum()),
        int(counts["quarantined"].sum()),
        int(counts["warned"].sum()),
        100 * validation.people_quarantined_share,
        100 * settings.quarantine_threshold,
    )
    return PreparedInputs(settings=settings, validation=validation)
