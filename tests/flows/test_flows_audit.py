"""The audit log of ``nis run`` and ``nis backfill`` (from the CLI, under Prefect), the research
extract beside their submissions, and the pseudonymisation key from a Prefect Secret block."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

import openpyxl
import pytest
from flows_support import LA, flow_run, synthetic_extracts, task_run_names, write_config

from nis_pipeline.cli import app

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

KEY = "a-key-from-a-prefect-secret-block-0123456789"
BLOCK = "nis-test-pseudonym-key"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("audit") / "extracts", families=30, seed=17)


def _nis(*args: str | Path) -> int:
    try:
        return app([str(a) for a in args], standalone_mode=False) or 0
    except SystemExit as exc:  # pragma: no cover - typer exits this way on some paths
        return int(exc.code or 0)


def _audit(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report_counts(report: Path) -> dict[str, int]:
    """Rows read, quarantined and warned in all, and the people rows, from the table "Rows per
    extract" on the validation report's Summary sheet."""
    rows = list(openpyxl.load_workbook(report, read_only=True)["Summary"].values)
    start = next(i for i, row in enumerate(rows) if row[:1] == ("Rows per extract",)) + 2
    table = []
    for row in rows[start:]:
        if not row or row[0] is None:
            break
        table.append(row)
    people = next(row for row in table if row[0] == "people")
    return {
        "rows_read": sum(row[3] for row in table),
        "rows_quarantined": sum(row[4] for row in table),
        "rows_warned": sum(row[5] for row in table),
        "people_read": people[3],
        "people_quarantined": people[4],
    }


