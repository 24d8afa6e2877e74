from __future__ import annotations

import pandas as pd
import pytest
from exports_builders import random_tables, sample_tables, statistics_of

from exports.statistics import STATISTICS_COLUMNS, suppressed_statistics, write_statistics_csv
from schemas.codes import PROBLEMS
from schemas.outputs import FPD_MEASURES, INTERVENTION_STATUSES


def _stats(counts: list[int | None]) -> pd.DataFrame:
    n = len(counts)
    return pd.DataFrame(
        {
            "table": ["fpd"] * n,
            "measure": [f"m{i}" for i in range(n)],
            "category": ["flagged"] * n,
            "count": pd.array(counts, dtype="Int64"),
        }
    )


def test_counts_from_1_to_4_are_suppressed_and_others_kept(tmp_path):
    path = tmp_path / "s.csv"
    rows = write_statistics_csv(_stats([0, 1, 2, 3, 4, 5, 12, 1000]), path)
    assert rows == 8
    assert path.read_text(encoding="utf-8").splitlines() == [
        "table,measure,category,count",
        "fpd,m0,flagged,0",
        "fpd,m1,flagged,[c]",
        "fpd,m2,flagged,[c]",
        "fpd,m3,flagged,[c]",
        "fpd,m4,flagged,[c]",
        "fpd,m5,flagged,5",
        "fpd,m6,flagged,12",
        "fpd,m7,flagged,1000",
    ]


def test_only_the_statistics_columns_are_written(tmp_path):
    stats = _stats([7]).assign(person_id="P1", family_id="F1")
    stats = stats[["person_id", *STATISTICS_COLUMNS, "family_id"]]
    path = tmp_path / "s.csv"
    write_statistics_csv(stats, path)
    assert path.read_text().splitlines() == ["table,measure,category,count", "fpd,m0,flagged,7"]


# The statistics of sample_tables(), worked out by hand from its rows: families F2 (first row
# P7, ATTACHED), F10 (P3, CLOSED) and F1 (P2, IDENTIFIED, p_health 1), every family with
# p_education 1; six people; FPD rows P7, P10, P3 and P3b of families F2 and F10.
SAMPLE_COUNTS = {
    ("families", "total", "all"): 3,
    ("families", "intervention_status", "IDENTIFIED"): 1,
    ("families", "intervention_status", "ATTACHED"): 1,
    ("families", "intervention_status", "CLOSED"): 1,
    ("families", "problem_met", "EDUCATION"): 3,
    ("families", "problem_met", "HEALTH"): 1,
    ("individuals", "total", "all"): 6,
    ("individuals", "intervention_status", "IDENTIFIED"): 2,
    ("individuals", "intervention_status", "ATTACHED"): 3,  # P7, P10, P3b
    ("individuals", "intervention_status", "CLOSED"): 1,
    ("fpd", "total", "all"): 4,
    ("fpd", "families", "all"): 2,
    ("fpd", "age_at_census", "recorded"): 3,  # not the unborn P10
    ("fpd", "proven_offences", "above_zero"): 1,
    ("fpd", "attendance_pct", "recorded"): 2,
    ("fpd", "unauthorised_absence_pct", "recorded"): 2,
    ("fpd", "persistent_absence", "recorded"): 2,
    ("fpd", "suspensions", "above_zero"): 1,
    ("fpd", "cin_any", "flagged"): 1,
    ("fpd", "employed_at_census", "flagged"): 1,
    ("fpd", "weeks_continuous_employment", "above_zero"): 1,
    ("fpd", "neet_at_census", "flagged"): 1,
    ("fpd", "neet_at_census", "recorded"): 1,
}  # every other row counts 0


def test_statistics_of_a_submission_are_its_counts_with_small_ones_hidden(tmp_path):
    tables = sample_tables()
    stats = statistics_of(tables)
    computed = {(t, m, c): int(n) for t, m, c, n in stats.itertuples(index=False)}
    assert {k: n for k, n in computed.items() if n} == SAMPLE_COUNTS

    path = tmp_path / "s.csv"
    assert write_statistics_csv(stats, path) == len(stats)
    published = pd.read_csv(path, dtype="str", keep_default_na=False)
    assert list(published.columns) == STATISTICS_COLUMNS
    expected = [[t, m, c, "[c]" if 1 <= n <= 4 else str(n)] for (t, m, c), n in computed.items()]
    assert published.values.tolist() == expected
    assert published["count"].tolist().count("6") == 1  # the one count above 4


