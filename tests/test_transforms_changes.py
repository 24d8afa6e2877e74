"""The changes since the previous submission (spec section 6), on hand-made individuals tables
with hand-worked expectations, and properties over random ones."""

from __future__ import annotations

from datetime import date
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from exports_builders import individual, random_tables, typed_frame
from hypothesis import given, settings

from schemas.outputs import CHANGE_KINDS, CHANGES_COLUMNS, ChangesRecord, IndividualsRecord
from transforms.changes import ChangesInputError, change_counts, changes_since, no_changes

PREVIOUS_CENSUS = date(2025, 3, 31)


def table(*rows: dict[str, Any]) -> pd.DataFrame:
    return typed_frame(IndividualsRecord, list(rows))


def expected(*rows: tuple[str, str, str, str | None, str | None, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=CHANGES_COLUMNS, dtype=object)
    return frame.astype("str") if len(rows) else no_changes()


def check(result: pd.DataFrame, *rows: tuple[str, str, str, str | None, str | None, str | None]):
    ChangesRecord.validate(result)
    pd.testing.assert_frame_equal(result, expected(*rows))


def test_each_kind_of_change() -> None:
    previous = table(
        individual("F1", "P1"),
        individual("F1", "P2"),
        individual("F1", "P4"),
        individual("F1", "P5", intervention_status="ATTACHED"),
        individual("F1", "P6", role="CHILD"),
        individual("F1", "P7", p_health=0, p_education=1),
        individual("F1", "P8", nino=None, upn="B801200005001", postcode="L1 8JQ", dob="2012-05-01"),
        individual("F1", "P9", date_identified="2023-01-10"),
    )
    current = table(
        individual("F1", "P1"),
        individual("F2", "P3"),
        individual("F3", "P4"),
        individual("F1", "P5", intervention_status="CLOSED"),
        individual("F1", "P6", role="OTHER"),
        individual("F1", "P7", p_health=1, p_education=0),
        individual("F1", "P8", nino="AB123456C", upn=None, postcode="L2 2AA", dob="2012-06-01"),
        individual("F1", "P9", date_identified="2023-01-11"),
    )
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F1", "P2", "LEFT", None, None, None),
        ("F1", "P5", "STATUS", "intervention_status", "ATTACHED", "CLOSED"),
        ("F1", "P6", "ROLE", "role", "CHILD", "OTHER"),
        ("F1", "P7", "PROBLEM_ADDED", "p_health", "0", "1"),
        ("F1", "P7", "PROBLEM_REMOVED", "p_education", "1", "0"),
        ("F1", "P8", "IDENTIFIER_ADDED", "nino", None, None),
        ("F1", "P8", "IDENTIFIER_CHANGED", "dob", None, None),
        ("F1", "P8", "IDENTIFIER_CHANGED", "postcode", None, None),
        ("F1", "P8", "IDENTIFIER_REMOVED", "upn", None, None),
        ("F1", "P9", "DATE_REVISED", "date_identified", None, None),
        ("F2", "P3", "JOINED", None, None, None),
        ("F3", "P4", "FAMILY", "family_id", "F1", "F3"),
    )


