"""The ``nis_backfill`` flow: one submission per census date in a range.

The extracts are read and validated once; each period is then a ``nis-period`` subflow run
named ``nis-{la_code}-{census}``, so the UI shows each period's state and summary on its own. A
period that fails does not stop the others; the backfill ends Failed naming the periods that
failed. A period whose finished submission was made from the same inputs is skipped as up to date.
"""

from __future__ import annotations

import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed

from flows.artifacts import backfill_markdown, publish_markdown, publish_validation
from flows.naming import backfill_run_name, rename_current_run
from flows.results import Outcome, PeriodResult, RunResult
from flows.submission import (
    FATAL_ERRORS,
    crashed,
    fatal,
    load_run_settings,
    submit_period,
)
from flows.tasks import PreparedInputs, StageError, prepare_inputs
from transforms.periods import CensusDateError, Period, census_dates_between, parse_census

# Validated inputs handed from the backfill to its period subflows, which run in the same
# process. Only a key goes through Prefect: flow parameters are sent to the API as JSON, and the
# frames hold personal data that must never leave the process.
_PREPARED: dict[str, PreparedInputs] = {}


def census_range(from_census: str, to_census: str) -> list[Any]:
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
            params.get("config_path"), params.get("source_path"), params.get("output_dir")
        ).la_code
    except Exception:  # the flow itself reports the problem; a name must still be given
        la = None
    return backfill_run_name(la, str(first), str(last))


@flow(
    name="nis-period",
    flow_run_name="nis-{la_code}-{census}",
    persist_result=False,
    description="One period of a backfill, from inputs the backfill has validated.",
)
def nis_period(census: str, la_code: str, inputs_key: str, replace: bool = False) -> Any:
    logger = get_run_logger()
    prepared = _PREPARED[inputs_key]
    period = submit_period(prepared, Period.of(census), replace, logger)
    if not period.outcome.ok:
        return Failed(message=period.line(), data=period)
    return period


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
    """Write one submission per census date from ``from_census`` to ``to_census`` inclusive
    (ISO dates, 31 March or 30 September). ``replace`` rewrites finished periods, keeping the
    old folders beside the new ones."""
    logger = get_run_logger()
    try:
        settings = load_run_settings(config_path, source_path, output_dir)
        censuses = census_range(from_census, to_census)
        logger.info(
            "Backfill of %d periods: %s to %s",
            len(censuses),
            censuses[0].isoformat(),
            censuses[-1].isoformat(),
        )
        prepared = prepare_inputs(settings, logger)
    except FATAL_ERRORS as exc:
        return fatal(logger, str(exc))
    except (StageError, ConnectionError) as exc:  # a bug, or a database still down after retries
        return crashed(logger, str(exc))
    la = prepared.la_code
    first, last = censuses[0].isoformat(), censuses[-1].isoformat()
    rename_current_run(backfill_run_name(la, first, last))
    logger = get_run_logger()
    counts, top = prepared.validation.counts, prepared.validation.top_rules(10)
    publish_validation(la, f"backfill-{first}-{last}", counts, top)

    key = uuid.uuid4().hex
    _PREPARED[key] = prepared
    periods: list[PeriodResult] = []
    try:
        for number, census in enumerate(censuses, start=1):
            label = census.isoformat()
            logger.info("Period %d of %d: %s", number, len(censuses), label)
            state: Any = nis_period(
                census=label, la_code=la, inputs_key=key, replace=replace, return_state=True
            )
            outcome = state.result(raise_on_failure=False)
            if not isinstance(outcome, PeriodResult):  # the subflow crashed outright
                outcome = PeriodResult(
                    label,
                    la,
                    Outcome.FAILED,
                    message=f"period run crashed: {type(outcome).__name__}",
                )
            periods.append(outcome)
            logger.info("Period %d of %d: %s", number, len(censuses), outcome.line())
    finally:
        _PREPARED.pop(key, None)

    result = RunResult(periods=tuple(periods), la_code=la)
    publish_markdown(
        backfill_markdown(result, first, last, counts, prepared.share, prepared.threshold),
        ("nis-backfill", la),
        f"NIS backfill {la} {first} to {last}",
    )
    if result.failed:
        message = result.failure_message()
        logger.error("%s", message)
        return Failed(message=message, data=result)
    logger.info(
        "Backfill done: %d written, %d up to date",
        sum(p.outcome is Outcome.WRITTEN for p in periods),
        sum(p.outcome is Outcome.UP_TO_DATE for p in periods),
    )
    return result
