"""flows.compute_ahead: what the compute task takes is what was computed from exactly its frames
for its census date, once; anything else, or a computation that failed, leaves it to compute."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from exports.manifest import MANIFEST_NAME
from exports.priority import BACKGROUND_NICENESS
from flows import submission
from flows.compute_ahead import computed_ahead, drop_computed_ahead, start_computing
from transforms.periods import Period

MARCH, SEPTEMBER = Period.of("2026-03-31"), Period.of("2025-09-30")


@pytest.fixture(autouse=True)
def _nothing_left() -> Iterator[None]:
    yield
    drop_computed_ahead()


def _clean() -> dict[str, pd.DataFrame]:
    return {"families": pd.DataFrame({"family_id": ["F1", "F2"]})}


def test_taken_once_for_the_same_frames_and_census_date() -> None:
    clean = _clean()
    start_computing(
        clean, MARCH, lambda frames, period: ("tables", len(frames["families"]), period)
    )
    assert computed_ahead(clean, MARCH) == ("tables", 2, MARCH)
    assert computed_ahead(clean, MARCH) is None  # taken: the next caller computes


@pytest.mark.parametrize("other", ["frames", "census"])
def test_not_taken_for_other_frames_or_another_census_date(other: str) -> None:
    clean = _clean()
    start_computing(clean, MARCH, lambda frames, period: "tables")
    if other == "frames":  # equal frames, but not the very ones: nothing says they stay equal
        assert computed_ahead(_clean(), MARCH) is None
    else:
        assert computed_ahead(clean, SEPTEMBER) is None
    assert computed_ahead(clean, MARCH) == "tables"  # still there for its own period


def test_a_computation_that_failed_is_left_to_the_caller() -> None:
    clean = _clean()

    def broken(frames: object, period: object) -> object:
        raise KeyError("a column the transform needs")

    start_computing(clean, MARCH, broken)
    assert computed_ahead(clean, MARCH) is None


def test_a_newer_start_replaces_one_not_taken() -> None:
    clean = _clean()
    start_computing(clean, SEPTEMBER, lambda frames, period: "september")
    start_computing(clean, MARCH, lambda frames, period: "march")
    assert computed_ahead(clean, SEPTEMBER) is None
    assert computed_ahead(clean, MARCH) == "march"


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="priorities are Linux only")
@pytest.mark.parametrize("background", [True, False])
def test_only_a_backfills_next_period_is_computed_at_a_lower_priority(background: bool) -> None:
    # The next period of a backfill waits for the one being written; the period a run is about
    # to compute is the run's longest chain and keeps the priority of the thread that asked.
    clean = _clean()
    asking = _niceness()
    start_computing(clean, MARCH, lambda frames, period: _niceness(), background=background)
    seen = computed_ahead(clean, MARCH)
    if background:
        assert seen == min(asking + BACKGROUND_NICENESS, 19)
    else:
        assert seen == asking


def _prepared(out: Path, clean: dict[str, pd.DataFrame], share: float) -> Any:
    return SimpleNamespace(
        la_code="E08000012",
        settings=SimpleNamespace(output_dir=str(out)),
        validation=SimpleNamespace(clean=clean),
        threshold_exceeded=share > 0.05,
    )


def test_a_run_computes_its_period_ahead_once_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Period]] = []

    def tables(frames: object, period: Period) -> str:
        calls.append((threading.current_thread().name, period))
        return "tables"

    monkeypatch.setattr(submission, "period_tables", tables)
    clean = _clean()
    submission.compute_first_ahead(_prepared(tmp_path, clean, 0.0), MARCH)
    assert computed_ahead(clean, MARCH) == "tables"
    assert calls == [("nis-compute-ahead", MARCH)]


@pytest.mark.parametrize("why", ["quarantine above the threshold", "a finished submission"])
def test_no_period_is_computed_ahead_that_may_not_be_computed(
    why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Period] = []
    monkeypatch.setattr(submission, "period_tables", lambda frames, period: calls.append(period))
    clean = _clean()
    share = 0.0
    if why == "a finished submission":  # it may be up to date, and is then not computed at all
        folder = tmp_path / "E08000012" / MARCH.label
        folder.mkdir(parents=True)
        (folder / MANIFEST_NAME).write_text('{"contract_version": 2}', encoding="utf-8")
    else:
        share = 0.2
    submission.compute_first_ahead(_prepared(tmp_path, clean, share), MARCH)
    assert computed_ahead(clean, MARCH) is None
    assert calls == []
