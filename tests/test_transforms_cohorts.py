from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from transforms_builders import extracts, family, frame, person

from transforms.cohorts import (
    cohort_members,
    fpd_cohort,
    in_fpd_cohort,
    in_nis_cohort,
    is_member,
    is_opted_out,
    nis_cohort,
)
from transforms.fpd import compute_fpd
from transforms.individuals import build_individuals
from transforms.periods import Period, census_dates_between
from transforms.submission import build_submission

C = Period.of("2025-09-30")  # period 2025-04-01 .. 2025-09-30; previous period from 2024-10-01


def _families(*rows: dict) -> pd.DataFrame:
    return frame("families", list(rows))


@pytest.mark.parametrize(
    ("values", "nis", "fpd"),
    [
        # identified on the census date: in the NIS cohort, comparison group
        (
            {"date_identified": "2025-09-30", "date_support_started": None, "status": "IDENTIFIED"},
            True,
            False,
        ),
        # identified the day after: in neither
        (
            {"date_identified": "2025-10-01", "date_support_started": None, "status": "IDENTIFIED"},
            False,
            False,
        ),
        # support starts on the census date
        ({"date_support_started": "2025-09-30"}, True, True),
        # support starts the day after the census date: comparison group for now
        ({"date_support_started": "2025-10-01"}, True, False),
        # support ended in the previous period: followed one more period
        ({"date_support_ended": "2024-10-01", "status": "CLOSED"}, True, True),
        ({"date_support_ended": "2025-03-31", "status": "CLOSED"}, True, True),
        # support ended two periods back: out of both
        ({"date_support_ended": "2024-09-30", "status": "CLOSED"}, False, False),
        # ended in this period
        ({"date_support_ended": "2025-05-01", "status": "CLOSED"}, True, True),
        # NOT_ELIGIBLE is never in the NIS cohort, so not in FPD either
        ({"status": "NOT_ELIGIBLE"}, False, False),
        ({"status": "NOT_ELIGIBLE", "date_support_started": None}, False, False),
        # DECLINED families stay in the NIS cohort (they are part of the comparison)
        ({"status": "DECLINED", "date_support_started": None}, True, False),
        ({"status": "DECLINED"}, True, True),
        # comparison group identified long ago, never supported
        (
            {"date_identified": "2019-01-01", "date_support_started": None, "status": "IDENTIFIED"},
            True,
            False,
        ),
    ],
)
def test_cohort_rules(values: dict, nis: bool, fpd: bool) -> None:
    families = _families(family("F1", **values))
    assert in_nis_cohort(families, C).tolist() == [nis]
    assert in_fpd_cohort(families, C).tolist() == [fpd]
    assert len(nis_cohort(families, C)) == int(nis)
    assert len(fpd_cohort(families, C)) == int(fpd)


def test_fpd_cohort_is_within_nis_cohort() -> None:
    families = _families(
        family("F1"),
        family("F2", status="NOT_ELIGIBLE"),
        family("F3", date_support_started=None, status="IDENTIFIED"),
        family("F4", date_support_ended="2024-01-01", status="CLOSED"),
    )
    assert list(fpd_cohort(families, C)["family_id"]) == ["F1"]
    assert set(fpd_cohort(families, C)["family_id"]) <= set(nis_cohort(families, C)["family_id"])


@pytest.mark.parametrize(
    ("joined", "left", "member"),
    [
        (None, None, True),
        ("2025-09-30", None, True),  # joins on the census date
        ("2025-10-01", None, False),  # joins after it
        ("2025-06-15", None, True),  # joins mid-period
        (None, "2025-04-01", True),  # leaves on the period's first day
        (None, "2025-03-31", False),  # leaves the day before the period
        (None, "2025-06-15", True),  # leaves mid-period
        ("2025-05-01", "2025-06-01", True),  # in and out within the period
        ("2024-01-01", "2024-12-31", False),
    ],
)
def test_membership(joined: str | None, left: str | None, member: bool) -> None:
    people = frame("people", [person("P1", date_joined=joined, date_left=left)])
    assert is_member(people, C).tolist() == [member]


def test_opt_out_missing_counts_as_zero() -> None:
    people = frame(
        "people",
        [person("P1"), person("P2", nis_opt_out=0), person("P3", nis_opt_out=1)],
    )
    assert is_opted_out(people).tolist() == [False, False, True]
    families = _families(family("F1"))
    assert list(cohort_members(families, people, C)["person_id"]) == ["P1", "P2"]
    assert list(cohort_members(families, people, C, opted_out=True)["person_id"]) == ["P3"]


def test_members_belong_to_their_own_family_only() -> None:
    people = frame("people", [person("P1", "F1"), person("P2", "F2")])
    families = _families(family("F1"), family("F2", status="NOT_ELIGIBLE"))
    assert list(cohort_members(nis_cohort(families, C), people, C)["person_id"]) == ["P1"]


