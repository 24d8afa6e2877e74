"""The Prefect tasks of a submission run, and the inputs every period of a run shares.

Frames pass between tasks in memory only: every task that takes or returns a DataFrame has
``cache_policy=NO_CACHE`` (no input hashing) and ``persist_result=False`` (no pickles of personal
data on disk). Only pulls from a database are retried: a missing file or a failed validation will
fail the same way again.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from pydantic import SecretStr

from exports.submission import SubmissionBusyError, SubmissionExistsError
from extracts.raw import RawExtract
from flows.artifacts import CohortSizes, cohort_sizes
from flows.db_password import database_password
from nis_pipeline.settings import EXTRACT_NAMES, Settings
from schemas.codes import LA_CODE_PATTERN
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult
from transforms.submission import SubmissionTables

DB_RETRIES = 3
DB_RETRY_DELAYS: list[float] = [10, 30, 90]


class StageError(RuntimeError):
    """An unexpected failure inside a stage, re-raised without the original message.

    Library messages can quote the values they choked on (a name, a date of birth), so only the
    exception type and where it happened are kept: enough to find the bug, nothing personal.
    """

    def __init__(self, stage: str, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            where = f" at {Path(last.filename).name}:{last.lineno} in {last.name}"
        super().__init__(f"{stage} failed: {type(exc).__name__}{where}")


# Errors whose messages are ours and fixed (codes, file names, census dates): passed on as they
# are. Everything else is wrapped in StageError.
_SAFE_ERRORS: tuple[type[BaseException], ...] = (FatalInputError, ConnectionError)


def _guarded(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _SAFE_ERRORS:
        raise
    except Exception as exc:
        raise StageError(stage, exc) from None


# Failures whose one-line message says everything (which file, which folder, which stage): the
# log of the task that raised one needs no traceback.
_EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    FatalInputError,
    ConnectionError,
    StageError,
    SubmissionExistsError,
    SubmissionBusyError,
)


class _QuietExpectedErrors(logging.Filter):
    """Drop the traceback from Prefect's log of a task that failed in an expected way, so a
    user's mistake reads as one line on the terminal and in the UI."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], _EXPECTED_ERRORS):
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
def pull_extract(settings: Settings, name: str, password: SecretStr | None = None) -> RawExtract:
    from extracts.reader import read_extract

    # Unwrapped only here: as a task argument it stays masked in any repr Prefect makes.
    secret = password.get_secret_value() if password is not None else None
    return _guarded(f"reading {name}", read_extract, settings, name, password=secret)


@task(name="validate-extracts", cache_policy=NO_CACHE, persist_result=False)
def validate_extracts(raw: Mapping[str, RawExtract], extract_date: date) -> ValidationResult:
    from schemas.validation import validate

    return _guarded("validation", validate, raw, extract_date)


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
    except (SubmissionExistsError, SubmissionBusyError):
        raise  # their messages name the folder only
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
    except SubmissionBusyError:
        raise
    except Exception as exc:
        raise StageError(f"writing the failed-run report for {census.isoformat()}", exc) from None


@dataclass(frozen=True)
class PreparedInputs:
    """The extracts of a run, read and validated once, shared by every period it writes."""

    settings: Settings
    la_code: str
    validation: ValidationResult

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


class LaCodeError(Exception):
    """Neither the config nor the families extract names one council, or the code is malformed."""


def prepare_inputs(settings: Settings, logger: Any) -> PreparedInputs:
    """Pull the ten extracts (one task each) and validate them together (one task).

    Must run inside a flow. Raises FatalInputError (and LaCodeError) for the caller to report.
    """
    pull = pull_extract
    password = None
    if settings.source.url is not None:
        # Looked up once per run, here at the edge; a missing one stops the run (ConfigError).
        password = database_password(settings.source.password_env, settings.source.password_secret)
        pull = pull_extract.with_options(
            retries=DB_RETRIES,
            retry_delay_seconds=DB_RETRY_DELAYS,
            retry_condition_fn=_retry_on_connection,
        )
    where = settings.source.path or "the database"
    logger.info("Reading %d extracts from %s", len(EXTRACT_NAMES), where)
    raw: dict[str, RawExtract] = {}
    for name in EXTRACT_NAMES:
        extract = pull(settings, name, password)
        raw[name] = extract
        logger.info("Read %s from %s: %d rows", name, extract.source, extract.rows)
    extract_date = settings.resolved_extract_date()
    logger.info("Validating (extract date %s)", extract_date.isoformat())
    validation = validate_extracts(raw, extract_date)
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
    la_code = settings.la_code or validation.la_code
    if la_code is None:
        found = len(validation.la_codes)
        raise LaCodeError(
            "no la_code in the config and the families extract names "
            + ("none" if found == 0 else f"{found} different councils")
            + ": set la_code in the config file"
        )
    if not re.fullmatch(LA_CODE_PATTERN, la_code):
        raise LaCodeError(f"la_code {la_code!r} is not an ONS upper-tier authority code")
    others = [code for code in validation.la_codes if code != la_code]
    if others:
        # Another council's families in our extract: sending them would be a data breach, and
        # dropping them silently would hide a broken extract.
        raise LaCodeError(
            f"the families extract holds families of {', '.join(others)} as well as {la_code}: "
            "extract this council's families only"
        )
    return PreparedInputs(settings=settings, la_code=la_code, validation=validation)
