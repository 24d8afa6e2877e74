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
from datetime import date

import pandas as pd

from schemas.outputs import FPD_COLUMNS
from transforms.age import age_in_years
from transforms.attendance import attendance_measures
from transforms.cohorts import cohort_people, fpd_cohort
from transforms.employment import employment_measures
from transforms.events import domestic_abuse_counts, event_counts, exclusion_measures
from transforms.inputs import census_column, extract
from transforms.periods import parse_census
from transforms.social_care import social_care_flags


def age_at_census(persons: pd.DataFrame, census: date) -> pd.Series:
    """Whole years on C; empty for ``UNBORN`` (and see :mod:`transforms.age`)."""
    age = age_in_years(persons["dob"], census)
    return age.mask((persons["role"] == "UNBORN").fillna(False).astype(bool)).astype("Int64")


def compute_fpd(extracts: Mapping[str, pd.DataFrame], census: date) -> pd.DataFrame:
    """The FPD table of the period ending on ``census``: FPD_COLUMNS in order."""
    census = parse_census(census)
    families = extract(extracts, "families")
    people = extract(extracts, "people")
    persons = cohort_people(
        fpd_cohort(families, census), people, census, ["family_id", "person_id", "role", "dob"]
    )
    age = age_at_census(persons, census)
    keys = persons[["family_id", "person_id"]]

    measures = pd.concat(
        [
            pd.DataFrame(
                {
                    "age_at_census": age,
                    "proven_offences": event_counts(
                        extract(extracts, "offences"), "offence_date", keys, census
                    ),
                    "asb_incidents": event_counts(
                        extract(extracts, "asb_incidents"), "incident_date", keys, census
                    ),
                },
                index=persons.index,
            ),
            domestic_abuse_counts(extract(extracts, "domestic_abuse_incidents"), keys, census),
            attendance_measures(extract(extracts, "school_attendance"), keys, census),
            exclusion_measures(extract(extracts, "exclusions"), keys, census),
            social_care_flags(extract(extracts, "social_care_episodes"), keys, census),
            employment_measures(extract(extracts, "employment_spells"), keys, age, census),
        ],
        axis=1,
    )
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "la_code": persons["la_code"].astype("str"),
                    "census_date": census_column(census, len(persons)),
                    "family_id": persons["family_id"].astype("str"),
                    "person_id": persons["person_id"].astype("str"),
                }
            ),
            measures,
        ],
        axis=1,
    )
    return out[FPD_COLUMNS]
