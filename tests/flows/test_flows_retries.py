"""Extract pulls from a database are retried when the database cannot be reached, and only then:
a fatal input problem fails at once, and files are never retried."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flows_support import flow_run, state_of, synthetic_extracts, task_runs, write_config

import extracts.reader
import flows.tasks
from flows.results import Outcome
from flows.submission import nis_submission
from nis_pipeline.settings import Settings
from schemas.rules import RULES, FatalInputError

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_extracts(tmp_path_factory.mktemp("retries") / "extracts", families=20, seed=4)


def _database_config(tmp_path: Path) -> Path:
    config = write_config(tmp_path / "nis.toml")
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    config.write_text(config.read_text() + f'\n[source]\nurl = "{url}"\n', encoding="utf-8")
    return config


def _pull_counts(run_id: Any) -> dict[str, int]:
    return {r.name: r.run_count for r in task_runs(run_id) if r.name.startswith("pull-")}


def test_database_pulls_retry_a_lost_connection(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 'database' serves the synthetic files; its first answer for each extract is a lost
    connection, which the pull retries."""
    read_file = extracts.reader.read_extract
    calls: Counter[str] = Counter()

    def flaky(settings: Settings, name: str, password: str | None = None) -> Any:
        assert settings.source.url is not None
        calls[name] += 1
        if calls[name] == 1:
            raise ConnectionError(f"table {name}: database unavailable (OperationalError)")
        files = settings.model_copy(
            update={"source": settings.source.model_copy(update={"url": None, "path": source})}
        )
        return read_file(files, name)

    monkeypatch.setattr(extracts.reader, "read_extract", flaky)
    monkeypatch.setattr(flows.tasks, "DB_RETRY_DELAYS", [0.0, 0.0, 0.0])
    state = nis_submission(
        census_date="2025-09-30",
        config_path=str(_database_config(tmp_path)),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    kind, result = state_of(state)
    assert kind == "COMPLETED", state.message
    assert result.periods[0].outcome is Outcome.WRITTEN
    counts = _pull_counts(flow_run(state.state_details.flow_run_id).id)
    assert len(counts) == 10 and set(counts.values()) == {2}


def test_a_fatal_database_problem_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()

    def missing_table(settings: Settings, name: str, password: str | None = None) -> Any:
        calls[name] += 1
        raise FatalInputError(RULES["F001"], f"table {name}", "table not found")

    monkeypatch.setattr(extracts.reader, "read_extract", missing_table)
    monkeypatch.setattr(flows.tasks, "DB_RETRY_DELAYS", [0.0, 0.0, 0.0])
    state = nis_submission(
        census_date="2025-09-30",
        config_path=str(_database_config(tmp_path)),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    kind, result = state_of(state)
    assert kind == "FAILED" and result.exit_code == 2
    assert result.fatal == "[F001] table families: extract file not found (table not found)"
    assert calls == {"families": 1}
    assert not (tmp_path / "out").exists()


def test_file_pulls_have_no_retries(source: Path, tmp_path: Path) -> None:
    state = nis_submission(
        census_date="2025-09-30",
        config_path=str(write_config(tmp_path / "nis.toml")),
        source_path=str(source),
        output_dir=str(tmp_path / "out"),
        return_state=True,
    )
    assert state.is_completed()
    assert flows.tasks.pull_extract.retries == 0
    assert set(_pull_counts(flow_run(state.state_details.flow_run_id).id).values()) == {1}
