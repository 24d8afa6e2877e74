"""The ``nis_backfill`` flow: one submission per census date in a range.

The extracts are read and validated once; each period is then a ``write-period`` task run named
``nis-{la_code}-{census}``, in date order (so each period's changes compare with the period
before it), taking the validated frames in memory: task parameters never reach Prefect's API.
A period that fails does not stop the others; the backfill ends Failed naming the periods that
failed. A period whose finished submission was made from the same inputs is skipped as up to date.
While a period's files are written, the next period's tables are computed (``flows.compute_ahead``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import backfill_markdown, publish_markdown, publish_validation
from flows.compute_ahead import drop_computed_ahead
from flows.naming import backfill_run_name, census_label, rename_current_run
from flows.results import Outcome, PeriodFailed, PeriodResult, RunFailed, RunResult
from flows.signals import stop_if_interrupted
from flows.submission import (
    compute_first_ahead,
    ended,
    failed,
    load_run_settings,
    stopped,
    submit_period,
)
from flows.tasks import PreparedInputs, prepare_inputs
from schemas.errors import PipelineError
from transforms.periods import (
    CensusDateError,
    Period,
    census_dates_between,
    check_census_not_after,
    parse_census,
)


def census_range(from_census: str, to_census: str) -> list[date]:
    first, last = parse_census(from_census), parse_census(to_census)
    if first > last:
        raise CensusDateError(
            f"the first census date {first.isoformat()} is after the last {last.isoformat()}"
        )
    return census_dates_between(first, last)


def _backfill_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    first, last = params.get("from_census", "?"), params.get("to_census", "?")
    try:
        la = load_run_settings(
            params.get("config_path"),
            params.get("source_path"),
            params.get("output_dir"),
            check_output=False,
        ).la_code
    except Exception:  # the flow itself reports the problem; a name must still be given
        la = None
    return backfill_run_name(la, census_label(first), census_label(last))


@task(
    name="write-period",
    task_run_name="nis-{prepared.la_code}-{period}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def write_period(
    prepared: PreparedInputs, period: Period, replace: bool, next_period: Period | None = None
) -> Any:
    """One period of a backfill, from the validated inputs; ends Failed when the period did.
    The next period's tables are computed while this one's files are written."""
    stop_if_interrupted()  # in case a library swallowed a Ctrl-C or SIGTERM
    outcome = submit_period(prepared, period, replace, get_run_logger(), next_period)
    if not outcome.outcome.ok:
        return failed(PeriodFailed(outcome))
    return outcome


def _write_periods(
    prepared: PreparedInputs, censuses: list[date], replace: bool, logger: Any
) -> list[PeriodResult]:
    """Each period in date order; the next period is computed ahead while one is written."""
    periods: list[PeriodResult] = []
    for number, census in enumerate(censuses, start=1):
        logger.info("Period %d of %d: %s", number, len(censuses), census.isoformat())
        following = Period(censuses[number]) if number < len(censuses) else None
        state = write_period(prepared, Period(census), replace, following, return_state=True)
        outcome = state.result(raise_on_failure=False)
        if isinstance(outcome, PeriodFailed):
            outcome = outcome.period
        elif not isinstance(outcome, PeriodResult):  # the task broke outside its own failures
            outcome = PeriodResult(
                census.isoformat(),
                prepared.la_code,
                Outcome.FAILED,
                message=f"period run crashed: {type(outcome).__name__}",
            )
        periods.append(outcome)
    return periods


@flow(
    name="nis-backfill",
    flow_run_name=_backfill_run_name,
    persist_result=False,
    description="Write the NIS submission of every census date from from_census to to_census.",
)
def nis_backfill(
    from_census: str,
    to_census: str,
    config_path: str | None = None,
    source_path: str | None = None,
    output_dir: str | None = None,
    replace: bool = False,
) -> Any:
    """Write one submission per census date from ``from_census`` to ``to_census`` inclusive,
    oldest first, reading and validating the extracts once.

    Args:
        from_census: First census date as YYYY-MM-DD, 31 March or 30 September (e.g.
            2024-03-31).
        to_census: Last census date as YYYY-MM-DD, 31 March or 30 September (e.g. 2025-09-30).
        config_path: The config file (nis.toml), relative to the folder the worker runs in.
        source_path: Folder of the ten extracts; overrides the config's [source].
        output_dir: Root folder of the submissions; overrides the config's output_dir.
        replace: Replace finished submissions made from other inputs or settings (the old ones
            are kept beside them).
    """
    from flows.run_audit import note_flow_run

    note_flow_run()  # for the audit line, should the command be interrupted
    logger = get_run_logger()
    settings = None
    span = f"{census_label(from_census)}/{census_label(to_census)}"
    try:
        settings = load_run_settings(config_path, source_path, output_dir)
        censuses = census_range(from_census, to_census)
        check_census_not_after(censuses[-1], settings.resolved_extract_date())
        logger.info(
            "Backfill of %d periods: %s to %s",
            len(censuses),
            censuses[0].isoformat(),
            censuses[-1].isoformat(),
        )
        prepared = prepare_inputs(settings, logger)
    except (PipelineError, ConnectionError) as exc:
        return ended("backfill", span, settings, output_dir, stopped(logger, exc))
    la = prepared.la_code
    first, last = censuses[0].isoformat(), censuses[-1].isoformat()
    compute_first_ahead(prepared, Period(censuses[0]))
    try:
        rename_current_run(backfill_run_name(la, first, last))
        logger = get_run_logger()
        counts, top = prepared.validation.counts, prepared.validation.top_rules(10)
        publish_validation(la, f"backfill-{first}-{last}", counts, top)
        periods = _write_periods(prepared, censuses, replace, logger)
    finally:
        drop_computed_ahead()  # a period computed ahead whose turn never came

    result = RunResult(periods=tuple(periods), la_code=la, inputs=prepared.summary())
    publish_markdown(
        backfill_markdown(result, first, last, counts, prepared.share, prepared.threshold),
        ("nis-backfill", la),
        f"NIS backfill {la} {first} to {last}",
    )
    if result.failed:
        return ended("backfill", span, settings, output_dir, failed(RunFailed(result)))
    logger.info(
        "Backfill done: %d written, %d up to date",
        sum(p.outcome is Outcome.WRITTEN for p in periods),
        sum(p.outcome is Outcome.UP_TO_DATE for p in periods),
    )
    return ended("backfill", span, settings, output_dir, result)
