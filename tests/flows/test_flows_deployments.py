"""prefect.yaml is what the data team deploys: every deployment's entrypoint must import, its
parameters must fit the flow, and its schedule must parse and fire when the README says."""

from __future__ import annotations

import importlib.util
import inspect
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "prefect.yaml"
LONDON = ZoneInfo("Europe/London")


def _deployments() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    return {d["name"]: d for d in config["deployments"]}


def _load_entrypoint(entrypoint: str) -> Any:
    """Load ``path/to/file.py:flow_name`` as ``prefect deploy`` does: by file path."""
    from prefect.flows import load_flow_from_entrypoint

    path, _, name = entrypoint.partition(":")
    assert (ROOT / path).is_file(), f"entrypoint file {path} does not exist"
    assert name, "entrypoint needs ':flow_name'"
    return load_flow_from_entrypoint(str(ROOT / path) + ":" + name)


def test_prefect_yaml_holds_the_three_deployments() -> None:
    deployments = _deployments()
    assert set(deployments) == {"nis-six-monthly", "nis-backfill", "nis-hub"}
    pools = {d["work_pool"]["name"] for d in deployments.values()}
    assert pools == {"nis-process"}


@pytest.mark.parametrize("name", ["nis-six-monthly", "nis-backfill", "nis-hub"])
def test_entrypoint_imports_and_parameters_fit_the_flow(name: str) -> None:
    from prefect import Flow
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import validate

    deployment = _deployments()[name]
    flow = _load_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    signature = inspect.signature(flow.fn)
    given = deployment.get("parameters") or {}
    assert set(given) <= set(signature.parameters), "parameters the flow does not take"
    required = {
        p.name for p in signature.parameters.values() if p.default is inspect.Parameter.empty
    }
    # What Prefect checks at run time with enforce_parameter_schema: the deployment's defaults
    # plus what a user supplies for the required parameters.
    supplied = {p: "2025-09-30" for p in required - set(given)}
    schema = parameter_schema(flow.fn).model_dump_for_openapi()
    validate({**given, **supplied}, schema, raise_on_error=True)
    # A census date must be text: JSON would otherwise let a bare 2025 through as a number.
    with pytest.raises(Exception, match="Validation failed"):
        validate({**given, **supplied, "config_path": 2025}, schema, raise_on_error=True)
    assert set(schema.get("required", [])) == required
    assert deployment.get("enforce_parameter_schema") is True


def test_backfill_deployment_takes_from_and_to_census_and_has_no_schedule() -> None:
    deployment = _deployments()["nis-backfill"]
    flow = _load_entrypoint(deployment["entrypoint"])
    params = inspect.signature(flow.fn).parameters
    for name in ("from_census", "to_census"):
        assert params[name].default is inspect.Parameter.empty
        assert name not in (deployment.get("parameters") or {})  # the analyst gives them
    assert not deployment.get("schedules")


def test_hub_deployment_runs_on_demand_and_its_form_says_what_to_give() -> None:
    """The hub is triggered by hand: no schedule, the census date and the sources folder are
    given in the UI's Custom run form, whose fields carry the flow's own descriptions."""
    from prefect.utilities.callables import parameter_schema

    deployment = _deployments()["nis-hub"]
    assert not deployment.get("schedules")
    assert deployment["entrypoint"] == "flows/hub.py:nis_hub"
    flow = _load_entrypoint(deployment["entrypoint"])
    assert flow.name == "nis-hub"
    params = inspect.signature(flow.fn).parameters
    for name in ("census_date", "sources_path"):
        assert params[name].default is inspect.Parameter.empty
        assert name not in (deployment.get("parameters") or {})
    assert params["workers"].default == 2 and params["scheduler"].default is None
    fields = parameter_schema(flow.fn).model_dump_for_openapi()["properties"]
    assert "YYYY-MM-DD" in fields["census_date"]["description"]
    assert "31 March or 30 September" in fields["census_date"]["description"]
    assert "one folder of extracts per council" in fields["sources_path"]["description"]
    assert "tcp://" in fields["scheduler"]["description"]
    assert all(field.get("description") for field in fields.values())


