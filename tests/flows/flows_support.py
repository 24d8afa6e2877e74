"""Helpers of the flow tests: synthetic extracts, a config file, and reading back from Prefect's
API what a run left there (flow runs, task runs, artifacts, logs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

from synth.generate import write_synthetic

LA = "E08000012"  # the synthetic families' council
EXTRACT_DATE = "2026-10-31"  # the synthetic data's extract date
SUBMISSION_FILES = (
    f"nis_{LA}_{{c}}_individuals.csv",
    f"nis_{LA}_{{c}}_fpd.csv",
    f"nis_{LA}_{{c}}.xlsx",
    f"statistics_{LA}_{{c}}.csv",
    "validation_report.xlsx",
    f"changes_{LA}_{{c}}.csv",
    "manifest.json",
)


def submission_files(census: str) -> set[str]:
    return {name.format(c=census) for name in SUBMISSION_FILES}


def synthetic_extracts(
    folder: Path, families: int = 40, seed: int = 7, defects: float = 0.0
) -> Path:
    write_synthetic(folder, families=families, seed=seed, defects=defects)
    return folder


def write_config(path: Path, *, threshold: float = 0.05, la_code: str | None = None) -> Path:
    """A config file pinning the extract date (dates of birth are judged against it)."""
    lines = [f"extract_date = {EXTRACT_DATE}", f"quarantine_threshold = {threshold}"]
    if la_code:
        lines.append(f'la_code = "{la_code}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def csv_rows(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def flow_run(flow_run_id: UUID) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


def task_runs(flow_run_id: UUID, within: float = 30.0) -> list[Any]:
    """The task runs of a flow run once the API has recorded them: the task engine sends task
    runs' states as events, and the API records them a moment after they arrive (a run read
    straight after its flow returned can still lack its last state, or a task run). So this
    sends what is queued, then reads until every task run has a final state and two reads a
    moment apart agree (``within`` seconds at most; what was read last is returned)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=within, at_exit=False)
    deadline = time.monotonic() + within
    seen: list[tuple[Any, Any]] | None = None
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            now = sorted((r.id, r.state.type if r.state else None) for r in runs)
            settled = all(r.state is not None and r.state.is_final() for r in runs)
            if (settled and now == seen) or time.monotonic() > deadline:
                return runs
            seen = now
            time.sleep(0.1)


def task_run_names(flow_run_id: UUID) -> list[str]:
    return [r.name for r in task_runs(flow_run_id)]


def artifacts(flow_run_id: UUID) -> dict[str, Any]:
    """The artifacts of a flow run by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found}


def table_rows(artifact: Any) -> list[dict[str, Any]]:
    import json

    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def api_logs(flow_run_ids: list[UUID]) -> list[str]:
    """Every log line the API holds for these flow runs (and their task runs), after flushing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30, at_exit=False)
    lines: list[str] = []
    with get_client(sync_client=True) as client:
        offset = 0
        while True:
            page = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)),
                limit=200,
                offset=offset,
            )
            lines.extend(log.message for log in page)
            if len(page) < 200:
                return lines
            offset += len(page)


def state_of(state: Any) -> tuple[str, Any]:
    """The state's type and what the run handed back: a RunResult, or for a failed run the
    pipeline's exception (a RunFailed carries the RunResult as ``.result``)."""
    return state.type.value, state.result(raise_on_failure=False)


def run_result(state: Any) -> Any:
    """The RunResult of a run that got as far as its periods, whether it failed or not."""
    data = state.result(raise_on_failure=False)
    return getattr(data, "result", data)


def period_task_runs(flow_run_id: UUID) -> list[Any]:
    """The ``write-period`` task runs of a backfill (one per census date), oldest first."""
    runs = [r for r in task_runs(flow_run_id) if r.task_key.startswith("write_period")]
    return sorted(runs, key=lambda r: r.expected_start_time)


def nothing_written(out: Path) -> bool:
    """True when a run left no submission under ``out``: at most the audit log, which every
    run appends to whatever its outcome (spec section 8)."""
    return not out.exists() or {p.name for p in out.iterdir()} <= {"audit.jsonl"}
