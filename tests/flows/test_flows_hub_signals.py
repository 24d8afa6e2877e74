"""``nis hub`` stopped by Ctrl-C or SIGTERM: the signal stops the run as a signal (the command
exits 130 or 143 and audits "interrupted"), whatever library code the flow was in when it came.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, model_serializer

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

CENSUS = "2026-03-31"


class _Serialised(BaseModel):
    """Stands for Prefect's settings, which its client serialises while the flow waits."""

    value: int = 1

    @model_serializer(mode="wrap")
    def _ser_model(self, handler: Any) -> Any:
        from prefect.exceptions import TerminationSignal

        # What Prefect's SIGTERM handler does when the signal lands in here.
        raise TerminationSignal(signal.SIGTERM)


def test_sigterm_inside_a_pydantic_serialiser_still_stops_the_hub_as_a_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pydantic turns an exception raised in a serialiser into PydanticSerializationError; the
    hub flow ended Failed with it (exit 1, "failed", pydantic's words on the terminal) when a
    SIGTERM came while the flow waited for its councils. The signal must reach the command."""
    from prefect.exceptions import TerminationSignal

    import flows.hub

    def plan_interrupted(*args: Any, **kwargs: Any) -> Any:
        return _Serialised().model_dump()

    monkeypatch.setattr(flows.hub, "plan_hub", plan_interrupted)
    # Prefect hands the signal on to the handler it found (the command's, which raises
    # Terminated): here one that only notes it, so that the test process lives on.
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        with pytest.raises(TerminationSignal):
            flows.hub.nis_hub(census_date=CENSUS, sources_path=str(tmp_path))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == [signal.SIGTERM]


def test_the_local_clusters_workers_leave_ctrl_c_to_the_command() -> None:
    """Ctrl-C at the terminal reaches the whole process group: the local cluster's worker
    processes each printed a KeyboardInterrupt traceback after ``nis hub`` had ended. They must
    ignore it (the command closes the cluster when it stops)."""
    from flows.hub import hub_task_runner

    with hub_task_runner(workers=1) as runner:
        handlers = runner.client.run(lambda: signal.getsignal(signal.SIGINT))
    assert list(handlers.values()) == [signal.SIG_IGN]