def test_statistics_of_a_submission_carry_no_identifier(tmp_path):
    tables = sample_tables()
    path = tmp_path / "s.csv"
    write_statistics_csv(statistics_of(tables), path)
    text = path.read_text()
    identifiers = set(tables.individuals["person_id"]) | set(tables.individuals["family_id"])
    names = set(tables.individuals["forename"].dropna()) | set(
        tables.individuals["surname"].dropna()
    )
    values = identifiers | names | {"L1 8JQ", "AB123456C", "B801200005001"}
    assert len(values) == 22
    for value in values:
        assert value not in text, value
    # and every field is a name the contract gives or a (hidden) count
    published = pd.read_csv(path, dtype="str", keep_default_na=False)
    words = set(published["table"]) | set(published["measure"]) | set(published["category"])
    assert words <= {"families", "individuals", "fpd", "total", "all", "intervention_status"} | {
        "problem_met", "above_zero", "flagged", "recorded", *FPD_MEASURES,
        *INTERVENTION_STATUSES, *PROBLEMS,
    }  # fmt: skip
    assert set(published["count"]) <= {"[c]", "0", "6"}


def test_missing_columns_are_refused():
    with pytest.raises(ValueError, match="statistics lack columns"):
        suppressed_statistics(_stats([1]).drop(columns=["category"]))


# The statistics file of ``random_tables(12, seed=5)`` as written when this test was added: the
# rows, their order and every count, byte for byte. A change here changes what councils publish.
GOLDEN_RANDOM_12_SEED_5 = (
    "table,measure,category,count\n"
    "families,total,all,12\n"
    "families,intervention_status,DECLINED,0\n"
    "families,intervention_status,NOT_ELIGIBLE,0\n"
    "families,intervention_status,IDENTIFIED,8\n"
    "families,intervention_status,ATTACHED,[c]\n"
    "families,intervention_status,CLAIMED_SSP,0\n"
    "families,intervention_status,CLAIMED_CE,0\n"
    "families,intervention_status,CLOSED,[c]\n"
    "families,problem_met,CRIME_ASB,5\n"
    "families,problem_met,EDUCATION,5\n"
    "families,problem_met,CHILDREN_NEED_HELP,7\n"
    "families,problem_met,WORKLESSNESS,5\n"
    "families,problem_met,DOMESTIC_ABUSE,7\n"
    "families,problem_met,HEALTH,9\n"
    "individuals,total,all,41\n"
    "individuals,intervention_status,DECLINED,0\n"
    "individuals,intervention_status,NOT_ELIGIBLE,0\n"
    "individuals,intervention_status,IDENTIFIED,26\n"
    "individuals,intervention_status,ATTACHED,11\n"
    "individuals,intervention_status,CLAIMED_SSP,0\n"
    "individuals,intervention_status,CLAIMED_CE,0\n"
    "individuals,intervention_status,CLOSED,[c]\n"
    "fpd,total,all,28\n"
    "fpd,families,all,12\n"
    "fpd,age_at_census,recorded,28\n"
    "fpd,proven_offences,above_zero,23\n"
    "fpd,asb_incidents,above_zero,21\n"
    "fpd,da_incidents,above_zero,25\n"
    "fpd,family_da_incidents,above_zero,26\n"
    "fpd,attendance_pct,recorded,14\n"
    "fpd,unauthorised_absence_pct,recorded,17\n"
    "fpd,persistent_absence,flagged,8\n"
    "fpd,persistent_absence,recorded,14\n"
    "fpd,suspensions,above_zero,26\n"
    "fpd,permanent_exclusion,flagged,16\n"
    "fpd,cin_any,flagged,12\n"
    "fpd,cpp_any,flagged,14\n"
    "fpd,lac_any,flagged,15\n"
    "fpd,cin_at_census,flagged,14\n"
    "fpd,cpp_at_census,flagged,13\n"
    "fpd,lac_at_census,flagged,13\n"
    "fpd,out_of_work_benefit_at_census,flagged,12\n"
    "fpd,employed_at_census,flagged,9\n"
    "fpd,weeks_continuous_employment,above_zero,25\n"
    "fpd,neet_at_census,flagged,7\n"
    "fpd,neet_at_census,recorded,12\n"
)


def test_statistics_file_bytes_are_unchanged(tmp_path):
    path = tmp_path / "s.csv"
    write_statistics_csv(statistics_of(random_tables(12, seed=5)), path)
    assert path.read_bytes() == GOLDEN_RANDOM_12_SEED_5.encode("utf-8")
