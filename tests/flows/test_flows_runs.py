"""The flows end to end under Prefect's test harness, on synthetic extracts: what they write,
how their runs are named, the states they end in and the artifacts they publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flows_support import (
    EXTRACT_DATE,
    LA,
    api_logs,
    artifacts,
    csv_rows,
    flow_run,
    period_task_runs,
    run_result,
    state_of,
    submission_files,
    synthetic_extracts,
    table_rows,
    task_run_names,
    write_config,
)

from extracts.reader import read_extracts
from flows.backfill import nis_backfill
from flows.results import Outcome, RunResult
from flows.settings import load_settings
from flows.submission import nis_submission
from schemas.models import EXTRACT_NAMES
from schemas.validation import validate

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

BACKFILL = ("2024-09-30", "2025-03-31", "2025-09-30")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("clean") / "extracts", families=40, seed=7)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "nis.toml")


@pytest.fixture(scope="module")
def backfilled(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory, source: Path, config: Path
) -> tuple[Path, Any]:
    """A three-period backfill into a fresh output folder (shared by the backfill tests), under
    the test harness: a module fixture is set up before the per-test one that starts it, and a
    backfill run first on its worker went to a temporary API of its own, whose runs the tests'
    client could not find."""
    out = tmp_path_factory.mktemp("backfill") / "out"
    state = _run_backfill(BACKFILL[0], BACKFILL[-1], config, source, out)
    return out, state


def _run_period(census: str, config: Path, source: Path, out: Path) -> Any:
    """The final state of ``nis_submission`` for ``census`` into ``out``."""
    return nis_submission(
        census_date=census,
        config_path=str(config),
        source_path=str(source),
        output_dir=str(out),
        return_state=True,
    )


def _run_backfill(first: str, last: str, config: Path, source: Path, out: Path) -> Any:
    """The final state of ``nis_backfill`` from ``first`` to ``last`` into ``out``."""
    return nis_backfill(
        from_census=first,
        to_census=last,
        config_path=str(config),
        source_path=str(source),
        output_dir=str(out),
        return_state=True,
    )


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_single_period_writes_the_submission_names_the_run_and_publishes_artifacts(
    source: Path, config: Path, tmp_path: Path
) -> None:
    census = "2025-09-30"
    out = tmp_path / "out"
    state = _run_period(census, config, source, out)
    kind, result = state_of(state)
    assert kind == "COMPLETED"
    assert isinstance(result, RunResult) and result.exit_code == 0
    (period,) = result.periods
    folder = out / LA / census
    assert (period.outcome, period.census, period.la_code) == (Outcome.WRITTEN, census, LA)
    assert period.folder == str(folder)
    assert {p.name for p in folder.iterdir()} == submission_files(census) == set(period.files)

    run = flow_run(state.state_details.flow_run_id)
    # The config names no council: the run was renamed once the families extract named it.
    assert run.name == f"nis-{LA}-{census}"
    assert run.state.type.value == "COMPLETED"
    tasks = task_run_names(run.id)
    assert sorted(t for t in tasks if t.startswith("pull-")) == sorted(
        f"pull-{name}" for name in EXTRACT_NAMES
    )
    assert {f"compute-{census}", f"export-{census}"} <= set(tasks)

    found = artifacts(run.id)
    assert set(found) == {
        f"nis-summary-e08000012-{census}",
        f"nis-extracts-e08000012-{census}",
        f"nis-rules-e08000012-{census}",
    }
    individuals = pd.read_csv(folder / f"nis_{LA}_{census}_individuals.csv", dtype=str)
    fpd = pd.read_csv(folder / f"nis_{LA}_{census}_fpd.csv", dtype=str)
    manifest = _manifest(folder)
    summary = found[f"nis-summary-e08000012-{census}"].data
    assert f"# NIS submission {LA} {census}" in summary
    assert "- period: 2025-04-01 to 2025-09-30" in summary
    assert "- outcome: **written**" in summary
    assert f"| NIS | {individuals['family_id'].nunique()} | {len(individuals)} |" in summary
    assert f"| FPD | {fpd['family_id'].nunique()} | {len(fpd)} |" in summary
    assert f"People left out by opt-out: {manifest['people_opted_out']}" in summary
    for name in submission_files(census):
        assert f"- `{name}`" in summary

    extracts = table_rows(found[f"nis-extracts-e08000012-{census}"])
    assert [row["extract"] for row in extracts] == list(EXTRACT_NAMES)
    for row, entry in zip(extracts, manifest["input_extracts"], strict=True):
        assert row["rows_read"] == csv_rows(source / f"{row['extract']}.csv") == entry["rows_read"]
        assert (row["quarantined"], row["warned"]) == (entry["quarantined"], entry["warned"])
        assert entry["sha256"].startswith(row["sha256"]) and len(row["sha256"]) == 12

    settings = load_settings(config, source_path=source)
    expected_rules = validate(
        read_extracts(settings.extract_source()), settings.resolved_extract_date()
    ).top_rules(10)
    rules = table_rows(found[f"nis-rules-e08000012-{census}"])
    if expected_rules.empty:
        assert rules == [{"rule": "-", "severity": "-", "message": "no findings", "count": 0}]
    else:
        assert [(r["rule"], r["count"]) for r in rules] == list(
            zip(expected_rules["rule"], expected_rules["count"].astype(int), strict=True)
        )


def test_three_period_backfill_reads_once_and_writes_every_period(
    backfilled: tuple[Path, Any],
) -> None:
    out, state = backfilled
    kind, result = state_of(state)
    assert kind == "COMPLETED"
    assert [(p.census, p.outcome) for p in result.periods] == [
        (c, Outcome.WRITTEN) for c in BACKFILL
    ]
    for census in BACKFILL:
        folder = out / LA / census
        assert {p.name for p in folder.iterdir()} == submission_files(census)
        assert _manifest(folder)["census_date"] == census
    # Written in date order, so each period compares with the one before it.
    assert _manifest(out / LA / BACKFILL[0])["previous"] is None
    for before, census in zip(BACKFILL, BACKFILL[1:], strict=False):
        earlier = [
            f["sha256"]
            for f in _manifest(out / LA / before)["files"]
            if f["name"] == f"nis_{LA}_{before}_individuals.csv"
        ]
        assert _manifest(out / LA / census)["previous"] == {
            "census_date": before,
            "individuals_sha256": earlier[0],
        }

    run = flow_run(state.state_details.flow_run_id)
    assert run.name == f"nis-backfill-{LA}-{BACKFILL[0]}-to-{BACKFILL[-1]}"
    assert run.state.type.value == "COMPLETED"
    # Read and validated once for the whole backfill, not once per period.
    tasks = task_run_names(run.id)
    assert sorted(t for t in tasks if t.startswith("pull-")) == sorted(
        f"pull-{name}" for name in EXTRACT_NAMES
    )
    assert sum(t.startswith("validate-extracts") for t in tasks) == 1

    periods = period_task_runs(run.id)
    assert [p.name for p in periods] == [f"nis-{LA}-{c}" for c in BACKFILL]
    assert [p.state.type.value for p in periods] == ["COMPLETED"] * 3
    found = artifacts(run.id)
    for census in BACKFILL:
        assert {f"compute-{census}", f"changes-{census}", f"export-{census}"} <= set(tasks)
        summary = found[f"nis-summary-e08000012-{census}"].data
        assert "- outcome: **written**" in summary
        individuals = out / LA / census / f"nis_{LA}_{census}_individuals.csv"
        assert f"| {csv_rows(individuals)} |" in summary

    backfill_md = found["nis-backfill-e08000012"].data
    assert "- periods: 3, failed: 0" in backfill_md
    for census in BACKFILL:
        assert f"| {census} | written | 7 |" in backfill_md
    assert f"nis-extracts-e08000012-backfill-{BACKFILL[0]}-{BACKFILL[-1]}" in found


def test_backfill_writes_what_runs_of_each_period_in_turn_write(
    backfilled: tuple[Path, Any], source: Path, config: Path, tmp_path: Path
) -> None:
    # The backfill computes each period while the one before is written; one run per census
    # date, in the same order, computes each on its own. Every file is the same, byte for byte.
    backfill_out, _ = backfilled
    out = tmp_path / "one-by-one"
    for census in BACKFILL:
        assert state_of(_run_period(census, config, source, out))[0] == "COMPLETED"
    for census in BACKFILL:
        mine, theirs = backfill_out / LA / census, out / LA / census
        names = sorted(p.name for p in theirs.iterdir())
        assert names == sorted(p.name for p in mine.iterdir())
        for name in names:
            assert (mine / name).read_bytes() == (theirs / name).read_bytes(), f"{census}/{name}"


def test_backfill_rerun_skips_every_period_as_up_to_date(
    backfilled: tuple[Path, Any], source: Path, config: Path
) -> None:
    out, _ = backfilled
    before = {c: (out / LA / c / "manifest.json").stat().st_mtime_ns for c in BACKFILL}
    state = _run_backfill(BACKFILL[0], BACKFILL[-1], config, source, out)
    kind, result = state_of(state)
    assert kind == "COMPLETED" and result.exit_code == 0
    assert [(p.census, p.outcome) for p in result.periods] == [
        (c, Outcome.UP_TO_DATE) for c in BACKFILL
    ]
    after = {c: (out / LA / c / "manifest.json").stat().st_mtime_ns for c in BACKFILL}
    assert after == before
    assert sorted(p.name for p in (out / LA).iterdir() if not p.name.startswith(".")) == list(
        BACKFILL
    )
    run = flow_run(state.state_details.flow_run_id)
    periods = period_task_runs(run.id)
    assert [p.state.type.value for p in periods] == ["COMPLETED"] * 3
    # nothing computed or written
    assert not [t for t in task_run_names(run.id) if t.startswith(("compute-", "export-"))]
    backfill_md = artifacts(run.id)["nis-backfill-e08000012"].data
    for census in BACKFILL:
        assert f"| {census} | up to date | 7 |" in backfill_md


def test_backfill_with_one_bad_period_writes_the_others_and_fails_naming_it(
    source: Path, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    bad = "2025-03-31"
    # A finished submission of the middle period, made from other inputs, is in the way.
    other = synthetic_extracts(tmp_path / "other", families=30, seed=99)
    first = nis_submission(
        census_date=bad,
        config_path=str(config),
        source_path=str(other),
        output_dir=str(out),
        return_state=True,
    )
    assert first.is_completed()
    old_manifest = (out / LA / bad / "manifest.json").read_bytes()

    state = _run_backfill(BACKFILL[0], BACKFILL[-1], config, source, out)
    kind, error = state_of(state)
    assert kind == "FAILED"
    assert error.exit_code == 1
    result = run_result(state)
    assert [(p.census, p.outcome) for p in result.periods] == [
        ("2024-09-30", Outcome.WRITTEN),
        (bad, Outcome.FAILED),
        ("2025-09-30", Outcome.WRITTEN),
    ]
    assert state.message == f"1 of 3 periods failed: {bad} (failed)"
    # Which inputs differ is said (every extract here), so replacing is a decision made knowingly.
    said_in_result = result.periods[1].message
    assert "finished submission made from other extracts (asb_incidents, " in said_in_result
    assert "social_care_episodes)" in said_in_result and "--replace" in said_in_result
    for census in ("2024-09-30", "2025-09-30"):
        assert {p.name for p in (out / LA / census).iterdir()} == submission_files(census)
    assert (out / LA / bad / "manifest.json").read_bytes() == old_manifest

    run = flow_run(state.state_details.flow_run_id)
    assert run.state.type.value == "FAILED"
    periods = period_task_runs(run.id)
    assert [(p.name, p.state.type.value) for p in periods] == [
        (f"nis-{LA}-2024-09-30", "COMPLETED"),
        (f"nis-{LA}-{bad}", "FAILED"),
        (f"nis-{LA}-2025-09-30", "COMPLETED"),
    ]
    backfill_md = artifacts(run.id)["nis-backfill-e08000012"].data
    assert "- periods: 3, failed: 1" in backfill_md
    assert f"| {bad} | failed | 0 |" in backfill_md
    # Known before anything is computed: no compute or export for that period, and the reason
    # logged as one line, not as a task's traceback.
    names = task_run_names(run.id)
    assert {f"compute-{bad}", f"export-{bad}"} & set(names) == set()
    assert {"compute-2024-09-30", "export-2024-09-30"} <= set(names)
    logged = api_logs([run.id])
    assert not [line for line in logged if "Traceback" in line or "SubmissionExists" in line]
    said = [line for line in logged if line.startswith(f"{bad}: ")]
    assert len(said) == 1 and said[0].endswith(said_in_result), said


def test_a_run_of_a_wrong_census_date_is_still_named_for_its_council(
    source: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "nis.toml", la_code=LA)
    # A date's shape is kept; anything else typed is not (tests/test_hub_plan.py, census_label).
    for asked, named in (("2025-06-30", "2025-06-30"), ("notadate", "invalid-census-date")):
        state = _run_period(asked, config, source, tmp_path / "out")
        kind, error = state_of(state)
        assert kind == "FAILED" and error.exit_code == 2
        assert flow_run(state.state_details.flow_run_id).name == f"nis-{LA}-{named}"


def test_a_refused_run_for_the_latest_census_is_named_for_the_date_it_took(
    source: Path, tmp_path: Path
) -> None:
    """An empty census date means the latest one due; refused (after the extract date), the
    run is named for that date, not for "latest"."""
    from datetime import date, timedelta

    from transforms.periods import latest_census

    config = tmp_path / "nis.toml"
    config.write_text(f'extract_date = 2024-01-01\nla_code = "{LA}"\n', encoding="utf-8")
    state = _run_period("", config, source, tmp_path / "out")
    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 2
    taken = latest_census(date.today(), timedelta(weeks=6))
    assert f"census date {taken.isoformat()} is after the extract date 2024-01-01" in str(error)
    assert flow_run(state.state_details.flow_run_id).name == f"nis-{LA}-{taken.isoformat()}"


def test_a_backfill_ending_after_the_extract_date_is_refused_whole(
    source: Path, config: Path, tmp_path: Path
) -> None:
    """As the nis-backfill deployment calls it (the command line checks the dates itself first):
    its last census date, not only its first, must have ended when the extracts were taken.
    Nothing is written, not even the periods before the extract date."""
    out = tmp_path / "out"
    state = _run_backfill("2025-09-30", "2027-03-31", config, source, out)
    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 2
    assert f"census date 2027-03-31 is after the extract date {EXTRACT_DATE}" in str(error)
    assert not (out / LA).exists()


def test_threshold_exceeded_writes_only_the_validation_report(tmp_path: Path) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=40, seed=7, defects=0.1)
    config = write_config(tmp_path / "nis.toml", threshold=0.01)
    census = "2025-09-30"
    state = _run_period(census, config, source, tmp_path / "out")
    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 1
    (period,) = run_result(state).periods
    assert period.outcome is Outcome.THRESHOLD_EXCEEDED
    assert "above the threshold 1.0%" in period.message
    folder = tmp_path / "out" / LA / census
    assert sorted(p.name for p in folder.iterdir()) == ["validation_report.xlsx"]
    run = flow_run(state.state_details.flow_run_id)
    found = artifacts(run.id)
    assert "- outcome: **threshold exceeded**" in found[f"nis-summary-e08000012-{census}"].data
    rules = table_rows(found[f"nis-rules-e08000012-{census}"])
    assert rules and all(r["count"] > 0 and r["rule"][0] in "EW" for r in rules)
    assert [r["count"] for r in rules] == sorted((r["count"] for r in rules), reverse=True)


def test_scheduled_style_run_without_a_census_date_takes_the_latest_due_one(
    source: Path, tmp_path: Path
) -> None:
    from datetime import timedelta

    from flows.submission import run_date
    from transforms.periods import latest_census

    config = write_config(tmp_path / "nis.toml", la_code=LA)
    state = nis_submission(
        config_path=str(config),
        source_path=str(source),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    expected = latest_census(run_date(), timedelta(weeks=6)).isoformat()
    kind, result = state_of(state)
    assert result.periods[0].census == expected
    assert flow_run(state.state_details.flow_run_id).name == f"nis-{LA}-{expected}"
    assert kind == "COMPLETED"


@pytest.mark.parametrize("flow", ["run", "backfill"])
def test_the_first_period_is_computed_ahead_once_validated_and_taken_by_its_task(
    flow: str, source: Path, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its tables are computed in a thread while the flow renames its run and publishes the
    # validation artifact; the compute task takes them and computes nothing itself.
    import threading

    from flows import submission, tasks

    computed: list[tuple[str, str]] = []

    def recorded(of: Any) -> Any:
        def tables(clean: Any, period: Any) -> Any:
            computed.append((threading.current_thread().name, period.label))
            return of(clean, period)

        return tables

    monkeypatch.setattr(submission, "period_tables", recorded(submission.period_tables))
    monkeypatch.setattr(tasks, "period_tables", recorded(tasks.period_tables))
    out = tmp_path / "out"
    if flow == "run":
        state = _run_period(BACKFILL[0], config, source, out)
    else:
        state = _run_backfill(BACKFILL[0], BACKFILL[1], config, source, out)
    assert state_of(state)[0] == "COMPLETED"
    expected = [("nis-compute-ahead", BACKFILL[0])]
    if flow == "backfill":  # the second period computed ahead while the first was written
        expected.append(("nis-compute-ahead", BACKFILL[1]))
    assert computed == expected
    assert (out / LA / BACKFILL[0] / "manifest.json").is_file()
