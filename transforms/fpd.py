"""Family Progress Data (spec section 3): one row per person of the FPD cohort for the period
ending on the census date C, with every measure of the contract.

The rows are the members, in the period, of the families in the FPD cohort (which
:func:`transforms.cohorts.fpd_cohort` already intersects with the NIS cohort), less anyone who
opted out; sorted by ``family_id`` then ``person_id``, with a RangeIndex and the columns of
:data:`schemas.outputs.FPD_COLUMNS`. The input frames are never modified.

Choices where the spec is silent (see also the docstrings of the measure modules):
- ``age_at_census`` is empty for ``UNBORN``, for a missing ``dob`` and for a ``dob`` after C (a
  child not yet born on C, met in a backfill); ``neet_at_census`` is then empty too.
- Event rows of people outside the cohort (or of people who left the family before the period)
  are ignored; events of a cohort member count whatever family they were recorded under, except
  ``family_da_incidents``, which is by the incident's ``family_id``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from schemas.outputs import FPD_COLUMNS
from transforms.age import age_in_years
from transforms.attendance import attendance_measures
from transforms.cohorts import cohort_people, fpd_cohort
from transforms.employment import employment_measures
from transforms.events import domestic_abuse_counts, event_counts, exclusion_measures
from transforms.inputs import census_column, extract
from transforms.periods import Period
from transforms.social_care import social_care_flags


def age_at_census(persons: pd.DataFrame, period: Period) -> pd.Series:
    """Whole years on C; empty for ``UNBORN`` (and see :mod:`transforms.age`)."""
    age = age_in_years(persons["dob"], period.census)
    return age.mask((persons["role"] == "UNBORN").fillna(False).astype(bool)).astype("Int64")


def compute_fpd(extracts: Mapping[str, pd.DataFrame], period: Period) -> pd.DataFrame:
    """The FPD table of ``period``: FPD_COLUMNS in order."""
    families = extract(extracts, "families")
    people = extract(extracts, "people")
    persons = cohort_people(
        fpd_cohort(families, period), people, period, ["family_id", "person_id", "role", "dob"]
    )
    age = age_at_census(persons, period)
    keys = persons[["family_id", "person_id"]]

    measures = pd.concat(
        [
            pd.DataFrame(
                {
                    "age_at_census": age,
                    "proven_offences": event_counts(
                        extract(extracts, "offences"), "offence_date", keys, period
                    ),
                    "asb_incidents": event_counts(
                        extract(extracts, "asb_incidents"), "incident_date", keys, period
                    ),
                },
                index=persons.index,
            ),
            domestic_abuse_counts(extract(extracts, "domestic_abuse_incidents"), keys, period),
            attendance_measures(extract(extracts, "school_attendance"), keys, period),
            exclusion_measures(extract(extracts, "exclusions"), keys, period),
            social_care_flags(extract(extracts, "social_care_episodes"), keys, period),
            employment_measures(extract(extracts, "employment_spells"), keys, age, period),
        ],
        axis=1,
    )
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "la_code": persons["la_code"].astype("str"),
                    "census_date": census_column(period.census, len(persons)),
                    "family_id": persons["family_id"].astype("str"),
                    "person_id": persons["person_id"].astype("str"),
                }
            ),
            measures,
        ],
        axis=1,
    )
    return out[FPD_COLUMNS]
