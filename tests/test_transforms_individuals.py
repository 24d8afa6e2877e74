from __future__ import annotations

import copy

import pandas as pd
from transforms_builders import LA, extracts, family, person

from schemas.outputs import INDIVIDUALS_COLUMNS, IndividualsRecord
from transforms.individuals import build_individuals
from transforms.periods import Period
from transforms.statistics import build_statistics, suppress_small_counts
from transforms.submission import build_submission

C = Period.of("2025-09-30")


def _data() -> dict[str, pd.DataFrame]:
    return extracts(
        families=[
            family("F2", date_support_started="2025-10-15", status="ATTACHED"),
            family(
                "F1",
                date_support_ended="2025-11-01",
                status="CLOSED",
                claim_type="SSP",
                claim_date="2025-12-01",
            ),
            family("F3", date_support_started=None, status="IDENTIFIED", la_code="E06000001"),
            family("F4", status="NOT_ELIGIBLE"),
            family("F5", date_support_ended="2024-06-01", status="CLOSED"),
        ],
        people=[
            person("P3", "F1", role="MAIN_CARER", dob="1985-03-03", gender="M", nino="AB123456C"),
            person("P1", "F1", gender="F", upn="B801200005001", postcode="L1 8JQ", forename="Ann"),
            person("P2", "F1", role="UNBORN", gender="U", expected_dob="2025-12-24"),
            person("P4", "F2", gender="X"),
            person("P5", "F2", nis_opt_out=1),
            person("P6", "F3"),
            person("P7", "F4"),
            person("P8", "F5"),
            person("P9", "F1", date_left="2025-01-01"),
        ],
        eligibility=[
            {"family_id": "F1", "problem": "HEALTH", "date_met": "2023-01-01"},
            {"family_id": "F2", "problem": "HEALTH", "date_met": "2025-10-01"},
        ],
    )


def test_individuals_rows_and_values() -> None:
    result = build_individuals(_data(), C)
    IndividualsRecord.validate(result)
    assert list(result.columns) == INDIVIDUALS_COLUMNS
    assert isinstance(result.index, pd.RangeIndex)
    assert result["person_id"].tolist() == ["P1", "P2", "P3", "P4", "P6"]
    by_person = result.set_index("person_id")
    assert by_person["gender"].to_dict() == {"P1": "2", "P2": "0", "P3": "1", "P4": "9", "P6": "2"}
    assert by_person["la_code"].to_dict() == {
        "P1": LA,
        "P2": LA,
        "P3": LA,
        "P4": LA,
        "P6": "E06000001",
    }
    assert by_person["intervention_status"].to_dict() == {
        "P1": "ATTACHED",  # support ends after C, claim after C: as at C, still attached
        "P2": "ATTACHED",
        "P3": "ATTACHED",
        "P4": "IDENTIFIED",  # support starts after C
        "P6": "IDENTIFIED",
    }
    # dates after C are not written
    assert by_person.loc["P1", "date_support_started"] == pd.Timestamp("2023-02-01")
    assert pd.isna(by_person.loc["P1", "date_support_ended"])
    assert pd.isna(by_person.loc["P4", "date_support_started"])
    assert by_person.loc["P1", "date_identified"] == pd.Timestamp("2023-01-10")
    assert by_person["p_health"].to_dict() == {"P1": 1, "P2": 1, "P3": 1, "P4": 0, "P6": 0}
    assert by_person.loc["P1", "upn"] == "B801200005001"
    assert by_person.loc["P1", "postcode"] == "L1 8JQ"
    assert by_person.loc["P3", "nino"] == "AB123456C"
    assert pd.isna(by_person.loc["P2", "dob"])
    assert by_person.loc["P2", "expected_dob"] == pd.Timestamp("2025-12-24")
    assert (result["census_date"] == pd.Timestamp("2025-09-30")).all()
    assert result["census_date"].dtype == "datetime64[ns]"


def test_backfill_describes_the_family_as_at_census() -> None:
    later = build_individuals(_data(), Period.of("2026-03-31")).set_index("person_id")
    assert later.loc["P1", "intervention_status"] == "CLAIMED_SSP"
    assert later.loc["P1", "date_support_ended"] == pd.Timestamp("2025-11-01")
    assert later.loc["P4", "intervention_status"] == "ATTACHED"
    assert later.loc["P4", "p_health"] == 1


