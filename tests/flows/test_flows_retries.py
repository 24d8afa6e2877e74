"""Extract pulls from a database are retried when the database cannot be reached, and only then:
a fatal input problem fails at once, and files are never retried.

The database is a real SQLite file holding the synthetic extracts. A lost connection is made
where a real one happens: the driver's connect call raises ``sqlite3.OperationalError`` for the
first N attempts (a SQLAlchemy ``do_connect`` hook, for this database file only), so the reader's
own translation to ``ConnectionError`` and the pull's retry condition are both exercised."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flows_support import (
    LA,
    flow_run,
    nothing_written,
    state_of,
    synthetic_extracts,
    task_runs,
    write_config,
)

import extracts.reader
import flows.tasks
from flows.results import Outcome
from flows.submission import nis_submission
from schemas.models import EXTRACT_NAMES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

CENSUS = "2025-09-30"
ATTEMPTS = 1 + flows.tasks.DB_RETRIES  # the first try and every retry


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("retries") / "extracts", families=20, seed=4)


@pytest.fixture(scope="module")
def database(source: Path) -> Path:
    """A SQLite database with one text table per extract, as the synthetic files hold them."""
    path = source.parent / "cases.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for name in EXTRACT_NAMES:
            frame = pd.read_csv(
                source / f"{name}.csv", dtype="str", keep_default_na=False, na_values=[""]
            )
            frame.to_sql(name, connection, index=False)
    engine.dispose()
    return path


class Outage:
    """The database at ``path`` refuses its first ``failures`` connection attempts, as one that
    is restarting would; ``attempts`` counts every attempt to connect to it."""

    def __init__(self, path: Path, failures: int) -> None:
        self.path = str(path)
        self.failures = failures
        self.attempts = 0

    def __call__(self, dialect: Any, record: Any, cargs: list[Any], cparams: Any) -> None:
        if not cargs or str(cargs[0]) != self.path:
            return None  # another database: connect as usual
        self.attempts += 1
        if self.attempts <= self.failures:
            raise sqlite3.OperationalError("unable to open database file")
        return None  # connect as usual


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Install an :class:`Outage` (retry delays cut to 0) and remove it after the test."""
    monkeypatch.setattr(flows.tasks, "DB_RETRY_DELAYS", [0.0] * flows.tasks.DB_RETRIES)
    installed: list[Outage] = []

    def install(path: Path, failures: int) -> Outage:
        hook = Outage(path, failures)
        sa.event.listen(sa.engine.Engine, "do_connect", hook)
        installed.append(hook)
        return hook

    yield install
    for hook in installed:
        sa.event.remove(sa.engine.Engine, "do_connect", hook)


def _database_config(tmp_path: Path, database: Path) -> Path:
    config = write_config(tmp_path / "nis.toml")
    url = f"sqlite:///{database}"
    config.write_text(config.read_text() + f'\n[source]\nurl = "{url}"\n', encoding="utf-8")
    return config


def _run(config: Path, out: Path, **kwargs: Any) -> Any:
    return nis_submission(
        census_date=CENSUS,
        config_path=str(config),
        output_dir=str(out),
        return_state=True,
        **kwargs,
    )


def _pull_counts(state: Any) -> dict[str, int]:
    """Prefect's run count of each pull task of the run: 1 + the retries it took."""
    runs = task_runs(flow_run(state.state_details.flow_run_id).id)
    return {r.name.removeprefix("pull-"): r.run_count for r in runs if r.name.startswith("pull-")}


def test_a_lost_connection_is_retried_until_the_database_answers(
    database: Path, tmp_path: Path, outage: Any
) -> None:
    """Down for the first three attempts: the families pull succeeds on its last retry, and the
    other nine, with the database back, each need one attempt."""
    down = outage(database, failures=ATTEMPTS - 1)
    state = _run(_database_config(tmp_path, database), tmp_path / "out")

    kind, result = state_of(state)
    assert kind == "COMPLETED", state.message
    assert result.periods[0].outcome is Outcome.WRITTEN
    assert down.attempts == (ATTEMPTS - 1) + len(EXTRACT_NAMES)
    assert _pull_counts(state) == {name: 1 for name in EXTRACT_NAMES} | {"families": ATTEMPTS}
    individuals = tmp_path / "out" / LA / CENSUS / f"nis_{LA}_{CENSUS}_individuals.csv"
    assert len(individuals.read_text(encoding="utf-8").splitlines()) > 20


