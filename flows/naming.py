"""Flow run names: ``nis-{la_code}-{census}`` for a period, ``nis-backfill-{la}-{first}-{last}``
for a backfill. Codes and dates only, so the run list in the UI says what ran without saying who."""

from __future__ import annotations

from datetime import date

from transforms.periods import census_shape


def census_label(value: object) -> str:
    """A census date as typed into a run's parameters, fit for a run's name and audit line: the
    date when it looks like one, "latest" when empty, and otherwise "invalid-census-date" (a
    name is kept for ever, shown everywhere, and must not carry whatever was typed, ten thousand
    characters or a person's name)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "latest"
    if isinstance(value, date):
        return value.isoformat()
    return census_shape(str(value).strip())


def period_run_name(la_code: str | None, census: date | str) -> str:
    census_text = census.isoformat() if isinstance(census, date) else census
    return f"nis-{la_code}-{census_text}" if la_code else f"nis-{census_text}"


def backfill_run_name(la_code: str | None, first: date | str, last: date | str) -> str:
    first_text = first.isoformat() if isinstance(first, date) else first
    last_text = last.isoformat() if isinstance(last, date) else last
    middle = f"{la_code}-" if la_code else ""
    return f"nis-backfill-{middle}{first_text}-to-{last_text}"


def rename_current_run(name: str) -> None:
    """Rename the running flow run once the LA is known (it may come from the families extract,
    which is read only after the run has started and been named)."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.name == name:
        return
    with get_client(sync_client=True) as client:
        client.set_flow_run_name(context.flow_run.id, name)
    context.flow_run.name = name
