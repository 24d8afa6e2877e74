"""Hand-worked cases for every FPD measure (spec section 3), census date C = 2025-09-30, period
P = 2025-04-01 .. 2025-09-30 unless a test says otherwise."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from transforms_builders import LA, extracts, family, person

from schemas.outputs import FPD_COLUMNS, FpdRecord
from transforms.age import age_in_years
from transforms.attendance import half_up_tenths
from transforms.fpd import compute_fpd
from transforms.periods import Period

C = date(2025, 9, 30)
P = Period(C)


def fpd(census: date = C, **tables: list[dict[str, Any]]) -> pd.DataFrame:
    result = compute_fpd(extracts(**tables), Period(census))
    FpdRecord.validate(result)
    return result.set_index("person_id")


def _value(value: Any) -> Any:
    return None if pd.isna(value) else value


def people(*ids: str, **values: Any) -> list[dict[str, Any]]:
    return [person(i, **values) for i in ids]


# --- events ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extract", "column", "measure"),
    [
        ("offences", "offence_date", "proven_offences"),
        ("asb_incidents", "incident_date", "asb_incidents"),
    ],
)
def test_event_counts_at_period_boundaries(extract: str, column: str, measure: str) -> None:
    dates = {
        "P1": ["2025-04-01", "2025-09-30", "2025-06-15", "2025-06-15"],  # two on one day: two
        "P2": ["2025-03-31", "2025-10-01"],  # the day before and the day after: none
    }
    rows = [{"person_id": p, column: d} for p, ds in dates.items() for d in ds]
    result = fpd(people=people("P1", "P2", "P3"), **{extract: rows})
    assert result[measure].to_dict() == {"P1": 4, "P2": 0, "P3": 0}


def test_domestic_abuse_counts() -> None:
    da = [
        {"family_id": "F1", "person_id": "P1", "incident_date": "2025-04-01"},
        {"family_id": "F1", "person_id": "P1", "incident_date": "2025-09-30"},
        {"family_id": "F1", "person_id": None, "incident_date": "2025-05-05"},
        {"family_id": "F1", "person_id": "P2", "incident_date": "2025-05-05"},
        {"family_id": "F1", "person_id": "P1", "incident_date": "2025-03-31"},  # before P
        # recorded under another family, naming P1: counts for P1, not for F1
        {"family_id": "F2", "person_id": "P1", "incident_date": "2025-07-07"},
        {"family_id": "F2", "person_id": None, "incident_date": "2025-07-07"},
    ]
    result = fpd(
        families=[family("F1"), family("F2")],
        people=[person("P1"), person("P2"), person("P3", "F2")],
        domestic_abuse_incidents=da,
    )
    assert result["da_incidents"].to_dict() == {"P1": 3, "P2": 1, "P3": 0}
    assert result["family_da_incidents"].to_dict() == {"P1": 4, "P2": 4, "P3": 2}


def test_exclusions() -> None:
    rows = [
        {"person_id": "P1", "start_date": "2025-04-01", "exclusion_type": "SUSPENSION"},
        {"person_id": "P1", "start_date": "2025-09-30", "exclusion_type": "SUSPENSION"},
        {"person_id": "P1", "start_date": "2025-03-31", "exclusion_type": "SUSPENSION"},
        {"person_id": "P2", "start_date": "2025-09-30", "exclusion_type": "PERMANENT"},
        {"person_id": "P3", "start_date": "2025-03-31", "exclusion_type": "PERMANENT"},
        {"person_id": "P3", "start_date": "2025-10-01", "exclusion_type": "PERMANENT"},
    ]
    result = fpd(people=people("P1", "P2", "P3"), exclusions=rows)
    assert result["suspensions"].to_dict() == {"P1": 2, "P2": 0, "P3": 0}
    assert result["permanent_exclusion"].to_dict() == {"P1": 0, "P2": 1, "P3": 0}


# --- attendance ------------------------------------------------------------------------------


def _term(pid: str, start: str, end: str, possible: int, auth: int, unauth: int) -> dict:
    return {
        "person_id": pid,
        "term_start": start,
        "term_end": end,
        "possible_sessions": possible,
        "authorised_absence_sessions": auth,
        "unauthorised_absence_sessions": unauth,
    }


def test_attendance_over_terms_ending_in_the_period() -> None:
    rows = [
        _term("P1", "2025-01-06", "2025-03-31", 100, 50, 50),  # ends the day before P: out
        _term("P1", "2025-03-01", "2025-04-01", 200, 10, 5),  # straddles, ends on day 1: in
        _term("P1", "2025-09-01", "2025-09-30", 200, 0, 0),  # ends on C: in
        _term("P1", "2025-09-01", "2025-10-20", 100, 100, 0),  # ends after C: out
    ]
    result = fpd(people=people("P1"), school_attendance=rows)
    # 400 possible, 10 authorised, 5 unauthorised: 385/400 = 96.25 -> 96.3; 5/400 = 1.25 -> 1.3
    assert result.loc["P1", "attendance_pct"] == 96.3
    assert result.loc["P1", "unauthorised_absence_pct"] == 1.3
    assert result.loc["P1", "persistent_absence"] == 0


@pytest.mark.parametrize(
    ("possible", "auth", "unauth", "attendance", "unauthorised", "persistent"),
    [
        (400, 21, 10, 92.3, 2.5, 0),  # 369/400 = 92.25 -> 92.3 (half up, not to even)
        (2000, 100, 53, 92.4, 2.7, 0),  # 1847/2000 = 92.35 -> 92.4 (float would give 92.3)
        (2000, 0, 1, 100.0, 0.1, 0),  # 99.95 -> 100.0; 0.05 -> 0.1
        (2000, 0, 3, 99.9, 0.2, 0),  # 99.85 -> 99.9; 0.15 -> 0.2
        (3, 1, 0, 66.7, 0.0, 1),  # 66.666.. -> 66.7
        (3, 0, 2, 33.3, 66.7, 1),
        (100, 6, 4, 90.0, 4.0, 1),  # exactly 10% absence is persistent
        (100, 5, 4, 91.0, 4.0, 0),  # 9% is not
        (1000, 0, 100, 90.0, 10.0, 1),
        (1000, 99, 0, 90.1, 0.0, 0),
        (50, 0, 0, 100.0, 0.0, 0),
        (50, 50, 0, 0.0, 0.0, 1),
    ],
)
def test_attendance_rounding(
    possible: int, auth: int, unauth: int, attendance: float, unauthorised: float, persistent: int
) -> None:
    rows = [_term("P1", "2025-04-20", "2025-07-18", possible, auth, unauth)]
    result = fpd(people=people("P1"), school_attendance=rows)
    assert result.loc["P1", "attendance_pct"] == attendance
    assert result.loc["P1", "unauthorised_absence_pct"] == unauthorised
    assert result.loc["P1", "persistent_absence"] == persistent


def test_half_up_tenths_in_integer_arithmetic() -> None:
    num = np.array([369, 1847, 1, 0, 2, 1])
    den = np.array([400, 2000, 3, 7, 3, 2000])
    assert half_up_tenths(num, den).tolist() == [923, 924, 333, 0, 667, 1]


def test_attendance_empty_without_rows_or_possible_sessions() -> None:
    rows = [
        _term("P2", "2025-04-20", "2025-07-18", 0, 0, 0),
        _term("P3", "2025-01-06", "2025-03-28", 100, 0, 0),  # only a term ending before P
    ]
    result = fpd(people=people("P1", "P2", "P3"), school_attendance=rows)
    for measure in ("attendance_pct", "unauthorised_absence_pct", "persistent_absence"):
        assert result[measure].isna().all(), measure


# --- social care -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "any_", "at_census"),
    [
        ("2025-01-01", "2025-09-30", 1, 1),  # ends on C
        ("2025-01-01", "2025-09-29", 1, 0),  # ends the day before C
        ("2020-01-01", None, 1, 1),  # still open
        ("2025-10-01", None, 0, 0),  # starts after C
        ("2025-09-30", None, 1, 1),  # starts on C
        ("2024-01-01", "2025-03-31", 0, 0),  # ends the day before P
        ("2024-01-01", "2025-04-01", 1, 0),  # ends on P's first day
        ("2025-06-01", "2025-06-02", 1, 0),  # inside P
    ],
)
@pytest.mark.parametrize("kind", ["CIN", "CPP", "LAC"])
def test_social_care_flags(
    kind: str, start: str, end: str | None, any_: int, at_census: int
) -> None:
    episodes = [{"person_id": "P1", "episode_type": kind, "start_date": start, "end_date": end}]
    result = fpd(people=people("P1"), social_care_episodes=episodes)
    for other in ("cin", "cpp", "lac"):
        want_any, want_census = (any_, at_census) if other == kind.lower() else (0, 0)
        assert result.loc["P1", f"{other}_any"] == want_any
        assert result.loc["P1", f"{other}_at_census"] == want_census


# --- employment ------------------------------------------------------------------------------


def _spell(pid: str, start: str, end: str | None, kind: str = "EMPLOYED") -> dict:
    return {"person_id": pid, "spell_type": kind, "start_date": start, "end_date": end}


@pytest.mark.parametrize(
    ("spells", "employed", "weeks"),
    [
        # touching: the second starts the day after the first ends -> one run from 2025-01-01
        ([("2025-01-01", "2025-03-31"), ("2025-04-01", None)], 1, 273 // 7),
        # overlapping -> one run from 2024-06-01 (487 days to C inclusive)
        ([("2024-06-01", "2025-05-01"), ("2025-03-01", None)], 1, 487 // 7),
        # a one-day gap (2025-03-31 not covered) -> the run starts 2025-04-01 (183 days)
        ([("2025-01-01", "2025-03-30"), ("2025-04-01", None)], 1, 183 // 7),
        # a short spell inside a long one must not hide the long one's end
        (
            [("2024-01-01", "2024-12-31"), ("2024-02-01", "2024-03-01"), ("2025-01-01", None)],
            1,
            639 // 7,
        ),
        # a spell starting after C does not count
        ([("2025-09-01", "2025-09-30"), ("2025-10-01", None)], 1, 30 // 7),
        # ends on C: employed; ends the day before: not
        ([("2025-01-01", "2025-09-30")], 1, 273 // 7),
        ([("2025-01-01", "2025-09-29")], 0, 0),
        # 6 days is 0 whole weeks, 7 days is 1
        ([("2025-09-25", None)], 1, 0),
        ([("2025-09-24", None)], 1, 1),
        # listed out of order
        (
            [("2025-04-01", None), ("2024-10-01", "2025-03-31"), ("2024-01-01", "2024-09-29")],
            1,
            365 // 7,
        ),
        ([], 0, 0),
    ],
)
def test_weeks_of_continuous_employment(
    spells: list[tuple[str, str | None]], employed: int, weeks: int
) -> None:
    rows = [_spell("P1", s, e) for s, e in spells]
    # another person's spells must not join P1's run
    rows.append(_spell("P2", "2020-01-01", "2025-12-31"))
    result = fpd(
        people=people("P1", "P2", role="MAIN_CARER", dob="1990-01-01"), employment_spells=rows
    )
    assert result.loc["P1", "employed_at_census"] == employed
    assert result.loc["P1", "weeks_continuous_employment"] == weeks
    assert result.loc["P2", "weeks_continuous_employment"] == ((C - date(2020, 1, 1)).days + 1) // 7


def test_weeks_formula_directly() -> None:
    rows = [_spell("P1", "2020-01-01", None)]
    result = fpd(people=people("P1", role="MAIN_CARER", dob="1990-01-01"), employment_spells=rows)
    days = (C - date(2020, 1, 1)).days + 1
    assert result.loc["P1", "weeks_continuous_employment"] == days // 7


def test_benefit_and_employment_at_census() -> None:
    rows = [
        _spell("P1", "2025-01-01", "2025-09-30", "OUT_OF_WORK_BENEFIT"),
        _spell("P2", "2025-01-01", "2025-09-29", "OUT_OF_WORK_BENEFIT"),
        _spell("P2", "2025-09-30", None, "EMPLOYED"),
        _spell("P3", "2025-10-01", None, "OUT_OF_WORK_BENEFIT"),
    ]
    result = fpd(
        people=people("P1", "P2", "P3", role="OTHER_ADULT", dob="1980-02-02"),
        employment_spells=rows,
    )
    assert result["out_of_work_benefit_at_census"].to_dict() == {"P1": 1, "P2": 0, "P3": 0}
    assert result["employed_at_census"].to_dict() == {"P1": 0, "P2": 1, "P3": 0}
    assert result["weeks_continuous_employment"].to_dict() == {"P1": 0, "P2": 0, "P3": 0}


# --- age and NEET ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "age", "neet"),
    [
        ("2009-09-30", 16, 1),  # turns 16 on C
        ("2009-10-01", 15, None),  # turns 16 the day after C
        ("2007-09-30", 18, 1),
        ("2006-10-01", 18, 1),  # turns 19 the day after C
        ("2006-09-30", 19, None),  # turns 19 on C
        ("2025-09-30", 0, None),  # born on C
        ("2025-10-01", None, None),  # not born yet on C (seen in a backfill)
    ],
)
def test_age_and_neet(dob: str, age: int | None, neet: int | None) -> None:
    rows = [_spell("P1", "2025-06-01", None, "NEET")]
    result = fpd(people=people("P1", dob=dob), employment_spells=rows)
    assert _value(result.loc["P1", "age_at_census"]) == age
    assert _value(result.loc["P1", "neet_at_census"]) == neet


def test_neet_zero_without_an_open_spell() -> None:
    rows = [
        _spell("P1", "2025-01-01", "2025-09-29", "NEET"),
        _spell("P2", "2025-10-01", None, "NEET"),
    ]
    result = fpd(people=people("P1", "P2", dob="2008-01-01"), employment_spells=rows)
    assert result["neet_at_census"].to_dict() == {"P1": 0, "P2": 0}


def test_unborn_has_no_age_and_no_neet() -> None:
    result = fpd(people=[person("P1", role="UNBORN", expected_dob="2025-12-01")])
    assert pd.isna(result.loc["P1", "age_at_census"])
    assert pd.isna(result.loc["P1", "neet_at_census"])


def test_born_on_29_february() -> None:
    dob = pd.Series(pd.to_datetime(["2008-02-29"]))
    ages = {
        "2025-02-28": 16,  # common year: the birthday is 1 March (UK convention)
        "2025-03-01": 17,
        "2024-02-28": 15,
        "2024-02-29": 16,  # leap year: the birthday itself
        "2025-03-31": 17,
    }
    for on, age in ages.items():
        assert age_in_years(dob, date.fromisoformat(on)).iloc[0] == age, on
    result = fpd(census=date(2025, 3, 31), people=people("P1", dob="2008-02-29"))
    assert result.loc["P1", "age_at_census"] == 17


# --- cohort and table shape ------------------------------------------------------------------


def test_people_joining_or_leaving_mid_period() -> None:
    result = fpd(
        people=[
            person("P1", date_joined="2025-06-01"),
            person("P2", date_left="2025-05-01"),
            person("P3", date_left="2025-03-31"),
            person("P4", date_joined="2025-10-01"),
        ],
        offences=[
            {"person_id": "P1", "offence_date": "2025-04-15"},  # before joining, still in P
            {"person_id": "P2", "offence_date": "2025-08-15"},  # after leaving, still in P
            {"person_id": "P3", "offence_date": "2025-08-15"},
        ],
    )
    assert list(result.index) == ["P1", "P2"]
    assert result["proven_offences"].to_dict() == {"P1": 1, "P2": 1}


def test_families_closed_in_previous_period_and_two_periods_back() -> None:
    result = fpd(
        families=[
            family("F1", date_support_ended="2025-01-15", status="CLOSED"),  # previous period
            family("F2", date_support_ended="2024-09-30", status="CLOSED"),  # two periods back
            family("F3", date_support_ended="2024-10-01", status="CLOSED"),  # previous, 1st day
        ],
        people=[person("P1", "F1"), person("P2", "F2"), person("P3", "F3")],
    )
    assert list(result.index) == ["P1", "P3"]


def test_opted_out_and_comparison_group_are_left_out() -> None:
    result = fpd(
        families=[family("F1"), family("F2", date_support_started=None, status="IDENTIFIED")],
        people=[person("P1", "F1"), person("P2", "F1", nis_opt_out=1), person("P3", "F2")],
    )
    assert list(result.index) == ["P1"]


def test_table_shape_order_and_dtypes() -> None:
    data = extracts(
        families=[family("F2"), family("F10"), family("F1")],
        people=[person("B", "F2"), person("A", "F2"), person("Z", "F1"), person("C", "F10")],
    )
    result = compute_fpd(data, P)
    assert list(result.columns) == FPD_COLUMNS
    assert isinstance(result.index, pd.RangeIndex) and result.index.start == 0
    assert list(zip(result["family_id"], result["person_id"], strict=True)) == [
        ("F1", "Z"),
        ("F10", "C"),
        ("F2", "A"),
        ("F2", "B"),
    ]
    assert (result["la_code"] == LA).all()
    assert (result["census_date"] == pd.Timestamp("2025-09-30")).all()
    assert result["census_date"].dtype == "datetime64[ns]"
    assert result["attendance_pct"].dtype == "Float64"
    assert result["proven_offences"].dtype == "Int64"
    assert result["family_id"].dtype == "str"
    FpdRecord.validate(result)


def test_empty_cohort_gives_empty_typed_table() -> None:
    data = extracts(families=[family("F1", date_support_started=None, status="IDENTIFIED")])
    result = compute_fpd(data, P)
    assert result.empty
    assert list(result.columns) == FPD_COLUMNS
    FpdRecord.validate(result)


def test_missing_event_extracts_are_treated_as_empty() -> None:
    data = extracts()
    only_core = {"families": data["families"], "people": data["people"]}
    pd.testing.assert_frame_equal(compute_fpd(only_core, P), compute_fpd(data, P))


def test_inputs_are_not_modified() -> None:
    data = extracts(
        people=[person("P1"), person("P2", role="UNBORN")],
        offences=[{"person_id": "P1", "offence_date": "2025-05-01"}],
        school_attendance=[_term("P1", "2025-04-20", "2025-07-18", 100, 1, 2)],
        employment_spells=[_spell("P1", "2025-01-01", None, "NEET")],
        social_care_episodes=[
            {"person_id": "P1", "episode_type": "CIN", "start_date": "2025-01-01", "end_date": None}
        ],
    )
    before = copy.deepcopy(data)
    compute_fpd(data, P)
    for name, frame in data.items():
        pd.testing.assert_frame_equal(frame, before[name], check_exact=True)


def test_every_role_but_unborn_has_an_age() -> None:
    # Section 3: age_at_census is empty for UNBORN only. Validation keeps a dob off an UNBORN
    # row (E120); the transform must still leave the age empty if one reaches it, and must not
    # blank the age of any other role.
    roles = ["MAIN_CARER", "OTHER_ADULT", "CHILD", "OTHER"]
    rows = [person(f"P{i}", role=r, dob="2000-09-30") for i, r in enumerate(roles, 1)]
    rows.append(person("P5", role="UNBORN", dob="2000-09-30", expected_dob=None))
    result = fpd(people=rows)
    assert result["age_at_census"].map(_value).to_dict() == {
        "P1": 25,
        "P2": 25,
        "P3": 25,
        "P4": 25,
        "P5": None,
    }


def test_attendance_of_a_single_possible_session() -> None:
    # Only possible = 0 makes the measures empty: one session is enough for a value.
    rows = [
        _term("P1", "2025-04-22", "2025-07-18", 1, 0, 0),
        _term("P2", "2025-04-22", "2025-07-18", 1, 0, 1),
    ]
    result = fpd(people=people("P1", "P2"), school_attendance=rows)
    assert result["attendance_pct"].to_dict() == {"P1": 100.0, "P2": 0.0}
    assert result["unauthorised_absence_pct"].to_dict() == {"P1": 0.0, "P2": 100.0}
    assert result["persistent_absence"].to_dict() == {"P1": 0, "P2": 1}