def test_support_dates_revised_on_or_before_the_previous_census_versus_new_after_it() -> None:
    # The previous file writes a support date only when it is on or before 2025-03-31.
    was = {"date_support_started": None, "date_support_ended": None}
    previous = table(
        individual("F1", "A", **was),  # support starts in the new period: progress
        individual("F1", "B", **was),  # a start on or before the previous census appears
        individual("F1", "B2", **was),  # ... on the previous census date itself
        individual("F1", "C", date_support_started="2025-01-15"),  # edited to another date
        individual("F1", "D", date_support_started="2025-01-15", date_support_ended="2025-02-01"),
        individual("F1", "E", date_support_started="2025-01-15"),  # moved after the census
        individual("F1", "F", date_support_started="2025-01-15"),  # unchanged
        individual("F1", "G", date_support_started="2025-01-15", date_support_ended=None),
    )
    current = table(
        individual("F1", "A", date_support_started="2025-05-01", date_support_ended=None),
        individual("F1", "B", date_support_started="2025-02-01", date_support_ended=None),
        individual("F1", "B2", date_support_started="2025-03-31", date_support_ended=None),
        individual("F1", "C", date_support_started="2025-01-20"),
        individual("F1", "D", date_support_started="2025-01-15", date_support_ended=None),
        individual("F1", "E", date_support_started="2025-06-01"),
        individual("F1", "F", date_support_started="2025-01-15"),
        individual("F1", "G", date_support_started="2025-01-15", date_support_ended="2025-09-01"),
    )
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F1", "B", "DATE_REVISED", "date_support_started", None, None),
        ("F1", "B2", "DATE_REVISED", "date_support_started", None, None),
        ("F1", "C", "DATE_REVISED", "date_support_started", None, None),
        ("F1", "D", "DATE_REVISED", "date_support_ended", None, None),
        ("F1", "E", "DATE_REVISED", "date_support_started", None, None),
    )


def test_a_person_who_moves_family_is_compared_with_their_previous_family_row() -> None:
    previous = table(
        individual(
            "F1",
            "P1",
            intervention_status="ATTACHED",
            date_identified="2023-01-10",
            date_support_started="2023-02-01",
            p_education=1,
            p_health=0,
        ),
        individual("F2", "P2", intervention_status="IDENTIFIED", date_support_started=None),
    )
    current = table(
        # P1 now lives in F2, a comparison-group family identified later.
        individual(
            "F2",
            "P1",
            intervention_status="IDENTIFIED",
            date_identified="2025-05-01",
            date_support_started=None,
            p_education=0,
            p_health=1,
        ),
        individual("F2", "P2", intervention_status="IDENTIFIED", date_support_started=None),
    )
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F2", "P1", "DATE_REVISED", "date_identified", None, None),
        ("F2", "P1", "DATE_REVISED", "date_support_started", None, None),
        ("F2", "P1", "FAMILY", "family_id", "F1", "F2"),
        ("F2", "P1", "PROBLEM_ADDED", "p_health", "0", "1"),
        ("F2", "P1", "PROBLEM_REMOVED", "p_education", "1", "0"),
        ("F2", "P1", "STATUS", "intervention_status", "ATTACHED", "IDENTIFIED"),
    )


def test_a_mover_into_a_family_with_the_same_values_gets_only_a_family_row() -> None:
    previous = table(individual("F9", "P1"))
    current = table(individual("F10", "P1"))
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F10", "P1", "FAMILY", "family_id", "F9", "F10"),
    )


def test_an_empty_previous_cohort_makes_everyone_joined() -> None:
    current = table(individual("F2", "P2"), individual("F1", "P9"), individual("F1", "P10"))
    result = changes_since(table(), current, PREVIOUS_CENSUS)
    check(
        result,
        ("F1", "P10", "JOINED", None, None, None),
        ("F1", "P9", "JOINED", None, None, None),
        ("F2", "P2", "JOINED", None, None, None),
    )
    assert change_counts(result) == {k: 3 if k == "JOINED" else 0 for k in CHANGE_KINDS}


def test_an_empty_current_cohort_makes_everyone_left() -> None:
    previous = table(individual("F1", "P1"), individual("F2", "P2"))
    check(
        changes_since(previous, table(), PREVIOUS_CENSUS),
        ("F1", "P1", "LEFT", None, None, None),
        ("F2", "P2", "LEFT", None, None, None),
    )


def test_a_left_person_is_listed_under_their_previous_family() -> None:
    previous = table(individual("F7", "P1"), individual("F1", "P2"))
    current = table(individual("F1", "P2"))
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F7", "P1", "LEFT", None, None, None),
    )


