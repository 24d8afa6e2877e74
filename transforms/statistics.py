"""Anonymised aggregates of a submission, for ``statistics_{la}_{census}.csv`` (spec section 5):
counts only, no identifiers.

Columns ``table, measure, category, count`` (str, str, str, Int64). ``table`` says what is
counted:

- ``families``: families with at least one person in the individuals table. Rows: ``total/all``;
  ``intervention_status/<status>`` for every status of section 4 (zeros included);
  ``problem_met/<PROBLEM>`` for the six headline problems (families with the flag).
- ``individuals``: people in the individuals table. Rows: ``total/all`` and
  ``intervention_status/<status>``.
- ``fpd``: people in the FPD table. Rows: ``total/all``, ``families/all`` (families with an FPD
  row), then for each measure of section 3 in table order, by the ``statistic`` kind its field
  declares in :class:`schemas.outputs.FpdRecord`:
  ``count`` -> ``above_zero`` (people with a count above 0);
  ``flag`` -> ``flagged`` (people with 1), and, when the field may be empty
  (``persistent_absence``, ``neet_at_census``), also ``recorded`` (people with a value);
  ``recorded`` (the percentages and ``age_at_census``) -> ``recorded`` (people with a value).

The order is fixed by this list, never by the data. No suppression is applied here: small
counts are hidden by :func:`suppress_small_counts`, which the exports call when writing.
"""

from __future__ import annotations

import pandas as pd

from schemas import codes
from schemas.outputs import FPD_MEASURES, INTERVENTION_STATUSES, PROBLEM_COLUMNS, FpdRecord
from transforms.submission import SubmissionTables

STATISTICS_COLUMNS = ["table", "measure", "category", "count"]
SUPPRESSED = "[c]"


def _fpd_measure_rows() -> list[tuple[str, str]]:
    """``(measure, category)`` of every FPD row of the statistics, in file order, from the
    ``statistic`` kind and the nullability of each measure's field in the output model."""
    columns = FpdRecord.to_schema().columns
    rows: list[tuple[str, str]] = []
    for measure in FPD_MEASURES:
        column = columns[measure]
        kind = (column.metadata or {}).get("statistic")
        if kind == "count":
            rows.append((measure, "above_zero"))
        elif kind == "flag":
            rows.append((measure, "flagged"))
            if column.nullable:
                rows.append((measure, "recorded"))
        elif kind == "recorded":
            rows.append((measure, "recorded"))
        else:
            raise ValueError(f"FPD measure {measure} declares no statistic kind in its field")
    return rows


# Computed once: the model cannot change while the program runs.
_FPD_MEASURE_ROWS = _fpd_measure_rows()


def _counted(values: pd.Series, category: str) -> int:
    """People counted in ``category``: a value above 0, a value of 1, or any value."""
    if category == "above_zero":
        return int((values > 0).sum())
    if category == "flagged":
        return int((values == 1).sum())
    return int(values.notna().sum())


def _by_category(values: pd.Series, categories: tuple[str, ...]) -> list[int]:
    counts = values.value_counts()
    return [int(counts.get(category, 0)) for category in categories]


def build_statistics(tables: SubmissionTables) -> pd.DataFrame:
    """The aggregate counts of ``tables`` (see the module docstring for the rows)."""
    individuals, fpd = tables.individuals, tables.fpd
    rows: list[tuple[str, str, str, int]] = []

    families = individuals.drop_duplicates("family_id")
    rows.append(("families", "total", "all", len(families)))
    family_status = _by_category(families["intervention_status"], INTERVENTION_STATUSES)
    rows += [
        ("families", "intervention_status", status, n)
        for status, n in zip(INTERVENTION_STATUSES, family_status, strict=True)
    ]
    rows += [
        ("families", "problem_met", problem, int((families[PROBLEM_COLUMNS[problem]] == 1).sum()))
        for problem in codes.PROBLEMS
    ]

    rows.append(("individuals", "total", "all", len(individuals)))
    people_status = _by_category(individuals["intervention_status"], INTERVENTION_STATUSES)
    rows += [
        ("individuals", "intervention_status", status, n)
        for status, n in zip(INTERVENTION_STATUSES, people_status, strict=True)
    ]

    rows.append(("fpd", "total", "all", len(fpd)))
    rows.append(("fpd", "families", "all", int(fpd["family_id"].nunique())))
    rows += [
        ("fpd", measure, category, _counted(fpd[measure], category))
        for measure, category in _FPD_MEASURE_ROWS
    ]

    frame = pd.DataFrame(rows, columns=STATISTICS_COLUMNS)
    return frame.astype({"table": "str", "measure": "str", "category": "str", "count": "Int64"})


def suppress_small_counts(stats: pd.DataFrame, *, low: int = 1, high: int = 4) -> pd.DataFrame:
    """A copy of ``stats`` whose ``count`` is text, with every count from ``low`` to ``high``
    written as ``[c]`` (0 and larger counts are kept as digits)."""
    count = stats["count"]
    hidden = ((count >= low) & (count <= high)).fillna(False).to_numpy(dtype=bool)
    text = count.astype("str").mask(hidden, SUPPRESSED)
    return stats.assign(count=text)
