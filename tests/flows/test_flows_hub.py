"""``nis hub`` on a real Dask cluster: three small synthetic councils (different la_codes), each
written under OUT/{la_code}/{census}/ byte for byte as ``nis run`` writes it; a council that fails
does not stop the others and is named; task runs in the Dask worker processes report to the same
Prefect API; one audit line for the whole hub run; no personal value in what Prefect received.

One Dask cluster of two worker processes serves the module (the ``--scheduler`` path); one test
lets the hub start its own local cluster (the default path).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import socket
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flows_support import (
    EXTRACT_DATE,
    api_logs,
    artifacts,
    flow_run,
    table_rows,
    task_runs,
    write_config,
)
from privacy_support import Scanner, inject_bad_identifiers, personal_values, run_dates

from flows.commands import run_command
from nis_pipeline.cli import app
from schemas.models import EXTRACT_NAMES
from synth.generate import write_synthetic

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

ROOT = Path(__file__).resolve().parents[2]
CENSUS = "2026-03-31"
SYNTH_LA = "E08000012"  # the generator's council
# council folder -> (la_code, seed)
COUNCILS = {
    "city-of-london": ("E09000001", 4),
    "hartlepool": ("E06000001", 5),
    "liverpool": ("E08000012", 3),
}


def council_extracts(folder: Path, la_code: str, seed: int, families: int = 25) -> Path:
    """Synthetic extracts of one council: the generator's families moved to ``la_code``."""
    write_synthetic(folder, families=families, seed=seed)
    path = folder / "families.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("la_code")
    assert {row[column] for row in rows[1:]} == {SYNTH_LA}
    for row in rows[1:]:
        row[column] = la_code
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return folder


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub") / "sources"
    for label, (la, seed) in COUNCILS.items():
        council_extracts(root / label, la, seed)
    # Personal values the privacy check looks for, in one council's people.
    inject_bad_identifiers(root / "liverpool" / "people.csv")
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A shared config naming a council: a hub must not apply it to every council.
    return write_config(
        tmp_path_factory.mktemp("hub-config") / "nis.toml", threshold=0.5, la_code="E08000012"
    )


