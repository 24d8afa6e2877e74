"""One council of a hub run, as its Dask worker runs it, without a cluster: what it hands back
when its period fails unexpectedly after validation, and the council codes read ahead when a
worker is lost. (On a real cluster: test_flows_hub.py.)"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

import flows.hub
from flows.hub import _collected, _council_codes, run_council
from flows.hub_plan import plan_hub
from flows.hub_results import CouncilFailed, CouncilResult
from flows.results import Outcome
from synth.generate import write_synthetic

# The council's extracts are read by the pipeline's Prefect tasks: on the session's harness.
pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

SYNTH_LA = "E08000012"  # the generator's council


@pytest.fixture(autouse=True)
def _tasks_run_outside_a_flow_run() -> Any:
    """A worker's council runs the pipeline's tasks inside the hub's flow run; here there is
    none, so Prefect would warn of each task log line it cannot send (11 warnings a session)."""
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        yield


def test_a_council_failing_after_validation_keeps_its_code_counts_and_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "sources" / "wirral"
    write_synthetic(source, families=12, seed=3)
    published: list[tuple[str, str, int]] = []

    def publish(la: str, label: str, counts: Any, top: Any) -> None:
        published.append((la, label, int(counts["rows_read"].sum())))

    def broken(*args: Any) -> None:
        raise RuntimeError("a value from the data: 943 476 5919")

    monkeypatch.setattr(flows.hub, "publish_validation", publish)
    monkeypatch.setattr(flows.hub, "submit_period", broken)
    result = run_council(
        "wirral", str(source), "2026-03-31", None, str(tmp_path / "out"), False,
        logging.getLogger("test-hub-council"),
    )  # fmt: skip
    assert (result.label, result.outcome, result.la_code) == ("wirral", Outcome.FAILED, SYNTH_LA)
    assert result.source == str(source) and result.period is None
    assert result.inputs is not None
    rows = sum(len(p.read_text().splitlines()) - 1 for p in source.glob("*.csv"))
    assert result.inputs.rows_read == rows
    # The period's error in type and place only: its message could quote a value.
    assert result.message.startswith(f"council wirral ({SYNTH_LA}) failed: RuntimeError at ")
    assert "943" not in result.message
    assert published == [(SYNTH_LA, "2026-03-31", rows)]


class _GoneWorkers:
    """A Dask client whose workers went away while the councils' codes were read."""

    def map(self, *args: Any, **kwargs: Any) -> list[object]:
        return [object()]

    def gather(self, futures: Any) -> Any:
        raise OSError("the worker's connection closed")


def test_codes_not_read_leave_each_council_to_say_why_itself(tmp_path: Path) -> None:
    for label in ("hartlepool", "wirral"):
        (tmp_path / "sources" / label).mkdir(parents=True)
    plan = plan_hub("2026-03-31", tmp_path / "sources", None, tmp_path / "out")
    assert _council_codes(_GoneWorkers(), plan) == {"hartlepool": (), "wirral": ()}


class _Future:
    """What ``runner.submit`` hands back, as far as ``_collected`` asks."""

    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def result(self, raise_on_failure: bool = True) -> object:
        if isinstance(self.outcome, Exception) and not isinstance(self.outcome, CouncilFailed):
            raise self.outcome
        return self.outcome


class KilledWorker(Exception):
    """As Dask names the error of a task whose workers kept dying under it."""


def test_what_each_councils_task_handed_back_is_its_result() -> None:
    written = CouncilResult("wirral", "/s/wirral", Outcome.WRITTEN, la_code="E08000015")
    failed = CouncilResult("leeds", "/s/leeds", Outcome.FAILED, message="[F001] gone")
    assert _collected("wirral", "/s/wirral", _Future(written)) is written
    assert _collected("leeds", "/s/leeds", _Future(CouncilFailed(failed))) is failed
    # The worker died under it, or the task ended with something else: failed, by its type.
    for outcome, kind in (
        (KilledWorker("tcp://10.0.0.8:4100"), "KilledWorker"),
        (None, "NoneType"),
    ):
        crashed = _collected("york", "/s/york", _Future(outcome))
        assert crashed == CouncilResult(
            "york", "/s/york", Outcome.FAILED, message=f"its task crashed: {kind}"
        )


def test_the_hub_summary_artifact_is_one_table_row_per_council() -> None:
    from flows.hub import hub_markdown
    from flows.hub_results import HubResult

    result = HubResult(
        census="2026-03-31",
        cluster="Dask local cluster at tcp://127.0.0.1:8786: 2 workers, 2 threads",
        councils=(
            CouncilResult("leeds", "/s/leeds", Outcome.FAILED, message="[F001] a | b: gone"),
            CouncilResult("wirral", "/s/wirral", Outcome.UP_TO_DATE, la_code="E08000015"),
        ),
    )
    # A "|" in a reason would split its row into more cells than the table has.
    assert hub_markdown(result).splitlines() == [
        "# NIS hub 2026-03-31",
        "",
        "- Dask local cluster at tcp://127.0.0.1:8786: 2 workers, 2 threads",
        "",
        "| council folder | la_code | outcome | folder | note |",
        "|---|---|---|---|---|",
        "| leeds | - | failed | - | [F001] a / b: gone |",
        "| wirral | E08000015 | up to date | - |  |",
    ]


def test_the_deployment_stops_at_once_on_a_scheduler_that_does_not_answer(
    tmp_path: Path,
) -> None:
    """The nis-hub deployment calls the flow itself, without the command's checks: it must say
    what is wrong in one line rather than let Dask retry and fail in its own words."""
    from flows.hub import nis_hub

    (tmp_path / "sources" / "wirral").mkdir(parents=True)
    state = nis_hub(
        census_date="2026-03-31",
        sources_path=str(tmp_path / "sources"),
        output_dir=str(tmp_path / "out"),
        scheduler="tcp://127.0.0.1:9",  # the discard port: nothing listens
        return_state=True,
    )
    assert state.type.value == "FAILED"
    assert state.message == (
        "the Dask scheduler at tcp://127.0.0.1:9 does not answer (Connection refused): start it "
        "(dask scheduler) or leave out --scheduler to run on a local cluster"
    )