def test_a_database_down_for_longer_than_the_retries_stops_the_run(
    database: Path, tmp_path: Path, outage: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    down = outage(database, failures=ATTEMPTS)
    state = _run(_database_config(tmp_path, database), tmp_path / "out")
    # Each retry is said on the terminal as it is made (the delays are 0 in these tests).
    waiting = [line for line in capsys.readouterr().err.splitlines() if line.startswith("waiting")]
    assert waiting == [
        f"waiting: families: the database does not answer; trying again in 0 s (retry {n} of 3)"
        for n in (1, 2, 3)
    ]

    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 1
    assert str(error) == (
        "the extracts could not be read: table families: database unavailable or connection lost "
        "(OperationalError)"
    )
    assert state.message == str(error)
    assert down.attempts == ATTEMPTS  # no attempt after the last retry
    assert _pull_counts(state) == {"families": ATTEMPTS}
    assert nothing_written(tmp_path / "out")


def test_a_database_down_for_longer_than_the_retries_stops_a_backfill_the_same_way(
    database: Path, tmp_path: Path, outage: Any
) -> None:
    """The backfill flow reads once for all its periods: the same one message and exit code, no
    traceback, nothing written."""
    from flows.backfill import nis_backfill

    outage(database, failures=ATTEMPTS)
    state = nis_backfill(
        from_census="2024-09-30",
        to_census=CENSUS,
        config_path=str(_database_config(tmp_path, database)),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 1
    assert str(error) == (
        "the extracts could not be read: table families: database unavailable or connection lost "
        "(OperationalError)"
    )
    assert nothing_written(tmp_path / "out")


def test_a_missing_table_is_fatal_and_not_retried(tmp_path: Path, outage: Any) -> None:
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()  # a database with no tables
    counted = outage(empty, failures=0)
    state = _run(_database_config(tmp_path, empty), tmp_path / "out")

    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 2
    assert str(error) == (
        "[F001] table families: extract not found (the database has no such table)"
    )
    assert counted.attempts == 1
    assert _pull_counts(state) == {"families": 1}
    assert nothing_written(tmp_path / "out")


def test_a_broken_database_file_is_fatal_and_not_retried(tmp_path: Path, outage: Any) -> None:
    """The driver fails with an error that is not about the connection: no retry."""
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a SQLite database file, whatever its name says" * 20)
    counted = outage(broken, failures=0)
    state = _run(_database_config(tmp_path, broken), tmp_path / "out")

    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 2
    assert str(error).startswith("[F002] table families")
    assert counted.attempts == 1
    assert _pull_counts(state) == {"families": 1}


def test_file_pulls_are_never_retried(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a connection error while reading a file (a network share dropping) is not retried:
    retries belong to database pulls only."""
    monkeypatch.setattr(flows.tasks, "DB_RETRY_DELAYS", [0.0] * flows.tasks.DB_RETRIES)
    real_read = extracts.reader._read_file_extract
    calls: Counter[str] = Counter()

    def share_drops_once(folder: Path, name: str) -> Any:
        calls[name] += 1
        if name == "people" and calls[name] == 1:
            raise ConnectionResetError("network share went away")
        return real_read(folder, name)

    monkeypatch.setattr(extracts.reader, "_read_file_extract", share_drops_once)
    state = _run(write_config(tmp_path / "nis.toml"), tmp_path / "out", source_path=str(source))

    kind, error = state_of(state)
    assert kind == "FAILED" and error.exit_code == 1
    assert str(error) == "the extracts could not be read: network share went away"
    assert calls == {"families": 1, "people": 1}
    assert _pull_counts(state) == {"families": 1, "people": 1}
    assert flows.tasks.pull_extract.retries == 0
