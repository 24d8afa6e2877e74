"""flows.compute_ahead: what the compute task takes is what was computed from exactly its frames
for its census date, once; anything else, or a computation that failed, leaves it to compute."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

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
