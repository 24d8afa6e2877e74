"""Nothing personal leaves a run through Prefect: on extracts full of bad identifiers, and with a
period that crashes on an exception quoting a person, no name, date of birth, NINO, UPN, NHS
number or postcode from the inputs appears in any log record (local or sent to the API), artifact,
run or task name, state message, or line printed on the terminal."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flows_support import (
    EXTRACT_DATE,
    LA,
    api_logs,
    artifacts,
    synthetic_extracts,
    task_run_names,
    write_config,
)
from privacy_support import inject_bad_identifiers, personal_values, run_dates

import transforms.submission
from flows.commands import backfill_command
from transforms.periods import Period

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

FIRST, LAST = "2025-09-30", "2026-03-31"
CRASHING = "2026-03-31"


class _Everything(logging.Handler):
    """Keeps every record with its traceback, formatted as a console would show it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _find_backfill_run(name: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert runs, f"no flow run named {name}"
    return runs[0]


def test_no_personal_data_in_logs_artifacts_names_or_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = synthetic_extracts(tmp_path / "extracts", families=50, seed=3, defects=0.05)
    inject_bad_identifiers(source / "people.csv")
    values = personal_values(source / "people.csv")
    assert len(values["name"]) > 30 and len(values["identifier"]) > 30 and len(values["dob"]) > 30
    config = write_config(tmp_path / "nis.toml", threshold=1.0)

    # One period crashes inside the transforms on an exception that quotes a person.
    real_build = transforms.submission.build_submission
    victim = sorted(values["name"])[0]
    quoted = f"{victim} {sorted(values['identifier'])[0]} {sorted(values['dob'])[0]}"

    def build_or_crash(extracts: Any, period: Period) -> Any:
        if period.label == CRASHING:
            raise ValueError(f"cannot place {quoted}")
        return real_build(extracts, period)

    monkeypatch.setattr(transforms.submission, "build_submission", build_or_crash)

    catcher = _Everything()
    for name in ("", "prefect"):
        logging.getLogger(name).addHandler(catcher)
    try:
        code = backfill_command(FIRST, LAST, source, config, tmp_path / "out", False)
    finally:
        for name in ("", "prefect"):
            logging.getLogger(name).removeHandler(catcher)
    printed = capsys.readouterr()
    assert code == 1

    run = _find_backfill_run(f"nis-backfill-{LA}-{FIRST}-to-{LAST}")
    runs = [run]
    texts: dict[str, list[str]] = {
        "local log": catcher.lines,
        "api log": api_logs([r.id for r in runs]),
        "terminal": [printed.out, printed.err],
        "run": [f"{r.name} {r.state.message} {r.parameters}" for r in runs],
        "task run": [name for r in runs for name in task_run_names(r.id)],
        "artifact": [
            f"{a.key} {a.description} {a.data}" for r in runs for a in artifacts(r.id).values()
        ],
    }
    # The run did log and publish what this test then searches (the search is not vacuous).
    crash_line = f"computing {CRASHING} failed: ValueError at test_flows_privacy.py"
    assert any(crash_line in line for line in texts["api log"])
    assert any(crash_line in line for line in texts["local log"])
    assert crash_line in printed.out
    assert any("W201" in a for a in texts["artifact"]) and any(
        "W204" in a for a in texts["artifact"]
    )
    assert len(texts["artifact"]) >= 5 and len(texts["api log"]) > 20

    allowed_dates = run_dates(EXTRACT_DATE)
    leaks: list[str] = []
    for where, lines in texts.items():
        text = "\n".join(lines)
        for value in values["name"]:
            if re.search(rf"(?<![\w']){re.escape(value)}(?![\w'])", text):
                leaks.append(f"name {value!r} in {where}")
        for value in values["dob"] - allowed_dates:
            if value in text:
                leaks.append(f"date of birth {value!r} in {where}")
        for value in values["identifier"]:
            if value in text:
                leaks.append(f"identifier {value!r} in {where}")
    assert not leaks, "\n".join(leaks)
