"""The audit facts of a run read after its flow ended (flows/run_facts.py), on hand-made results
and submission folders: which files are its outputs, which counts are its own, and what an
interrupted run had finished."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from exports.audit import AuditRecord
from flows.results import InputSummary, Outcome, PeriodResult, RunResult
from flows.run_facts import (
    add_finished_since,
    add_run_facts,
    failed_report_path,
    manifest_counts,
)

LA = "E08000012"


def _finished(out: Path, census: str, la: str = LA, rows: tuple[int, int] = (17, 12)) -> Path:
    folder = out / la / census
    folder.mkdir(parents=True)
    files = [
        {"name": f"nis_{la}_{census}_individuals.csv", "sha256": "1" * 64, "rows": rows[0]},
        {"name": f"nis_{la}_{census}_fpd.csv", "sha256": "2" * 64, "rows": rows[1]},
    ]
    manifest = {
        "files": files,
        "people_opted_out": 2,
        "input_extracts": [{"extract": "people", "source": "people.csv", "sha256": "3" * 64}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_manifest_counts_take_whole_numbers_only() -> None:
    manifest = {
        "files": [
            {"name": "nis_E08000012_2026-03-31_individuals.csv", "rows": 17},
            {"name": "nis_E08000012_2026-03-31_fpd.csv", "rows": "12"},  # not a count
            {"name": "statistics.csv", "rows": 40},
        ],
        "people_opted_out": None,
    }
    assert manifest_counts(manifest) == {"nis_people": 17}
    assert manifest_counts({"people_opted_out": 3}) == {"people_opted_out": 3}
    assert manifest_counts({"people_opted_out": "3"}) == {}


def test_the_report_of_a_run_over_its_threshold_goes_beside_a_finished_submission(
    tmp_path: Path,
) -> None:
    assert failed_report_path(tmp_path, LA, "2026-03-31") == (
        tmp_path / LA / "2026-03-31" / "validation_report.xlsx"
    )
    _finished(tmp_path, "2026-03-31")
    assert failed_report_path(tmp_path, LA, "2026-03-31") == (
        tmp_path / LA / "2026-03-31.failed-validation_report.xlsx"
    )


def test_a_threshold_run_records_its_report_only_when_it_was_written(tmp_path: Path) -> None:
    over = RunResult(
        periods=(PeriodResult("2026-03-31", LA, Outcome.THRESHOLD_EXCEEDED),), la_code=LA
    )
    record = AuditRecord(command="run")
    add_run_facts(record, tmp_path, over)
    assert record.outputs == []
    report = tmp_path / LA / "2026-03-31" / "validation_report.xlsx"
    report.parent.mkdir(parents=True)
    report.write_bytes(b"report")
    record = AuditRecord(command="run")
    add_run_facts(record, tmp_path, over)
    assert [o["name"] for o in record.outputs] == [f"{LA}/2026-03-31/validation_report.xlsx"]


def test_a_backfills_counts_are_per_period_not_the_lines_own(tmp_path: Path) -> None:
    periods = tuple(
        PeriodResult(
            census, LA, Outcome.WRITTEN, folder=str(_finished(tmp_path, census, rows=rows))
        )
        for census, rows in (("2025-09-30", (17, 12)), ("2026-03-31", (19, 14)))
    )
    record = AuditRecord(command="backfill")
    add_run_facts(
        record,
        tmp_path,
        RunResult(periods=periods, la_code=LA, inputs=InputSummary(9, 1, 2, 5, 1, 0.5)),
    )
    assert record.details["periods"] == [
        {
            "census": "2025-09-30",
            "outcome": "written",
            "counts": {"nis_people": 17, "fpd_people": 12, "people_opted_out": 2},
        },
        {
            "census": "2026-03-31",
            "outcome": "written",
            "counts": {"nis_people": 19, "fpd_people": 14, "people_opted_out": 2},
        },
    ]
    # The line's own counts are the inputs', which the periods share; no period's cohort.
    assert record.counts == {
        "rows_read": 9,
        "rows_quarantined": 1,
        "rows_warned": 2,
        "people_read": 5,
        "people_quarantined": 1,
    }
    # One period's: its cohort too.
    record = AuditRecord(command="run")
    add_run_facts(record, tmp_path, RunResult(periods=periods[:1], la_code=LA))
    assert record.counts == {"nis_people": 17, "fpd_people": 12, "people_opted_out": 2}


def test_what_an_interrupted_run_finished_leaves_out_links_and_other_councils_when_several(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    since = time.time_ns()
    _finished(out, "2025-09-30")
    # A census folder and a council folder that are links: not written by this run, whatever
    # their manifests' times say.
    elsewhere = _finished(tmp_path / "elsewhere", "2026-03-31")
    (out / LA / "2026-03-31").symlink_to(elsewhere)
    (out / "E06000001").symlink_to(tmp_path / "elsewhere" / LA)
    record = AuditRecord(command="backfill")
    add_finished_since(record, out, since)
    assert record.details["finished_before_the_interrupt"] == [
        {"la_code": LA, "census": "2025-09-30"}
    ]
    assert record.la_code == LA
    # Two councils finished (a hub): the line names neither as its council.
    _finished(out, "2025-09-30", la="E06000002")
    record = AuditRecord(command="hub")
    add_finished_since(record, out, since)
    assert [f["la_code"] for f in record.details["finished_before_the_interrupt"]] == [
        "E06000002",
        LA,
    ]
    assert record.la_code is None


def test_a_submission_finished_before_the_command_began_is_not_its_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = _finished(out, "2025-09-30")
    os.utime(folder / "manifest.json", ns=(10**18, 10**18))
    record = AuditRecord(command="run")
    add_finished_since(record, out, 2 * 10**18)
    assert "finished_before_the_interrupt" not in record.details and record.outputs == []
