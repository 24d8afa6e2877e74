"""Social care flags of section 3: ``cin_any``, ``cpp_any``, ``lac_any`` (an episode of that type
overlaps the period) and ``cin_at_census``, ``cpp_at_census``, ``lac_at_census`` (an episode of
that type is open on the census date). An empty ``end_date`` means the episode is still open.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from schemas.keys import isin
from transforms.inputs import int_flags, timestamp
from transforms.periods import Period


def open_on(spells: pd.DataFrame, day: date) -> pd.Series:
    """Boolean mask: ``start_date <= day`` and (``end_date`` empty or ``>= day``)."""
    d = timestamp(day)
    end = spells["end_date"]
    mask = (spells["start_date"] <= d) & (end.isna() | (end >= d))
    return mask.fillna(False).astype(bool)


def overlaps_period(spells: pd.DataFrame, period: Period) -> pd.Series:
    """Boolean mask: ``start_date <= C`` and (``end_date`` empty or ``>= S``)."""
    end = spells["end_date"]
    mask = (spells["start_date"] <= timestamp(period.census)) & (
        end.isna() | (end >= timestamp(period.start))
    )
    return mask.fillna(False).astype(bool)


def social_care_flags(
    episodes: pd.DataFrame, persons: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """The six social care flags per person of ``persons``, aligned with its index."""
    overlapping = overlaps_period(episodes, period).to_numpy(dtype=bool)
    open_at_census = open_on(episodes, period.census).to_numpy(dtype=bool)
    ids = persons["person_id"]
    columns: dict[str, pd.arrays.IntegerArray] = {}
    for kind, name in (("CIN", "cin"), ("CPP", "cpp"), ("LAC", "lac")):
        of_kind = (episodes["episode_type"] == kind).to_numpy(dtype=bool)
        anyone = episodes.loc[of_kind & overlapping, "person_id"]
        columns[f"{name}_any"] = int_flags(isin(ids, anyone))
    for kind, name in (("CIN", "cin"), ("CPP", "cpp"), ("LAC", "lac")):
        of_kind = (episodes["episode_type"] == kind).to_numpy(dtype=bool)
        at_census = episodes.loc[of_kind & open_at_census, "person_id"]
        columns[f"{name}_at_census"] = int_flags(isin(ids, at_census))
    return pd.DataFrame(columns, index=persons.index)