@pytest.fixture(scope="module")
def single_runs(
    sources: Path, tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> Path:
    """What ``nis run`` writes for each council on its own (same shared settings, no la_code)."""
    out = tmp_path_factory.mktemp("single") / "out"
    plain = write_config(tmp_path_factory.mktemp("single-config") / "nis.toml", threshold=0.5)
    for label in COUNCILS:
        assert run_command(CENSUS, sources / label, plain, out, False) == 0
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Dask cluster of two worker processes (one thread each) for the module: its address."""
    from distributed import LocalCluster

    from flows.hub import keep_package_folders_off_sys_path

    # Loading a flow by its file (other test modules do) leaves flows/ on sys.path, which the
    # worker processes would start with: see keep_package_folders_off_sys_path.
    keep_package_folders_off_sys_path()
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local:
        yield str(local.scheduler_address)


def _nis(*args: str | Path) -> int:
    try:
        return app([str(a) for a in args], standalone_mode=False) or 0
    except SystemExit as exc:  # pragma: no cover - typer exits this way on some paths
        return int(exc.code or 0)


def _audit(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _council_task_runs(flow_run_id: UUID) -> dict[str, Any]:
    return {r.name: r for r in task_runs(flow_run_id) if r.task_key.startswith("write_council")}


def test_hub_writes_every_council_as_nis_run_would(
    sources: Path,
    config: Path,
    single_runs: Path,
    cluster: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    code = _nis(
        "hub", "--census", CENSUS, "--sources", sources, "--config", config, "--out", out,
        "--scheduler", cluster,
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "error" not in printed.err
    # The config's la_code is set aside, and said to be.
    assert "la_code E08000012 from the config is not used by a hub" in printed.err

    # Three councils, each in its own la_code folder, byte for byte what nis run wrote.
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(
        la for la, _ in COUNCILS.values()
    )
    for la, _ in COUNCILS.values():
        hub_files = _folder_bytes(out / la / CENSUS)
        run_files = _folder_bytes(single_runs / la / CENSUS)
        assert set(hub_files) == {
            f"nis_{la}_{CENSUS}_individuals.csv",
            f"nis_{la}_{CENSUS}_fpd.csv",
            f"nis_{la}_{CENSUS}.xlsx",
            f"statistics_{la}_{CENSUS}.csv",
            "validation_report.xlsx",
            f"changes_{la}_{CENSUS}.csv",
            "manifest.json",
        }
        assert set(run_files) == set(hub_files)
        for name, data in hub_files.items():
            assert data == run_files[name], f"{la}/{name} differs from what nis run wrote"
        manifest = json.loads(hub_files["manifest.json"])
        assert manifest["la_code"] == la

    # The terminal names the cluster, then says one line per council, with counts and folder.
    assert f"Dask existing cluster at {cluster}: 2 workers, 2 threads" in printed.out
    assert f"NIS hub {CENSUS}: 3 councils, 3 written or up to date, 0 failed" in printed.out
    for label, (la, _) in COUNCILS.items():
        [line] = [x for x in printed.out.splitlines() if x.startswith(f"{label}: ")]
        manifest = json.loads((out / la / CENSUS / "manifest.json").read_text())
        read = sum(e["rows_read"] for e in manifest["input_extracts"])
        individuals = next(f for f in manifest["files"] if f["name"].endswith("_individuals.csv"))
        assert line.startswith(f"{label}: {la} written - {out.resolve() / la / CENSUS} | ")
        assert f"| read {read}, quarantined " in line
        assert f"| NIS {individuals['rows']} people in " in line

    # One audit line for the hub run: every council, its outcome, inputs and outputs.
    [entry] = _audit(out)
    assert (entry["command"], entry["census"], entry["la_code"]) == ("hub", CENSUS, None)
    assert (entry["outcome"], entry["exit_code"]) == ("ok", 0)
    assert entry["counts"] == {"councils": 3, "councils_ok": 3, "councils_failed": 0}
    assert [(c["folder"], c["la_code"], c["outcome"]) for c in entry["councils"]] == [
        (label, la, "written") for label, (la, _) in sorted(COUNCILS.items())
    ]
    assert len(entry["inputs"]) == 30
    assert {i["folder"] for i in entry["inputs"]} == set(COUNCILS)
    people = next(
        i for i in entry["inputs"] if i["folder"] == "hartlepool" and i["extract"] == "people"
    )
    assert people["sha256"] == _sha(sources / "hartlepool" / "people.csv")
    assert len(entry["outputs"]) == 21  # seven files a council
    assert all(o["sha256"] == _sha(out / o["name"]) for o in entry["outputs"])

    # The flow run and its council task runs, which ran in the Dask workers, are in the one API,
    # with the workers' log lines.
    run = flow_run(UUID(entry["flow_run_id"]))
    assert run.name == f"nis-hub-{CENSUS}" and run.state.type.value == "COMPLETED"
    councils = _council_task_runs(run.id)
    assert set(councils) == {f"council-{label}-{CENSUS}" for label in COUNCILS}
    assert {r.state.type.value for r in councils.values()} == {"COMPLETED"}
    logs = api_logs([run.id])
    for label in COUNCILS:
        assert f"{label}: census date {CENSUS}, extracts in {sources / label}" in logs
    assert any(line.startswith("Validated: ") for line in logs)
    found = artifacts(run.id)
    keys = set(found)
    assert f"nis-hub-{CENSUS}" in keys
    assert {f"nis-summary-{la.lower()}-{CENSUS}" for la, _ in COUNCILS.values()} <= keys
    # Each council's validation, as nis run publishes it: rows per extract, with their hashes.
    for label, (la, _) in COUNCILS.items():
        assert f"nis-rules-{la.lower()}-{CENSUS}" in keys
        counts = table_rows(found[f"nis-extracts-{la.lower()}-{CENSUS}"])
        assert [row["extract"] for row in counts] == list(EXTRACT_NAMES)
        assert [row["sha256"] for row in counts] == [
            _sha(sources / label / f"{name}.csv")[:12] for name in EXTRACT_NAMES
        ]

    # Nothing personal reached Prefect or the terminal (the liverpool people are full of bad
    # identifiers, and warnings are logged about them).
    scanner = Scanner(
        personal_values(sources / "liverpool" / "people.csv"), run_dates(EXTRACT_DATE)
    )
    texts = {
        "api log": "\n".join(logs),
        "terminal": printed.out + printed.err,
        "names": " ".join([run.name, *councils]),
        "artifacts": "\n".join(
            f"{a.key} {a.description} {a.data}" for a in artifacts(run.id).values()
        ),
    }
    leaks = [leak for where, text in texts.items() for leak in scanner.scan_text(text, where)]
    assert not leaks, "\n".join(map(str, leaks))


def test_a_failing_council_is_named_and_the_others_are_written(
    sources: Path, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the hub's own local cluster (the default: two worker processes)."""
    mixed = tmp_path / "sources"
    for label in ("city-of-london", "hartlepool"):
        shutil.copytree(sources / label, mixed / label)
    shutil.copytree(sources / "liverpool", mixed / "broken")
    (mixed / "broken" / "people.csv").unlink()
    out = tmp_path / "out"
    code = _nis(
        "hub", "--census", CENSUS, "--sources", mixed, "--config", config, "--out", out,
        "--workers", "2",
    )  # fmt: skip
    printed = capsys.readouterr()
    assert code == 1
    errors = [line for line in printed.err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: 1 of 3 councils failed: broken (failed)"]
    assert "Traceback" not in printed.err

    [described] = [x for x in printed.out.splitlines() if x.startswith("Dask local cluster")]
    assert re.fullmatch(
        r"Dask local cluster at tcp://127\.0\.0\.1:\d+: 2 workers, 2 threads; "
        r"dashboard http://127\.0\.0\.1:\d+/status",
        described,
    ), described
    assert f"NIS hub {CENSUS}: 3 councils, 2 written or up to date, 1 failed" in printed.out
    [broken] = [x for x in printed.out.splitlines() if x.startswith("broken: ")]
    assert broken == (
        f"broken: - failed | why: [F001] {mixed.resolve() / 'broken' / 'people.csv'}: extract "
        "not found (no people.csv, people.xlsx or people.parquet in the folder)"
    )
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["E06000001", "E09000001"]
    for label in ("city-of-london", "hartlepool"):
        la = COUNCILS[label][0]
        assert (out / la / CENSUS / "manifest.json").is_file()
        assert f"\n{label}: {la} written - {out.resolve() / la / CENSUS} | " in printed.out

    [entry] = _audit(out)
    assert (entry["command"], entry["outcome"], entry["exit_code"]) == ("hub", "failed", 1)
    assert entry["counts"] == {"councils": 3, "councils_ok": 2, "councils_failed": 1}
    assert [(c["folder"], c["la_code"], c["outcome"]) for c in entry["councils"]] == [
        ("broken", None, "failed"),
        ("city-of-london", "E09000001", "written"),
        ("hartlepool", "E06000001", "written"),
    ]
    # The failed council's inputs are still recorded: the nine files its folder holds.
    broken_inputs = [i for i in entry["inputs"] if i["folder"] == "broken"]
    assert [i["extract"] for i in broken_inputs] == [
        name for name in EXTRACT_NAMES if name != "people"
    ]

    run = flow_run(UUID(entry["flow_run_id"]))
    assert run.state.type.value == "FAILED"
    assert run.state.message == "1 of 3 councils failed: broken (failed)"
    states = {name: r.state.type.value for name, r in _council_task_runs(run.id).items()}
    assert states == {
        f"council-broken-{CENSUS}": "FAILED",
        f"council-city-of-london-{CENSUS}": "COMPLETED",
        f"council-hartlepool-{CENSUS}": "COMPLETED",
    }
    # The workers' last lines reached the API before their cluster was closed: each council's
    # last line, and the failed one's reason.
    logs = api_logs([run.id])
    for label in ("city-of-london", "hartlepool"):
        la = COUNCILS[label][0]
        assert f"{CENSUS}: wrote 7 files to {out.resolve() / la / CENSUS}" in logs
    assert (
        sum(line.startswith("broken: stopped before its period ran: [F001]") for line in logs) == 1
    )


def test_workers_that_cannot_reach_the_api_get_no_council(
    sources: Path,
    cluster: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers on other machines and an API on loopback: refused once connected, exit 2, nothing
    written (the check itself, on addresses, is in tests/test_hub_plan.py)."""
    import flows.hub
    from flows.commands import hub_command

    seen: list[tuple[str, list[str]]] = []

    def remote_workers(api_url: str, workers: list[str]) -> str:
        seen.append((api_url, workers))
        return "the workers are elsewhere: set PREFECT_API_URL"

    monkeypatch.setattr(flows.hub, "unreachable_api", remote_workers)
    out = tmp_path / "out"
    assert hub_command(CENSUS, sources, None, out, 2, cluster) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines()[-1] == "error: the workers are elsewhere: set PREFECT_API_URL"
    [(api_url, workers)] = seen
    assert api_url.startswith("http://127.0.0.1:") and len(workers) == 2
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert not out.exists()


def test_the_deployment_entrypoint_runs_on_its_own_local_cluster(
    sources: Path, config: Path, single_runs: Path, tmp_path: Path
) -> None:
    """As a Prefect worker runs the nis-hub deployment: the flow loaded from its file (which puts
    flows/ on sys.path, where flows/secrets.py would shadow the standard library in the Dask
    workers, and names the module "hub", which the workers could not import), on a local cluster
    of one worker process."""
    import sys

    from prefect.flows import load_flow_from_entrypoint

    hub_flow = load_flow_from_entrypoint(f"{ROOT / 'flows' / 'hub.py'}:nis_hub")
    assert hub_flow.fn.__module__ != "flows.hub"
    assert str(ROOT / "flows") in sys.path
    one = tmp_path / "sources"
    shutil.copytree(sources / "hartlepool", one / "hartlepool")
    out = tmp_path / "out"
    state = hub_flow(
        census_date=CENSUS,
        sources_path=str(one),
        config_path=str(config),
        output_dir=str(out),
        workers=1,
        return_state=True,
    )
    assert state.type.value == "COMPLETED", state.message
    [council] = state.result().councils
    assert (council.la_code, council.outcome.value) == ("E06000001", "written")
    folder = out / "E06000001" / CENSUS
    assert _folder_bytes(folder) == _folder_bytes(single_runs / "E06000001" / CENSUS)
    assert str(ROOT / "flows") not in sys.path


def test_two_folders_of_one_council_are_neither_written(
    sources: Path, cluster: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two folders whose families are both Hartlepool's, from different extracts: both wrote to
    OUT/E06000001/2026-03-31/, and which one's submission stood (the other failing "another run
    is writing" or "made from other inputs") depended on which Dask worker came first. Neither is
    written now, both are named; a folder naming several councils holds back no other."""
    from flows.commands import hub_command

    mixed = tmp_path / "sources"
    shutil.copytree(sources / "hartlepool", mixed / "hartlepool")
    council_extracts(mixed / "hartlepool-2", "E06000001", seed=9)
    shutil.copytree(sources / "city-of-london", mixed / "city-of-london")
    # Another council's folder with one stray Hartlepool family: it fails on its own (F005).
    council_extracts(mixed / "liverpool", "E08000012", seed=3)
    families = mixed / "liverpool" / "families.csv"
    lines = families.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",E08000012,", ",E06000001,")
    families.write_text("\n".join(lines) + "\n", encoding="utf-8")

    out = tmp_path / "out"
    assert hub_command(CENSUS, mixed, None, out, 2, cluster) == 1
    printed = capsys.readouterr()
    assert printed.err.splitlines()[-1] == (
        "error: 3 of 4 councils failed: hartlepool (failed), hartlepool-2 (failed), "
        "liverpool (failed)"
    )
    lines_by_folder = {line.split(":")[0]: line for line in printed.out.splitlines()}
    for label in ("hartlepool", "hartlepool-2"):
        assert lines_by_folder[label] == (
            f"{label}: E06000001 failed | why: folders hartlepool, hartlepool-2 all hold council "
            "E06000001: none of them is written; keep one folder per council"
        )
    assert "[F005]" in lines_by_folder["liverpool"]
    assert lines_by_folder["city-of-london"].startswith("city-of-london: E09000001 written - ")
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["E09000001"]
    assert "they write the same folder" not in printed.out


def test_the_local_clusters_dashboard_is_served_on_another_port_when_dasks_is_taken() -> None:
    """The link the terminal prints answers with Dask's dashboard. With 8787 taken (by this test,
    or by another test's cluster) the dashboard takes another port, without Dask's warning about
    it, which would reach the terminal."""
    from flows.hub import DASHBOARD_PORT, cluster_info, hub_task_runner

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", DASHBOARD_PORT))
        holder.listen()
    except OSError:
        pass  # taken already, which is what the test needs
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with hub_task_runner(workers=1) as runner:
                link = cluster_info(runner.client, local=True).dashboard
                assert link is not None and re.fullmatch(r"http://127\.0\.0\.1:\d+/status", link)
                assert not link.startswith(f"http://127.0.0.1:{DASHBOARD_PORT}/")
                with urllib.request.urlopen(link, timeout=30) as page:
                    assert page.status == 200
                    assert b"Dask" in page.read()
    finally:
        holder.close()
    assert not [w for w in caught if "already in use" in str(w.message)]