def test_values_compare_as_the_csv_holds_them() -> None:
    # A CSV cannot tell an empty text from a missing one, and writes "\r\n" as "\n".
    previous = table(individual("F1", "P1", forename="", surname="Ann\nLee", postcode=None))
    current = table(individual("F1", "P1", forename=None, surname="Ann\r\nLee", postcode=""))
    check(changes_since(previous, current, PREVIOUS_CENSUS))


def test_dates_compare_as_days() -> None:
    # Section 6 compares what the files hold, and the files hold days: a time of day that a
    # table built elsewhere carries is not a change.
    previous = table(individual("F1", "P1", dob="2012-05-01", date_identified="2023-01-10"))
    current = table(
        individual("F1", "P1", dob="2012-05-01 13:45", date_identified="2023-01-10 08:00")
    )
    assert current.loc[0, "dob"] != previous.loc[0, "dob"]  # the tables do differ
    check(changes_since(previous, current, PREVIOUS_CENSUS))


def test_gender_not_recorded_to_a_code_is_a_changed_identifier() -> None:
    # "0" (not recorded) is a code, not an empty value.
    previous = table(individual("F1", "P1", gender="0"))
    current = table(individual("F1", "P1", gender="2"))
    check(
        changes_since(previous, current, PREVIOUS_CENSUS),
        ("F1", "P1", "IDENTIFIER_CHANGED", "gender", None, None),
    )


def test_a_repeated_person_is_refused_without_naming_them() -> None:
    twice = table(individual("F1", "P1", forename="Zed"), individual("F2", "P1"))
    with pytest.raises(ChangesInputError, match="previous individuals table") as error:
        changes_since(twice, table(individual("F1", "P1")), PREVIOUS_CENSUS)
    assert "P1" not in str(error.value) and "Zed" not in str(error.value)
    with pytest.raises(ChangesInputError, match="current individuals table"):
        changes_since(table(individual("F1", "P1")), twice, PREVIOUS_CENSUS)


def test_a_table_without_a_compared_column_is_refused() -> None:
    with pytest.raises(ChangesInputError, match="nino"):
        changes_since(table().drop(columns="nino"), table(), PREVIOUS_CENSUS)