def test_run_records_its_flow_run_inputs_outputs_and_counts(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, census = tmp_path / "out", "2026-03-31"
    config = write_config(tmp_path / "nis.toml")
    assert (
        _nis("run", "--census", census, "--source", source, "--config", config, "--out", out) == 0
    )
    folder = out / LA / census
    manifest = json.loads((folder / "manifest.json").read_text())
    [entry] = _audit(out)
    assert (entry["command"], entry["census"], entry["la_code"]) == ("run", census, LA)
    assert (entry["outcome"], entry["exit_code"]) == ("ok", 0)
    run = flow_run(UUID(entry["flow_run_id"]))
    assert run.name == f"nis-{LA}-{census}"
    assert entry["inputs"] == [
        {"extract": e["extract"], "source": e["source"], "sha256": e["sha256"]}
        for e in manifest["input_extracts"]
    ]
    names = [f["name"] for f in manifest["files"]] + ["manifest.json"]
    assert [o["name"] for o in entry["outputs"]] == [f"{LA}/{census}/{n}" for n in names]
    assert all(o["sha256"] == _sha(out / o["name"]) for o in entry["outputs"])
    individuals = next(f for f in manifest["files"] if f["name"].endswith("_individuals.csv"))
    assert entry["counts"]["nis_people"] == individuals["rows"]
    assert entry["counts"]["rows_read"] == sum(e["rows_read"] for e in manifest["input_extracts"])
    assert entry["periods"] == [
        {
            "census": census,
            "outcome": "written",
            "counts": {
                k: entry["counts"][k] for k in ("nis_people", "fpd_people", "people_opted_out")
            },
        }
    ]

    # The research extract joins the finished folder; a --replace run keeps it there.
    monkeypatch.setenv("NIS_PSEUDONYM_KEY", KEY)
    args = ("--census", census, "--source", source, "--config", config, "--out", out)
    assert _nis("research-extract", *args) == 0
    research = folder / f"research_{LA}_{census}.csv"
    before = _sha(research)
    assert _nis("run", *args) == 0  # up to date
    assert _nis("run", *args, "--replace") == 0
    assert _sha(research) == before
    assert not (out / LA / f"{census}.replaced-1" / research.name).exists()

    entries = _audit(out)
    assert [e["command"] for e in entries] == ["run", "research-extract", "run", "run"]
    up_to_date = entries[2]
    assert up_to_date["periods"][0]["outcome"] == "up to date"
    assert up_to_date["outputs"] == [] and up_to_date["inputs"] == entry["inputs"]
    assert entries[3]["flow_run_id"] not in (None, entry["flow_run_id"])


def test_backfill_records_the_range_and_every_period(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = write_config(tmp_path / "nis.toml")
    code = _nis(
        "backfill", "--from", "2025-03-31", "--to", "2025-09-30", "--source", source,
        "--config", config, "--out", out,
    )  # fmt: skip
    assert code == 0
    [entry] = _audit(out)
    assert (entry["command"], entry["census"], entry["exit_code"]) == (
        "backfill",
        "2025-03-31/2025-09-30",
        0,
    )
    assert (
        flow_run(UUID(entry["flow_run_id"])).name == f"nis-backfill-{LA}-2025-03-31-to-2025-09-30"
    )
    assert [(p["census"], p["outcome"]) for p in entry["periods"]] == [
        ("2025-03-31", "written"),
        ("2025-09-30", "written"),
    ]
    written = {o["name"].split("/")[1] for o in entry["outputs"]}
    # Seven files a period: two CSVs, workbook, statistics, report, changes file, manifest.
    assert written == {"2025-03-31", "2025-09-30"} and len(entry["outputs"]) == 14
    assert len(entry["inputs"]) == 10


def test_failed_and_refused_runs_are_recorded(tmp_path: Path) -> None:
    source = synthetic_extracts(tmp_path / "defective", families=30, seed=4, defects=0.2)
    out = tmp_path / "out"
    config = write_config(tmp_path / "nis.toml", threshold=0.01)
    args = ("--source", source, "--config", config, "--out", out)
    assert _nis("run", "--census", "2026-03-31", *args) == 1
    assert _nis("run", "--census", "2026-03-30", *args) == 2
    failed, refused = _audit(out)
    assert (failed["outcome"], failed["exit_code"], failed["la_code"]) == ("failed", 1, LA)
    assert failed["periods"] == [{"census": "2026-03-31", "outcome": "threshold exceeded"}]
    # The counts say why: the report's per-extract rows, and the people the threshold weighs.
    summary = _report_counts(out / LA / "2026-03-31" / "validation_report.xlsx")
    assert failed["counts"] == summary
    assert failed["counts"]["people_quarantined"] > 0.01 * failed["counts"]["people_read"]
    report = f"{LA}/2026-03-31/validation_report.xlsx"
    assert failed["outputs"] == [{"name": report, "sha256": _sha(out / report)}]
    people = source / "people.csv"
    assert {"extract": "people", "source": "people.csv", "sha256": _sha(people)} in failed["inputs"]
    assert (refused["outcome"], refused["exit_code"], refused["census"]) == (
        "fatal",
        2,
        "2026-03-30",
    )
    assert refused["flow_run_id"] is None and refused["outputs"] == []


def test_the_key_from_a_prefect_secret_block(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.blocks.system import Secret

    Secret(value=KEY).save(BLOCK, overwrite=True)
    monkeypatch.delenv("NIS_PSEUDONYM_KEY", raising=False)
    out = tmp_path / "out"
    config = write_config(tmp_path / "nis.toml")
    with open(config, "a", encoding="utf-8") as handle:
        handle.write(f'pseudonym_secret = "{BLOCK}"\n')
    args = ("--census", "2025-09-30", "--source", source, "--config", config, "--out", out)
    assert _nis("research-extract", *args) == 0
    research = out / LA / "2025-09-30" / f"research_{LA}_2025-09-30.csv"
    first = research.read_text().splitlines()[1].split(",")
    people = (source / "people.csv").read_text(encoding="utf-8").splitlines()[1:]
    expected = {
        hmac.new(
            KEY.encode(), f"{LA}:person:{p.split(',')[0]}".encode(), hashlib.sha256
        ).hexdigest()
        for p in people
    }
    assert first[1] in expected
    [entry] = _audit(out)
    assert entry["key_source"] == f"prefect-secret:{BLOCK}"
    assert KEY not in (out / "audit.jsonl").read_text()

    # A block that does not exist: exit 2, one line naming the variable and the block.
    config.write_text(config.read_text().replace(BLOCK, "no-such-block"), encoding="utf-8")
    assert _nis("research-extract", *args) == 2
    assert _audit(out)[-1]["exit_code"] == 2


def test_a_flow_run_calling_a_command_gives_its_id() -> None:
    from prefect import flow

    from nis_pipeline.audit_scope import current_flow_run_id

    @flow(name="audit-id-probe", persist_result=False)
    def probe() -> tuple[str | None, str]:
        from prefect.runtime import flow_run as runtime

        return current_flow_run_id(), str(runtime.id)

    seen, actual = probe()
    assert seen == actual


def test_a_run_no_command_wraps_appends_its_own_line_and_packages_when_configured(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a worker runs the six-monthly deployment: the flow called as is, with a recipient in
    the config. It appends one audit line itself and leaves the encrypted package only."""
    from pyrage import decrypt, x25519

    from flows.run_audit import AUDITED_BY
    from flows.submission import nis_submission

    monkeypatch.delenv(AUDITED_BY, raising=False)
    identity = x25519.Identity.generate()
    out, census = tmp_path / "out", "2025-09-30"
    config = write_config(tmp_path / "nis.toml")
    with config.open("a", encoding="utf-8") as handle:
        handle.write(f'package_recipient = "{identity.to_public()}"\n')
    state = nis_submission(
        census_date=census,
        config_path=str(config),
        source_path=str(source),
        output_dir=str(out),
        return_state=True,
    )
    assert state.is_completed(), state.message
    [entry] = _audit(out)
    assert (entry["command"], entry["census"], entry["outcome"]) == ("run", census, "ok")
    assert entry["started_by"] == "prefect"
    assert entry["flow_run_id"] == str(state.state_details.flow_run_id)
    transfer = out / LA / census / "transfer"
    [sealed] = list(transfer.iterdir())
    assert sealed.name == f"nis_{LA}_{census}.zip.age"
    names = sorted(zipfile.ZipFile(io.BytesIO(decrypt(sealed.read_bytes(), [identity]))).namelist())
    assert f"nis_{LA}_{census}_individuals.csv" in names and "manifest.json" in names
    assert not any(n.startswith(("validation_report", "changes_")) for n in names)

    # A bad key in the config is a config error, before anything runs.
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace(str(identity.to_public()), "age1nope"), "utf-8")
    failed_state = nis_submission(
        census_date=census, config_path=str(bad), source_path=str(source), return_state=True
    )
    assert failed_state.is_failed()
    assert "package_recipient is not a valid age public key" in failed_state.message


def test_a_deployment_run_given_hostile_parameters_stops_at_once_in_one_line(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As analysts type parameters into the UI: a cleared config_path is not "no config" (which
    wrote with the defaults into the worker's folder); an output folder that is a file or a link
    stops the run before the extracts are read, as the command line does; a census date that is
    ten thousand characters, or a name, reaches neither the run's name, its message nor its
    audit line; a run refused at its start records the config's council."""
    from prefect.client.orchestration import get_client

    from flows.run_audit import AUDITED_BY
    from flows.submission import nis_submission

    monkeypatch.delenv(AUDITED_BY, raising=False)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "nis.toml", la_code=LA)
    out = tmp_path / "out"

    cleared = nis_submission(
        census_date="2025-09-30", config_path="", source_path=str(source), return_state=True
    )
    assert cleared.is_failed()
    assert cleared.message == (
        "config_path is empty: give the config file (the deployments' default is nis.toml)"
    )
    assert not (tmp_path / "submissions").exists()

    afile = tmp_path / "afile"
    afile.write_text("mine", encoding="utf-8")
    (tmp_path / "alink").symlink_to(out, target_is_directory=True)
    for where, says in ((afile, "is a file, not a folder"), (tmp_path / "alink", "symbolic link")):
        state = nis_submission(
            census_date="2025-09-30",
            config_path=str(config),
            source_path=str(source),
            output_dir=str(where),
            return_state=True,
        )
        assert state.is_failed() and says in state.message, state.message
        # Stopped before any extract was read: no task ran. Named for the config's council.
        assert task_run_names(state.state_details.flow_run_id) == []
        with get_client(sync_client=True) as client:
            name = client.read_flow_run(state.state_details.flow_run_id).name
        assert name == f"nis-{LA}-2025-09-30"
    assert afile.read_text(encoding="utf-8") == "mine" and not out.exists()

    typed = "ZZMARKERNAME Smith" + "X" * 10_000
    state = nis_submission(
        census_date=typed, config_path=str(config), output_dir=str(out), return_state=True
    )
    assert state.is_failed()
    assert state.message == (
        "the value given is not a date in ISO form YYYY-MM-DD (a census date is 31 March or 30 "
        "September, e.g. 2025-09-30)"
    )
    with get_client(sync_client=True) as client:
        name = client.read_flow_run(state.state_details.flow_run_id).name
    assert name == f"nis-{LA}-invalid-census-date"
    [entry] = _audit(out)
    assert (entry["census"], entry["la_code"], entry["outcome"]) == (
        "invalid-census-date",
        LA,
        "fatal",
    )
    assert "ZZMARKER" not in (out / "audit.jsonl").read_text(encoding="utf-8")
