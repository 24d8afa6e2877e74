"""The audit facts of ``nis run`` and ``nis backfill``, read after the flow ended: its flow run id
and result (from the final Prefect state), and for each period the finished folder's manifest
(input extracts' hashes and counts, the files written and their hashes, cohort sizes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from exports.audit import AuditRecord
from exports.manifest import MANIFEST_NAME, read_manifest
from exports.submission import REPORT_NAME, is_finished
from flows.results import Outcome, RunResult
from schemas.codes import LA_CODE_PATTERN


def manifest_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Cohort sizes a manifest records: people in the individuals and FPD files, and people left
    out by opt-out."""
    counts: dict[str, int] = {}
    for entry in manifest.get("files", []):
        name, rows = str(entry.get("name", "")), entry.get("rows")
        if not isinstance(rows, int):
            continue
        if name.endswith("_individuals.csv"):
            counts["nis_people"] = rows
        elif name.endswith("_fpd.csv"):
            counts["fpd_people"] = rows
    opted_out = manifest.get("people_opted_out")
    if isinstance(opted_out, int):
        counts["people_opted_out"] = opted_out
    return counts


def failed_report_path(out_root: Path, la_code: str, census: str) -> Path:
    """Where a run over its threshold put its validation report (see
    ``exports.submission.write_failed_run_report``)."""
    folder = Path(out_root) / la_code / census
    if is_finished(folder):
        return folder.parent / f"{census}.failed-{REPORT_NAME}"
    return folder / REPORT_NAME


def add_state_facts(record: AuditRecord, out_root: Path, state: Any) -> None:
    """The facts of a run from its final Prefect state (what the command line holds)."""
    flow_run_id = getattr(getattr(state, "state_details", None), "flow_run_id", None)
    if flow_run_id is not None:
        record.flow_run_id = str(flow_run_id)
    try:
        result = state.result(raise_on_failure=False)
    except Exception:  # a crashed run keeps no result; the exit code says it failed
        return
    add_run_facts(record, out_root, result)


def add_run_facts(record: AuditRecord, out_root: Path, result: Any) -> None:
    """The facts of a run from what its flow handed back (a RunResult, or a RunFailed that
    carries one)."""
    result = getattr(result, "result", result)  # a failed run's RunFailed carries its result
    if not isinstance(result, RunResult):
        return
    if result.la_code:
        record.la_code = result.la_code
    if result.inputs is not None:
        # What validation made of the extracts, also when no period was written (a run over
        # its threshold has no manifest to read them from).
        summary = result.inputs
        record.counts.update(
            rows_read=summary.rows_read,
            rows_quarantined=summary.rows_quarantined,
            rows_warned=summary.rows_warned,
            people_read=summary.people_read,
            people_quarantined=summary.people_quarantined,
        )
    periods: list[dict[str, Any]] = []
    for period in result.periods:
        entry: dict[str, Any] = {"census": period.census, "outcome": period.outcome.value}
        folder = Path(period.folder) if period.folder else None
        manifest = read_manifest(folder) if folder is not None else None
        if folder is not None and manifest is not None:
            if not record.inputs:
                record.set_inputs(manifest.get("input_extracts", []))
            entry["counts"] = manifest_counts(manifest)
            if period.outcome is Outcome.WRITTEN:
                for file in manifest.get("files", []):
                    record.add_output(out_root, folder / file["name"], str(file["sha256"]))
                record.add_output(out_root, folder / MANIFEST_NAME)
        elif period.outcome is Outcome.THRESHOLD_EXCEEDED:
            report = failed_report_path(out_root, period.la_code, period.census)
            if report.is_file():
                record.add_output(out_root, report)
        periods.append(entry)
    record.details["periods"] = periods
    if len(periods) == 1:
        record.counts.update(periods[0].get("counts", {}))


def add_finished_since(record: AuditRecord, out_root: Path, since_ns: int) -> None:
    """The submissions finished under OUT since ``since_ns`` (the command's start): what an
    interrupted run, backfill or hub wrote before it stopped. Their finished folders are kept,
    but the flow's result that lists them is lost with the interrupt, so they are found from
    their manifests, written (and moved into place whole) while the command ran."""
    if not out_root.is_dir():
        return
    finished: list[dict[str, str]] = []
    for la_dir in sorted(out_root.iterdir()):
        if (
            la_dir.is_symlink()
            or not la_dir.is_dir()
            or not re.fullmatch(LA_CODE_PATTERN, la_dir.name)
        ):
            continue
        for folder in sorted(la_dir.iterdir()):
            manifest_path = folder / MANIFEST_NAME
            if folder.is_symlink() or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", folder.name):
                continue
            try:
                if manifest_path.stat().st_mtime_ns < since_ns:
                    continue
            except OSError:
                continue
            manifest = read_manifest(folder)
            if manifest is None:
                continue
            for file in manifest.get("files", []):
                record.add_output(out_root, folder / file["name"], str(file["sha256"]))
            record.add_output(out_root, manifest_path)
            finished.append({"la_code": la_dir.name, "census": folder.name})
    if finished:
        record.details["finished_before_the_interrupt"] = finished
        councils = {f["la_code"] for f in finished}
        if record.la_code is None and len(councils) == 1:
            record.la_code = councils.pop()
