"""The individuals table (spec sections 1, 4 and 5): one row per person of the NIS cohort for
the period ending on the census date C, less anyone who opted out; sorted by ``family_id`` then
``person_id``, RangeIndex, the columns of :data:`schemas.outputs.INDIVIDUALS_COLUMNS`.

Every value describes the family as at C: ``intervention_status`` and the problems met are
computed on C, and ``date_support_started`` / ``date_support_ended`` are written only when they
are on or before C (else empty). ``la_code`` comes from the family row; ``gender`` is written as
its CIN census code (1 male, 2 female, 9 indeterminate, 0 not recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd

from schemas import codes
from schemas.keys import positions
from schemas.models import People
from schemas.outputs import INDIVIDUALS_COLUMNS
from transforms.cohorts import cohort_people, nis_cohort
from transforms.inputs import census_column, extract, timestamp
from transforms.periods import Period
from transforms.status import intervention_status, problems_met

# The individuals columns that are carried over from the people extract, in file order.
_PEOPLE_COLUMNS = [c for c in INDIVIDUALS_COLUMNS if c in People.to_schema().columns]


def family_as_at(families: pd.DataFrame, eligibility: pd.DataFrame, census: date) -> pd.DataFrame:
    """Per family: ``family_id``, status of intervention, dates as at C and problems met."""
    c = timestamp(census)
    as_at = pd.DataFrame(
        {
            "family_id": families["family_id"],
            "intervention_status": intervention_status(families, census),
            "date_identified": families["date_identified"],
            "date_support_started": families["date_support_started"].where(
                families["date_support_started"] <= c
            ),
            "date_support_ended": families["date_support_ended"].where(
                families["date_support_ended"] <= c
            ),
        },
        index=families.index,
    )
    problems = problems_met(families, eligibility, census).drop(columns="family_id")
    return pd.concat([as_at, problems], axis=1)


def build_individuals(extracts: Mapping[str, pd.DataFrame], period: Period) -> pd.DataFrame:
    """The individuals table of ``period``: INDIVIDUALS_COLUMNS in order."""
    families = extract(extracts, "families")
    cohort = nis_cohort(families, period)
    persons = cohort_people(cohort, extract(extracts, "people"), period, _PEOPLE_COLUMNS)
    family_columns = family_as_at(cohort, extract(extracts, "eligibility"), period.census)
    # every person comes from a cohort family, so each finds its family row
    where = positions(persons["family_id"], family_columns["family_id"])
    if (where < 0).any():
        raise AssertionError("a cohort member without a cohort family")
    as_at = family_columns.drop(columns="family_id").iloc[where].reset_index(drop=True)
    out = pd.concat([persons, as_at], axis=1)
    out = out.assign(
        census_date=census_column(period.census, len(out)),
        gender=out["gender"].map(codes.GENDER_CIN_CODES).astype("str"),
    )
    for column in ("date_support_started", "date_support_ended", "dob", "expected_dob"):
        out[column] = out[column].astype("datetime64[ns]")
    text = [c for c in INDIVIDUALS_COLUMNS if out[c].dtype == object]
    out[text] = out[text].astype("str")
    return out[INDIVIDUALS_COLUMNS].reset_index(drop=True)