def test_six_monthly_schedule_parses_and_fires_after_each_census_date() -> None:
    from prefect.client.schemas.schedules import CronSchedule

    deployment = _deployments()["nis-six-monthly"]
    (entry,) = deployment["schedules"]
    assert entry["timezone"] == "Europe/London"
    schedule = CronSchedule(cron=entry["cron"], timezone=entry["timezone"])
    start = datetime(2026, 1, 1, tzinfo=LONDON)
    fires = [d.astimezone(LONDON) for d in _next_dates(schedule, start, 4)]
    assert [(d.year, d.month, d.day, d.hour, d.minute) for d in fires] == [
        (2026, 5, 15, 9, 0),
        (2026, 11, 15, 9, 0),
        (2027, 5, 15, 9, 0),
        (2027, 11, 15, 9, 0),
    ]


def test_scheduled_run_picks_the_census_date_the_schedule_is_for() -> None:
    """On 15 May the latest census date at least 6 weeks back is 31 March; on 15 November it is
    30 September."""
    from datetime import date

    from flows.settings import Settings
    from flows.submission import resolve_census

    settings = Settings()
    assert resolve_census(None, settings, today=date(2026, 5, 15)) == date(2026, 3, 31)
    assert resolve_census(None, settings, today=date(2026, 11, 15)) == date(2026, 9, 30)
    # Six weeks after 31 March is 12 May: three days earlier the data is not in yet.
    assert resolve_census(None, settings, today=date(2026, 5, 9)) == date(2025, 9, 30)


def _next_dates(schedule: Any, start: datetime, n: int) -> list[datetime]:
    """The next ``n`` fire times, as the server's scheduler computes them."""
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule as ServerCronSchedule

    server = ServerCronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    return list(asyncio.run(server.get_dates(n=n, start=start)))


def test_module_spec_entrypoints_are_importable_as_modules() -> None:
    """The flows also import as modules (what the CLI does), not only by file path."""
    for deployment in _deployments().values():
        path = deployment["entrypoint"].partition(":")[0]
        module = path.removesuffix(".py").replace("/", ".")
        assert importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("name", ["nis-six-monthly", "nis-backfill"])
def test_every_parameter_is_described_for_the_run_form(name: str) -> None:
    from prefect.utilities.callables import parameter_schema

    flow = _load_entrypoint(_deployments()[name]["entrypoint"])
    properties = parameter_schema(flow.fn).model_dump_for_openapi()["properties"]
    assert all(p.get("description") for p in properties.values()), properties
    dates = [p for n, p in properties.items() if "census" in n]
    assert dates and all("YYYY-MM-DD" in p["description"] for p in dates)


def test_manual_runs_are_not_tagged_scheduled() -> None:
    # A manual run of a deployment carries the deployment's tags; Prefect tags the runs its
    # scheduler makes itself.
    assert all("scheduled" not in d.get("tags", []) for d in _deployments().values())


@pytest.mark.prefect
@pytest.mark.xdist_group("prefect")
def test_a_failing_flow_called_from_python_raises_the_pipelines_own_error(
    tmp_path: Path,
) -> None:
    """The issue's case: nis-backfill's entrypoint called with a census date that is not one."""
    from transforms.periods import CensusDateError

    backfill = _load_entrypoint(_deployments()["nis-backfill"]["entrypoint"])
    with pytest.raises(CensusDateError) as raised:
        backfill(
            from_census="2025-03-31",
            to_census="2025-06-30",
            source_path=str(tmp_path),
            output_dir=str(tmp_path / "out"),
        )
    assert str(raised.value).startswith("2025-06-30 is not a census date")
    state = backfill(
        from_census="2025-03-31",
        to_census="2025-06-30",
        source_path=str(tmp_path),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    assert state.is_failed() and state.message == str(raised.value)
