"""Rule E102's check (schemas.checks.duplicate_key) against pandas: a row is a duplicate when its
whole key occurs more than once among the rows whose required key parts are all present
(``DataFrame.duplicated(keep=False)``); missing is a value of its own in a nullable part."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas.checks
from schemas.checks import CheckContext, Target, duplicate_key
from schemas.parsing import ParsedExtract

_IDS = st.sampled_from(["F1", "F2", "F10", "É1", None])
_PEOPLE = st.sampled_from(["P1", "P2", "p1", None])
_PROBLEMS = st.sampled_from(["CRIME", "HEALTH", None])
_DAYS = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 4)))


def _context(frames: dict[str, pd.DataFrame]) -> CheckContext:
    return CheckContext(
        parsed={n: ParsedExtract(f) for n, f in frames.items()}, extract_date=dt.date(2026, 1, 1)
    )


def _pandas(frame: pd.DataFrame, key: list[str], required: list[str]) -> np.ndarray:
    complete = frame[required].notna().all(axis=1)
    duplicated = frame.loc[complete, key].duplicated(keep=False)
    return complete.to_numpy() & duplicated.reindex(frame.index, fill_value=False).to_numpy()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_IDS, _PROBLEMS, _PEOPLE), max_size=40),
    limit=st.sampled_from([2**62, 8]),
)
def test_three_part_key_with_a_nullable_part(
    rows: list[tuple[str | None, ...]], limit: int
) -> None:
    # A tiny limit makes the combined key renumbered between parts, as a key of many wide
    # parts would be.
    with mock.patch.object(schemas.checks, "_COMBINED_LIMIT", limit):
        _check_three_part_key(rows)


def _check_three_part_key(rows: list[tuple[str | None, ...]]) -> None:
    frame = pd.DataFrame(rows, columns=["family_id", "problem", "person_id"], dtype="str")
    key = ["family_id", "problem", "person_id"]
    found = duplicate_key(
        _context({"eligibility": frame}), Target("eligibility", key[0], tuple(key))
    )
    # person_id may be missing (a family's problem): it is then a value of its own.
    assert np.array_equal(found, _pandas(frame, key, ["family_id", "problem"]))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(_PEOPLE, _DAYS), max_size=40))
def test_a_key_with_a_date(rows: list[tuple[object, ...]]) -> None:
    frame = pd.DataFrame(
        {
            "person_id": pd.Series([r[0] for r in rows], dtype="str"),
            "term_start": pd.to_datetime(pd.Series([r[1] for r in rows], dtype="object")),
        }
    )
    key = ["person_id", "term_start"]
    target = Target("school_attendance", key[0], tuple(key))
    found = duplicate_key(_context({"school_attendance": frame}), target)
    assert np.array_equal(found, _pandas(frame, key, key))


def test_hand_worked() -> None:
    frame = pd.DataFrame(
        {
            "family_id": ["F1", "F1", "F1", "F2", "F2", None, None],
            "problem": ["CRIME", "CRIME", "CRIME", "CRIME", "HEALTH", "CRIME", "CRIME"],
            "person_id": ["P1", "P1", None, None, None, "P1", "P1"],
        },
        dtype="str",
    )
    target = Target("eligibility", "family_id", ("family_id", "problem", "person_id"))
    found = duplicate_key(_context({"eligibility": frame}), target)
    # Rows 0 and 1 share their key; the rows without a family are E101's, never duplicates.
    assert found.tolist() == [True, True, False, False, False, False, False]