def test_submission_counts_opted_out_people() -> None:
    data = _data()
    before = copy.deepcopy(data)
    tables = build_submission(data, C)
    assert tables.opted_out == 1
    assert "P5" not in set(tables.individuals["person_id"])
    assert tables.fpd["person_id"].tolist() == ["P1", "P2", "P3"]
    for name in data:
        pd.testing.assert_frame_equal(data[name], before[name])


def test_statistics() -> None:
    stats = build_statistics(build_submission(_data(), C))
    assert list(stats.columns) == ["table", "measure", "category", "count"]
    assert stats["count"].dtype == "Int64"
    got = {(t, m, c): n for t, m, c, n in stats.itertuples(index=False)}
    assert got[("families", "total", "all")] == 3
    assert got[("families", "intervention_status", "ATTACHED")] == 1
    assert got[("families", "intervention_status", "IDENTIFIED")] == 2
    assert got[("families", "intervention_status", "CLOSED")] == 0
    assert got[("families", "problem_met", "HEALTH")] == 1
    assert got[("individuals", "total", "all")] == 5
    assert got[("individuals", "intervention_status", "ATTACHED")] == 3
    assert got[("fpd", "total", "all")] == 3
    assert got[("fpd", "families", "all")] == 1
    assert got[("fpd", "age_at_census", "recorded")] == 2  # the unborn child has no age
    assert got[("fpd", "neet_at_census", "recorded")] == 0
    assert got[("fpd", "proven_offences", "above_zero")] == 0
    # the order does not depend on the data
    empty = build_statistics(
        build_submission(extracts(families=[family("F1", status="NOT_ELIGIBLE")]), C)
    )
    assert empty[["table", "measure", "category"]].equals(stats[["table", "measure", "category"]])
    assert (empty["count"] == 0).all()


def test_suppress_small_counts() -> None:
    stats = pd.DataFrame(
        {
            "table": ["a"] * 6,
            "measure": ["m"] * 6,
            "category": list("uvwxyz"),
            "count": pd.array([0, 1, 4, 5, 12, 3], dtype="Int64"),
        }
    )
    result = suppress_small_counts(stats)
    assert result["count"].tolist() == ["0", "[c]", "[c]", "5", "12", "[c]"]
    assert stats["count"].dtype == "Int64"  # input untouched


def test_support_dates_on_the_census_date_are_written() -> None:
    # Section 4: the support dates are written when they are on or before C; C itself is in.
    data = extracts(
        families=[
            family("F1", date_support_started="2025-09-30", status="ATTACHED"),
            family(
                "F2",
                date_support_started="2025-04-01",
                date_support_ended="2025-09-30",
                status="CLOSED",
            ),
            family(
                "F3",
                date_support_started="2025-10-01",
                date_support_ended="2025-10-01",
                status="CLOSED",
            ),
            # identified on C: in the NIS cohort, with its date_identified
            family(
                "F4", date_identified="2025-09-30", date_support_started=None, status="IDENTIFIED"
            ),
        ],
        people=[person("P1", "F1"), person("P2", "F2"), person("P3", "F3"), person("P4", "F4")],
    )
    result = build_individuals(data, C).set_index("person_id")
    dates = {
        pid: {c: None if pd.isna(day) else day.date().isoformat() for c, day in row.items()}
        for pid, row in result[["date_support_started", "date_support_ended"]].iterrows()
    }
    assert dates == {
        "P1": {"date_support_started": "2025-09-30", "date_support_ended": None},
        "P2": {"date_support_started": "2025-04-01", "date_support_ended": "2025-09-30"},
        "P3": {"date_support_started": None, "date_support_ended": None},
        "P4": {"date_support_started": None, "date_support_ended": None},
    }
    assert result.loc["P4", "date_identified"] == pd.Timestamp("2025-09-30")
    assert result["intervention_status"].to_dict() == {
        "P1": "ATTACHED",
        "P2": "CLOSED",
        "P3": "IDENTIFIED",
        "P4": "IDENTIFIED",
    }
