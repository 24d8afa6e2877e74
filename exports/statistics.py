"""``statistics_{la_code}_{census}.csv``: the anonymised aggregates of a submission.

The counts come from ``transforms.statistics.build_statistics``; here they are suppressed (every
count from 1 to 4 written as ``[c]``, by ``transforms.statistics.suppress_small_counts``, the one
implementation) and written with the columns ``table, measure, category, count`` only, so no
identifier can reach the file whatever the frame carries.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from exports.csv_files import write_table_csv
from transforms.statistics import STATISTICS_COLUMNS, SUPPRESSED, suppress_small_counts

__all__ = ["STATISTICS_COLUMNS", "SUPPRESSED", "suppressed_statistics", "write_statistics_csv"]


def suppressed_statistics(statistics: pd.DataFrame) -> pd.DataFrame:
    """The statistics as published: contract columns only, in their given row order, with small
    counts hidden (``count`` becomes text)."""
    missing = [c for c in STATISTICS_COLUMNS if c not in statistics.columns]
    if missing:
        raise ValueError(f"statistics lack columns {missing}")
    table = statistics[STATISTICS_COLUMNS].reset_index(drop=True)
    return suppress_small_counts(table.astype({"count": "Int64"}))


def write_statistics_csv(statistics: pd.DataFrame, path: Path) -> int:
    """Write the suppressed statistics to ``path`` (atomically, 0600); returns the row count."""
    table = suppressed_statistics(statistics)
    write_table_csv(table, path)
    return len(table)
