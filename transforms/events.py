"""Event counts of section 3: offences, ASB incidents, domestic abuse incidents, exclusions.

Every function takes the people of the FPD cohort (``person_id``, ``family_id``) and returns
columns aligned with their index. An event counts when its date is in the period:
``S <= date <= C``. Events of people outside the cohort are ignored.

Choices where the spec is silent:
- Each row of an event extract is one event: rows are counted, never de-duplicated (the extracts
  carry no event identifier, and two offences on one day are two offences).
- ``da_incidents`` counts the incidents naming the person wherever they were recorded, even under
  another family's ``family_id``; ``family_da_incidents`` counts the incidents recorded under the
  person's own family, named or not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.keys import count_per, isin, positions
from transforms.inputs import int_flags, timestamp
from transforms.periods import Period


def in_period(dates: pd.Series, period: Period) -> pd.Series:
    """Boolean mask: the date is in ``period``, ``S <= date <= C`` (False when missing)."""
    return dates.between(timestamp(period.start), timestamp(period.census)).fillna(False)


def count_by(keys: pd.Series, target: pd.Series) -> pd.arrays.IntegerArray:
    """For each value of ``target``, how many times it occurs in ``keys`` (Int64, 0 if never;
    ``target`` may repeat values, e.g. the family of each person)."""
    codes, uniques = pd.factorize(target)
    counts = count_per(positions(keys, uniques), len(uniques))
    return pd.array(np.where(codes >= 0, counts[codes], 0), dtype="Int64")


def event_counts(
    events: pd.DataFrame, date_column: str, persons: pd.DataFrame, period: Period
) -> pd.arrays.IntegerArray:
    """Rows of ``events`` dated in the period, counted per person of ``persons``."""
    keys = events.loc[in_period(events[date_column], period).to_numpy(dtype=bool), "person_id"]
    return count_by(keys, persons["person_id"])


def domestic_abuse_counts(
    incidents: pd.DataFrame, persons: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """``da_incidents`` and ``family_da_incidents`` per person."""
    dated = incidents.loc[in_period(incidents["incident_date"], period).to_numpy(dtype=bool)]
    return pd.DataFrame(
        {
            "da_incidents": count_by(dated["person_id"], persons["person_id"]),
            "family_da_incidents": count_by(dated["family_id"], persons["family_id"]),
        },
        index=persons.index,
    )


def exclusion_measures(
    exclusions: pd.DataFrame, persons: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """``suspensions`` (count) and ``permanent_exclusion`` (0/1) per person."""
    dated = exclusions.loc[in_period(exclusions["start_date"], period).to_numpy(dtype=bool)]
    kind = dated["exclusion_type"]
    suspended = dated.loc[(kind == "SUSPENSION").to_numpy(dtype=bool), "person_id"]
    permanent = dated.loc[(kind == "PERMANENT").to_numpy(dtype=bool), "person_id"]
    return pd.DataFrame(
        {
            "suspensions": count_by(suspended, persons["person_id"]),
            "permanent_exclusion": int_flags(isin(persons["person_id"], permanent)),
        },
        index=persons.index,
    )