def test_quarantined_rows_take_no_part() -> None:
    # Validation removes a quarantined family and its people; what is left must not fail on
    # events of people who are no longer there.
    data = extracts(
        people=[person("P1")],
        offences=[{"person_id": "P9", "offence_date": "2025-05-01"}],
        domestic_abuse_incidents=[{"family_id": "F9", "incident_date": "2025-05-01"}],
    )
    fpd = compute_fpd(data, C)
    assert fpd["person_id"].tolist() == ["P1"]
    assert fpd.loc[0, "proven_offences"] == 0
    assert fpd.loc[0, "family_da_incidents"] == 0


def _assert_dates(values: pd.Series, expected: str | None) -> None:
    if expected is None:
        assert values.isna().all()
    else:
        assert (values == pd.Timestamp(expected)).all()


def test_cohort_rules_across_consecutive_periods() -> None:
    """One family followed from before identification to after the follow-up period."""
    data = extracts(
        families=[
            family(
                "F1",
                date_identified="2024-01-15",
                date_support_started="2024-05-01",
                date_support_ended="2025-02-10",
                status="CLOSED",
                claim_type="SSP",
                claim_date="2025-06-01",
            ),
            # comparison group throughout
            family(
                "F2", date_identified="2023-06-01", date_support_started=None, status="IDENTIFIED"
            ),
        ],
        people=[
            person("P1", "F1", role="MAIN_CARER", dob="1990-01-01"),
            person("P2", "F1", date_joined="2025-01-01"),  # joins during support
            person("P3", "F1", date_left="2024-06-30"),  # leaves early in support
            person("P4", "F2"),
        ],
    )
    expected = {
        # census: (NIS people, FPD people, F1 status, F1 started, F1 ended)
        "2023-09-30": (["P4"], [], None, None, None),
        "2024-03-31": (["P1", "P3", "P4"], [], "IDENTIFIED", None, None),
        "2024-09-30": (["P1", "P3", "P4"], ["P1", "P3"], "ATTACHED", "2024-05-01", None),
        "2025-03-31": (["P1", "P2", "P4"], ["P1", "P2"], "CLOSED", "2024-05-01", "2025-02-10"),
        "2025-09-30": (["P1", "P2", "P4"], ["P1", "P2"], "CLAIMED_SSP", "2024-05-01", "2025-02-10"),
        "2026-03-31": (["P4"], [], None, None, None),
    }
    periods = census_dates_between(date(2023, 9, 1), date(2026, 3, 31))
    assert [p.isoformat() for p in periods] == list(expected)
    fpd_periods_after_end = 0
    for census in periods:
        tables = build_submission(data, Period(census))
        nis_people, fpd_people, status, started, ended = expected[census.isoformat()]
        assert tables.individuals["person_id"].tolist() == nis_people, census
        assert tables.fpd["person_id"].tolist() == fpd_people, census
        assert set(fpd_people) <= set(nis_people)
        f1 = tables.individuals.loc[tables.individuals["family_id"] == "F1"]
        if status is None:
            assert f1.empty
            continue
        assert set(f1["intervention_status"]) == {status}, census
        _assert_dates(f1["date_support_started"], started)
        _assert_dates(f1["date_support_ended"], ended)
        if fpd_people and census > date(2025, 2, 10):
            fpd_periods_after_end += 1
        # the comparison family is in the NIS cohort from identification, never in FPD
        f2 = tables.individuals.loc[tables.individuals["family_id"] == "F2"]
        assert f2["intervention_status"].tolist() == ["IDENTIFIED"]
    # support ended in the period to 2025-03-31; followed for exactly one full period after it
    assert fpd_periods_after_end == 2


def test_individuals_and_fpd_agree_on_people_every_period() -> None:
    data = extracts(
        families=[
            family("F1"),
            family("F2", date_support_started=None, status="IDENTIFIED"),
            family("F3", date_support_ended="2024-12-01", status="CLOSED"),
            family("F4", status="NOT_ELIGIBLE"),
        ],
        people=[person(f"P{f}{i}", f"F{f}") for f in range(1, 5) for i in range(2)],
    )
    periods = census_dates_between(date(2023, 1, 1), date(2026, 12, 31))
    assert len(periods) == 8
    for census in periods:
        period = Period(census)
        fpd = compute_fpd(data, period)
        individuals = build_individuals(data, period)
        # F3's support ended on 2024-12-01: followed while that is on or after the start of the
        # previous period (2024-10-01 for 2025-09-30), gone from 2026-03-31 on
        followed = census <= date(2025, 9, 30)
        want_fpd = ["F1", "F1", "F3", "F3"] if followed else ["F1", "F1"]
        assert fpd["family_id"].tolist() == want_fpd, census
        want_nis = ["F1", "F1", "F2", "F2", "F3", "F3"] if followed else ["F1", "F1", "F2", "F2"]
        assert individuals["family_id"].tolist() == want_nis, census  # never NOT_ELIGIBLE F4
        assert set(fpd["person_id"]) <= set(individuals["person_id"])
