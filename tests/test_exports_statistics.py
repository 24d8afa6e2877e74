from __future__ import annotations

import pandas as pd
import pytest
from exports_builders import sample_tables, statistics_of

from exports.statistics import STATISTICS_COLUMNS, suppressed_statistics, write_statistics_csv


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


def test_statistics_of_a_submission_carry_no_identifier(tmp_path):
    tables = sample_tables()
    path = tmp_path / "s.csv"
    write_statistics_csv(statistics_of(tables), path)
    text = path.read_text()
    identifiers = set(tables.individuals["person_id"]) | set(tables.individuals["family_id"])
    names = set(tables.individuals["forename"].dropna()) | set(
        tables.individuals["surname"].dropna()
    )
    for value in identifiers | names | {"L1 8JQ", "AB123456C", "B801200005001"}:
        assert value not in text.split("\n")[1:] and f",{value}," not in text
    published = pd.read_csv(path, dtype="str")
    assert list(published.columns) == STATISTICS_COLUMNS
    assert set(published["count"]) <= {"[c]"} | {str(n) for n in [0, *range(5, 10_000)]}


def test_missing_columns_are_refused():
    with pytest.raises(ValueError, match="statistics lack columns"):
        suppressed_statistics(_stats([1]).drop(columns=["category"]))
