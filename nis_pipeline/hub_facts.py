"""The audit facts of ``nis hub``, read after its flow ended: one line for the whole hub run
(command ``hub``, no single ``la_code``), with each council's outcome under ``councils`` and every
council's inputs and outputs in the line's ``inputs`` and ``outputs``, each input tagged with its
council's folder name (outputs are named by their path under OUT, which starts with the la_code).
Codes, counts, names and hashes only: a failed council's reason is free text and is not recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from exports.audit import AuditRecord
from exports.manifest import MANIFEST_NAME, read_manifest
from flows.hub_plan import hub_settings
from flows.hub_results import CouncilResult, HubFailed, HubResult
from flows.results import Outcome
from flows.run_facts import failed_report_path, manifest_counts
from flows.settings import ConfigError
from nis_pipeline.audit_scope import CommandAudit, source_file_hashes


def _council_inputs(
    council: CouncilResult, manifest: dict[str, Any] | None, config: Path | None, out: Path | None
) -> list[dict[str, Any]]:
    if manifest is not None:
        found = [
            {"extract": str(e["extract"]), "source": str(e["source"]), "sha256": str(e["sha256"])}
            for e in manifest.get("input_extracts", [])
        ]
    else:  # the council stopped before writing a manifest: hash what its folder holds
        try:
            found = source_file_hashes(hub_settings(config, council.source, out))
        except ConfigError:
            found = []
    return [{**entry, "folder": council.label} for entry in found]


def add_hub_facts(
    record: AuditRecord, out_root: Path, state: Any, config: Path | None, out: Path | None
) -> None:
    flow_run_id = getattr(getattr(state, "state_details", None), "flow_run_id", None)
    if flow_run_id is not None:
        record.flow_run_id = str(flow_run_id)
    try:
        outcome = state.result(raise_on_failure=False)
    except Exception:  # a crashed run keeps no result; the exit code says it failed
        return
    result = outcome.result if isinstance(outcome, HubFailed) else outcome
    if not isinstance(result, HubResult):
        return
    councils: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []
    for council in result.councils:
        entry: dict[str, Any] = {
            "folder": council.label,
            "la_code": council.la_code,
            "outcome": council.outcome.value,
        }
        period = council.period
        folder = Path(period.folder) if period is not None and period.folder else None
        manifest = read_manifest(folder) if folder is not None else None
        inputs += _council_inputs(council, manifest, config, out)
        if folder is not None and manifest is not None:
            entry["counts"] = manifest_counts(manifest)
            if council.outcome is Outcome.WRITTEN:
                for file in manifest.get("files", []):
                    record.add_output(out_root, folder / file["name"], str(file["sha256"]))
                record.add_output(out_root, folder / MANIFEST_NAME)
        elif council.outcome is Outcome.THRESHOLD_EXCEEDED and council.la_code:
            report = failed_report_path(out_root, council.la_code, result.census)
            if report.is_file():
                record.add_output(out_root, report)
        if council.inputs is not None:
            entry.setdefault("counts", {}).update(
                rows_read=council.inputs.rows_read,
                rows_quarantined=council.inputs.rows_quarantined,
                rows_warned=council.inputs.rows_warned,
            )
        councils.append(entry)
    record.inputs = inputs
    record.details["councils"] = councils
    record.counts.update(
        councils=len(result.councils),
        councils_ok=sum(1 for c in result.councils if c.outcome.ok),
        councils_failed=len(result.failed),
    )


def hub_observer(audit: CommandAudit, config: Path | None, out: Path | None) -> Callable[..., None]:
    """The state observer of ``nis hub``: fills the audit record from the flow's final state."""

    def observe(state: Any) -> None:
        add_hub_facts(audit.record, audit.out_root, state, config, out)

    return observe
