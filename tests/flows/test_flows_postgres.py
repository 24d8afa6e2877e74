"""``nis run`` against a real PostgreSQL server (started by the ``postgres`` fixture): the files
are byte for byte those of the run from the same extracts as CSV; a pull cut by a server restart
is retried and the run completes; the password can come from a Prefect Secret block, and never
reaches a log."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from embedded_pg import PASSWORD_ROLE, EmbeddedPostgres
from flows_support import (
    LA,
    api_logs,
    flow_run,
    nothing_written,
    state_of,
    synthetic_extracts,
    task_runs,
    write_config,
)
from pg_support import PASSWORD, admin, create_case_database, source_config

import flows.tasks
from flows.commands import run_command
from flows.results import Outcome
from flows.submission import nis_submission

pytestmark = [
    pytest.mark.prefect,
    pytest.mark.postgres,
    pytest.mark.xdist_group("prefect"),
]

CENSUS = "2025-03-31"
SAME_BYTES = (
    f"nis_{LA}_{CENSUS}_individuals.csv",
    f"nis_{LA}_{CENSUS}_fpd.csv",
    f"nis_{LA}_{CENSUS}.xlsx",
    f"statistics_{LA}_{CENSUS}.csv",
)


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("pg-flow") / "extracts", families=25, seed=7)


@pytest.fixture(scope="module")
def case_db(postgres: EmbeddedPostgres, extracts: Path) -> EmbeddedPostgres:
    create_case_database(postgres, extracts)
    return postgres


@pytest.fixture(scope="module")
def csv_run(
    prefect_harness: None, extracts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The submission written from the CSV files: what every database run must equal (under
    the test harness: a module fixture is set up before the per-test one that starts it)."""
    root = tmp_path_factory.mktemp("pg-flow-csv")
    assert run_command(CENSUS, extracts, write_config(root / "nis.toml"), root / "out") == 0
    return root / "out" / LA / CENSUS


def _config(server: EmbeddedPostgres, path: Path, **kwargs: Any) -> Path:
    # The same extract date and threshold as the CSV run's config.
    head = write_config(path).read_text(encoding="utf-8")
    return source_config(server, path, head=head, **kwargs)


def _assert_same_submission(folder: Path, csv_folder: Path) -> None:
    for name in SAME_BYTES:
        assert (folder / name).read_bytes() == (csv_folder / name).read_bytes(), name
    db, csv = (json.loads((f / "manifest.json").read_text()) for f in (folder, csv_folder))
    # The inputs' labels and hashes differ (a table, not a file); their counts do not.
    counted = ("extract", "rows_read", "quarantined", "warned")
    assert [{k: e[k] for k in counted} for e in db["input_extracts"]] == [
        {k: e[k] for k in counted} for e in csv["input_extracts"]
    ]
    assert {e["source"] for e in db["input_extracts"]} != {
        e["source"] for e in csv["input_extracts"]
    }
    same_files = [e for e in db["files"] if e["name"] in SAME_BYTES]
    assert same_files == [e for e in csv["files"] if e["name"] in SAME_BYTES]
    assert len(same_files) == len(SAME_BYTES)


def test_a_database_run_writes_the_csv_runs_files_byte_for_byte(
    case_db: EmbeddedPostgres, csv_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``nis run`` as a council runs it: a reporting login whose password is in a Prefect
    Secret block the config names. The password reaches no flow parameter, log line or file."""
    from prefect.blocks.system import Secret

    Secret(value=PASSWORD).save("nis-test-db-password", overwrite=True)
    monkeypatch.delenv("NIS_DB_PASSWORD", raising=False)
    config = _config(
        case_db,
        tmp_path / "nis.toml",
        user=PASSWORD_ROLE,
        source_lines='password_secret = "nis-test-db-password"\n',
    )
    assert PASSWORD not in config.read_text()
    out = tmp_path / "out"
    assert run_command(CENSUS, None, config, out) == 0
    folder = out / LA / CENSUS
    _assert_same_submission(folder, csv_run)

    run = _latest_flow_run()
    assert run.parameters["config_path"] == str(config)
    assert PASSWORD not in json.dumps(run.parameters) and PASSWORD not in run.name
    logs = api_logs([run.id])
    assert any("Read people from table CaseWork.EH_People" in line for line in logs)
    assert not any(PASSWORD in line for line in logs)
    written = list(folder.iterdir())
    assert len(written) == 7  # the six files of section 5 and the changes file
    assert not any(PASSWORD.encode() in p.read_bytes() for p in written)  # manifest included


def _latest_flow_run() -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)[0]


def test_a_pull_cut_by_a_server_restart_is_retried(
    case_db: EmbeddedPostgres, csv_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The families pull is in the middle of its query when the server is restarted (a fast
    shutdown ends every session, as a DBA's restart or a failover does); the pull fails with a
    lost connection, is retried once the server is back, and the run writes the same files."""
    slow = "SELECT f.* FROM eh_families f CROSS JOIN pg_sleep(1)"
    config = _config(case_db, tmp_path / "nis.toml", queries={"families": slow})
    monkeypatch.setattr(flows.tasks, "DB_RETRY_DELAYS", [0.5, 1.0, 2.0])
    restarted = threading.Event()

    def restart_mid_pull() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with admin(case_db) as connection:
                busy = connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            if busy:
                case_db.restart()
                restarted.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=restart_mid_pull, daemon=True)
    watcher.start()
    state = nis_submission(
        census_date=CENSUS,
        config_path=str(config),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    watcher.join(timeout=60)
    assert restarted.is_set(), "the families pull was never seen running"
    kind, result = state_of(state)
    assert kind == "COMPLETED", state.message
    assert result.periods[0].outcome is Outcome.WRITTEN
    runs = {r.name: r.run_count for r in task_runs(flow_run(state.state_details.flow_run_id).id)}
    pulls = {name: count for name, count in runs.items() if name.startswith("pull-")}
    assert pulls.pop("pull-families") >= 2
    assert set(pulls.values()) == {1} and len(pulls) == 9
    _assert_same_submission(tmp_path / "out" / LA / CENSUS, csv_run)


def test_a_missing_secret_block_stops_the_run_naming_it(
    case_db: EmbeddedPostgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(
        case_db,
        tmp_path / "nis.toml",
        user=PASSWORD_ROLE,
        source_lines='password_secret = "no-such-block"\n',
    )
    assert run_command(CENSUS, None, config, tmp_path / "out", False) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert err == [
        "error: the Prefect Secret block 'no-such-block' named by source.password_secret could "
        "not be loaded (ValueError): create it in the Prefect UI (Blocks, Secret) or with "
        "Secret(value=...).save('no-such-block') against the same Prefect server"
    ]
    assert nothing_written(tmp_path / "out")
