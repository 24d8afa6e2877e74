"""The hub's audit facts (nis_pipeline/hub_facts.py) on a hand-made hub result and output
folder, without a Dask cluster: each council's outcome and counts, which files are the line's
outputs, and the inputs of councils that stopped before writing a manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from exports.audit import AuditRecord
from flows.hub_results import CouncilResult, HubFailed, HubResult
from flows.results import InputSummary, Outcome, PeriodResult
from nis_pipeline.hub_facts import add_hub_facts

CENSUS = "2026-03-31"


class _FinalState:
    """The hub flow's final state as the command's observer gets it."""

    def __init__(self, outcome: Any) -> None:
        self.state_details = SimpleNamespace(flow_run_id="3f6c0a52-hub-run")
        self.outcome = outcome

    def result(self, raise_on_failure: bool = True) -> Any:
        return self.outcome


def _finished(out: Path, la: str, people: int) -> Path:
    folder = out / la / CENSUS
    folder.mkdir(parents=True)
    name = f"nis_{la}_{CENSUS}_individuals.csv"
    (folder / name).write_text("x\n")
    manifest = {
        "files": [{"name": name, "sha256": "1" * 64, "rows": people}],
        "input_extracts": [{"extract": "people", "source": "people.csv", "sha256": "2" * 64}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_one_line_for_the_hub_with_every_councils_outcome_counts_inputs_and_outputs(
    tmp_path: Path,
) -> None:
    out, sources = tmp_path / "out", tmp_path / "sources"
    written = _finished(out, "E09000001", people=17)
    up_to_date = _finished(out, "E06000001", people=19)
    # Over its threshold: its report, where the run put it. And a council with no report.
    report = out / "E08000012" / CENSUS / "validation_report.xlsx"
    report.parent.mkdir(parents=True)
    report.write_bytes(b"report")
    (sources / "wirral").mkdir(parents=True)
    (sources / "wirral" / "families.csv").write_text("la_code\n")
    inputs = InputSummary(300, 5, 7, 100, 4, 0.05)

    def council(label: str, outcome: Outcome, la: str | None, folder: Path | None) -> Any:
        period = PeriodResult(CENSUS, la or "", outcome, folder=str(folder) if folder else None)
        return CouncilResult(label, str(sources / label), outcome, la, period, inputs)

    result = HubResult(
        CENSUS,
        (
            council("city", Outcome.WRITTEN, "E09000001", written),
            council("hartlepool", Outcome.UP_TO_DATE, "E06000001", up_to_date),
            council("leeds", Outcome.THRESHOLD_EXCEEDED, "E08000012", None),
            council("york", Outcome.THRESHOLD_EXCEEDED, "E06000014", None),
            CouncilResult("wirral", str(sources / "wirral"), Outcome.FAILED, message="gone"),
        ),
    )
    record = AuditRecord(command="hub")
    # A hub with a failed council ends with HubFailed, which carries the result.
    add_hub_facts(record, out, _FinalState(HubFailed(result)), None, None)

    assert record.flow_run_id == "3f6c0a52-hub-run"
    rows = {"rows_read": 300, "rows_quarantined": 5, "rows_warned": 7}
    assert record.details["councils"] == [
        {
            "folder": "city",
            "la_code": "E09000001",
            "outcome": "written",
            "counts": {"nis_people": 17, **rows},
        },
        {
            "folder": "hartlepool",
            "la_code": "E06000001",
            "outcome": "up to date",
            "counts": {"nis_people": 19, **rows},
        },
        {
            "folder": "leeds",
            "la_code": "E08000012",
            "outcome": "threshold exceeded",
            "counts": rows,
        },
        {"folder": "york", "la_code": "E06000014", "outcome": "threshold exceeded", "counts": rows},
        {"folder": "wirral", "la_code": None, "outcome": "failed"},
    ]
    assert record.counts == {"councils": 5, "councils_ok": 2, "councils_failed": 3}
    # Outputs: what this run wrote. A council up to date wrote nothing; york wrote no report.
    assert [o["name"] for o in record.outputs] == [
        f"E09000001/{CENSUS}/nis_E09000001_{CENSUS}_individuals.csv",
        f"E09000001/{CENSUS}/manifest.json",
        f"E08000012/{CENSUS}/validation_report.xlsx",
    ]
    # Inputs: each tagged with its council's folder; from the manifest when there is one, else
    # hashed from the folder.
    assert [(i["folder"], i["extract"], i["sha256"]) for i in record.inputs] == [
        ("city", "people", "2" * 64),
        ("hartlepool", "people", "2" * 64),
        ("wirral", "families", hashlib.sha256(b"la_code\n").hexdigest()),
    ]
