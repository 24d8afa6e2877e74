"""The audit line of a run that no ``nis`` command wraps: a deployment run under a worker.

``nis run`` and ``nis backfill`` append their audit line themselves when they end (the command
line knows the exit code, and also records runs that never reached a flow). A scheduled run, or
one started from the Prefect UI, has no command around it, so the flow appends its own line when
it ends; the commands set ``NIS_AUDITED_BY`` so that their flows do not append a second one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from exports.audit import AuditRecord, append_audit
from flows.run_facts import add_run_facts

AUDITED_BY = "NIS_AUDITED_BY"

# The flow runs begun in this process, oldest first.
_begun: list[str] = []


def note_flow_run() -> None:
    """Remember the flow run this flow body runs in: a command interrupted before its flow hands
    back a state would otherwise have no flow run id for its audit line."""
    from prefect.runtime import flow_run

    if flow_run.id:
        _begun.append(str(flow_run.id))


def flow_runs_begun() -> int:
    """How many flow runs this process has begun (a command's mark at its start)."""
    return len(_begun)


def last_flow_run_since(mark: int) -> str | None:
    """The last flow run begun after ``mark``, if any (a process may run several commands)."""
    return _begun[-1] if len(_begun) > mark else None


def audit_flow_run(
    command: str,
    census: str,
    out_root: Path | None,
    outcome: Any,
    exit_code: int,
    la_code: str | None = None,
) -> None:
    """Append the line of a flow run that ended with ``outcome`` (what the flow returns as its
    result, or its pipeline exception), unless a ``nis`` command is recording it. ``la_code``
    is the config's, for a run stopped before the extracts named the council."""
    if os.environ.get(AUDITED_BY) or out_root is None:
        return
    from prefect.runtime import flow_run

    record = AuditRecord(command=command, census=census, exit_code=exit_code)
    record.flow_run_id = str(flow_run.id) if flow_run.id else None
    record.details["started_by"] = "prefect"
    record.la_code = la_code
    add_run_facts(record, out_root, outcome)
    try:
        append_audit(out_root, record)
    except OSError as exc:
        from prefect import get_run_logger

        get_run_logger().error(
            "could not append to the audit log under %s: %s", out_root, exc.strerror
        )
