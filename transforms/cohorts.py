"""The NIS and FPD cohorts of a period, family membership and opt-out (spec section 1).

With C, S and S' the ``census``, ``start`` and ``previous_start`` of the :class:`Period`:

- NIS cohort: ``date_identified <= C``, ``date_support_ended`` empty or ``>= S'``, and ``status``
  not ``NOT_ELIGIBLE``.
- FPD cohort: ``date_support_started <= C`` and ``date_support_ended`` empty or ``>= S'``.
  The spec adds that every FPD person is also in the NIS cohort; :func:`fpd_cohort` enforces that
  by intersection, so a ``NOT_ELIGIBLE`` family that had support is in neither.
- Membership: ``date_joined`` empty or ``<= C``, and ``date_left`` empty or ``>= S``. A person
  belongs to their own family only (``people.family_id``).
- Opt-out: ``nis_opt_out = 1`` leaves the person out of every file; missing counts as 0.

Choices where the spec is silent:
- The recorded ``status`` is the family's status now; a backfill cannot know an older one, so the
  ``NOT_ELIGIBLE`` test uses it for every period.
- Membership does not look at dates of birth: a child born after C who is recorded as a member
  (no ``date_joined``) is in the cohort, with an empty age (see :mod:`transforms.age`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.keys import isin, positions
from transforms.inputs import timestamp
from transforms.periods import Period


def in_nis_cohort(families: pd.DataFrame, period: Period) -> pd.Series:
    """Boolean mask over ``families``: in the NIS cohort of ``period``."""
    c = timestamp(period.census)
    cutoff = timestamp(period.previous_start)
    ended = families["date_support_ended"]
    mask = (
        (families["date_identified"] <= c)
        & (ended.isna() | (ended >= cutoff))
        & (families["status"] != "NOT_ELIGIBLE")
    )
    return mask.fillna(False).astype(bool)


def in_fpd_cohort(families: pd.DataFrame, period: Period) -> pd.Series:
    """Boolean mask over ``families``: in the FPD cohort (and so in the NIS cohort too)."""
    c = timestamp(period.census)
    cutoff = timestamp(period.previous_start)
    ended = families["date_support_ended"]
    mask = (families["date_support_started"] <= c) & (ended.isna() | (ended >= cutoff))
    return (mask.fillna(False).astype(bool)) & in_nis_cohort(families, period)


def nis_cohort(families: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Family rows in the NIS cohort."""
    return families.loc[in_nis_cohort(families, period).to_numpy()]


def fpd_cohort(families: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Family rows in the FPD cohort (a subset of the NIS cohort)."""
    return families.loc[in_fpd_cohort(families, period).to_numpy()]


def is_member(people: pd.DataFrame, period: Period) -> pd.Series:
    """Boolean mask over ``people``: belongs to their family in ``period``."""
    c = timestamp(period.census)
    start = timestamp(period.start)
    joined = people["date_joined"]
    left = people["date_left"]
    mask = (joined.isna() | (joined <= c)) & (left.isna() | (left >= start))
    return mask.fillna(False).astype(bool)


def is_opted_out(people: pd.DataFrame) -> pd.Series:
    """Boolean mask over ``people``: ``nis_opt_out = 1`` (missing counts as 0)."""
    if "nis_opt_out" not in people.columns:
        return pd.Series(False, index=people.index)
    return (people["nis_opt_out"] == 1).fillna(False).astype(bool)


def cohort_members(
    cohort: pd.DataFrame, people: pd.DataFrame, period: Period, *, opted_out: bool = False
) -> pd.DataFrame:
    """People of the ``cohort`` families who belong to them in the period.

    Opted-out people are left out, or, with ``opted_out=True``, are the only ones returned (to
    count them for the manifest).
    """
    mask = is_member(people, period) & isin(people["family_id"], cohort["family_id"])
    out_mask = is_opted_out(people).to_numpy()
    return people.loc[mask.to_numpy() & (out_mask if opted_out else ~out_mask)]


def cohort_people(
    cohort: pd.DataFrame, people: pd.DataFrame, period: Period, columns: list[str]
) -> pd.DataFrame:
    """The non-opted-out members of the ``cohort`` families in the period, with ``la_code`` of
    their family and the given ``people`` columns, sorted by family then person, RangeIndex."""
    persons = cohort_members(cohort, people, period)[columns]
    persons = persons.sort_values(["family_id", "person_id"], kind="mergesort")
    persons = persons.reset_index(drop=True)
    return persons.assign(la_code=family_values(persons, cohort, "la_code"))


def family_values(persons: pd.DataFrame, families: pd.DataFrame, column: str) -> pd.Series:
    """``families[column]`` of each person's family, aligned with ``persons``."""
    where = positions(persons["family_id"], families["family_id"])
    values = families[column].iloc[np.where(where >= 0, where, 0)]
    return values.set_axis(persons.index).where(where >= 0)