def _pair(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two random individuals tables that differ in many ways at once."""
    rng = np.random.default_rng(seed)
    previous = random_tables(120, seed=seed).individuals
    current = random_tables(120, seed=seed + 1).individuals
    # Mostly the same people: drop some on each side.
    previous = previous[rng.random(len(previous)) < 0.9].reset_index(drop=True)
    current = current[rng.random(len(current)) < 0.9].reset_index(drop=True)
    blank = rng.random(len(current)) < 0.2
    current["nino"] = current["nino"].mask(~blank, "AB123456C")
    previous["date_support_started"] = previous["date_support_started"].mask(
        rng.random(len(previous)) < 0.3
    )
    return previous, current


def test_the_same_tables_in_another_row_order_give_the_same_rows() -> None:
    previous, current = _pair(4)
    first = changes_since(previous, current, PREVIOUS_CENSUS)
    assert set(first["change"]) >= {"JOINED", "LEFT", "FAMILY", "STATUS", "IDENTIFIER_ADDED"}
    rng = np.random.default_rng(9)
    mixed = changes_since(
        previous.iloc[rng.permutation(len(previous))].set_axis(pd.RangeIndex(len(previous)) + 7),
        current.iloc[rng.permutation(len(current))],
        PREVIOUS_CENSUS,
    )
    pd.testing.assert_frame_equal(first, mixed)
    keys = list(first[["family_id", "person_id", "change"]].itertuples(index=False, name=None))
    assert keys == sorted(keys)


def test_inputs_are_not_changed() -> None:
    previous, current = _pair(5)
    before = (previous.copy(), current.copy())
    changes_since(previous, current, PREVIOUS_CENSUS)
    pd.testing.assert_frame_equal(previous, before[0])
    pd.testing.assert_frame_equal(current, before[1])


# --- properties over random tables ---

_ids = st.sampled_from([f"P{i}" for i in range(12)])
_person = st.fixed_dictionaries(
    {
        "family_id": st.sampled_from(["F1", "F2", "F10"]),
        "role": st.sampled_from(["CHILD", "MAIN_CARER"]),
        "intervention_status": st.sampled_from(["ATTACHED", "CLOSED", "IDENTIFIED"]),
        "nino": st.sampled_from([None, "AB123456C", "AB123456D"]),
        "postcode": st.sampled_from([None, "", "L1 8JQ"]),
        "dob": st.sampled_from([None, "2010-01-01", "2011-02-03"]),
        "date_identified": st.sampled_from(["2024-01-01", "2025-03-31", "2025-06-01"]),
        "date_support_started": st.sampled_from([None, "2025-03-31", "2025-04-01"]),
        "p_health": st.integers(0, 1),
        "p_crime_asb": st.integers(0, 1),
    }
)
_cohort = st.dictionaries(_ids, _person, max_size=12)


def _table(cohort: dict[str, dict[str, Any]]) -> pd.DataFrame:
    return table(
        *(
            individual(
                values["family_id"], pid, **{k: v for k, v in values.items() if k != "family_id"}
            )
            for pid, values in cohort.items()
        )
    )


@settings(max_examples=30, deadline=None)
@given(_cohort)
def test_a_table_compared_with_itself_has_no_changes(cohort: dict[str, dict[str, Any]]) -> None:
    frame = _table(cohort)
    assert changes_since(frame, frame.iloc[::-1], PREVIOUS_CENSUS).empty


@settings(max_examples=50, deadline=None)
@given(_cohort, _cohort)
def test_joined_and_left_are_the_set_differences(
    before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]
) -> None:
    result = changes_since(_table(before), _table(now), PREVIOUS_CENSUS)
    ChangesRecord.validate(result)
    kinds = result.groupby("change")["person_id"].apply(set).to_dict()
    assert kinds.get("JOINED", set()) == set(now) - set(before)
    assert kinds.get("LEFT", set()) == set(before) - set(now)
    # Everyone else who has a row is in both cohorts; a JOINED or LEFT person has that row only.
    stayed = set(before) & set(now)
    others = result[~result["change"].isin(["JOINED", "LEFT"])]
    assert set(others["person_id"]) <= stayed
    assert not result["person_id"].duplicated().loc[result["change"].isin(["JOINED", "LEFT"])].any()
    counts = change_counts(result)
    assert list(counts) == list(CHANGE_KINDS)
    assert sum(counts.values()) == len(result)
    # A family row for each stayer whose family differs, and only for them.
    moved = {p for p in stayed if before[p]["family_id"] != now[p]["family_id"]}
    assert kinds.get("FAMILY", set()) == moved


@settings(max_examples=30, deadline=None)
@given(_cohort, _cohort)
def test_swapping_the_tables_swaps_the_directions(
    before: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]
) -> None:
    forward = changes_since(_table(before), _table(now), PREVIOUS_CENSUS)
    backward = changes_since(_table(now), _table(before), PREVIOUS_CENSUS)
    swap = {
        "JOINED": "LEFT",
        "LEFT": "JOINED",
        "PROBLEM_ADDED": "PROBLEM_REMOVED",
        "PROBLEM_REMOVED": "PROBLEM_ADDED",
        "IDENTIFIER_ADDED": "IDENTIFIER_REMOVED",
        "IDENTIFIER_REMOVED": "IDENTIFIER_ADDED",
    }

    def keyed(frame: pd.DataFrame, flip: bool) -> set[tuple[Any, ...]]:
        rows = frame[frame["change"] != "DATE_REVISED"]  # not symmetric: it looks at one census
        out = set()
        for person, change, field, prev, cur in rows[
            ["person_id", "change", "field", "previous", "current"]
        ].itertuples(index=False, name=None):
            if flip:
                change, prev, cur = swap.get(change, change), cur, prev
            out.add((person, change, str(field), str(prev), str(cur)))
        return out

    assert keyed(forward, flip=False) == keyed(backward, flip=True)
