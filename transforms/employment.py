"""Employment measures of section 3: ``out_of_work_benefit_at_census``, ``employed_at_census``,
``weeks_continuous_employment`` and ``neet_at_census``.

Continuous employment: the ``EMPLOYED`` spells of a person join into runs when they overlap or
touch, i.e. the next spell (by start date) starts no later than the day after the latest end so
far; a one-day gap breaks the run. For someone employed on C, the weeks are
``floor((C - run start + 1 day) / 7)`` over the run that contains C; everyone else gets 0. Spells
starting after C cannot reach back to C, so they are left out before the runs are built.

The runs are computed on int64 day numbers over all spells at once (sort, per-person running
maximum of the end day, a cumulative sum that numbers the runs), with no loop over people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.keys import flag_per, positions
from transforms.age import age_mask
from transforms.inputs import day_number, day_numbers, int_flags
from transforms.periods import Period
from transforms.social_care import open_on

# Day number standing for "still open": far beyond any real date, with room to add a day.
_OPEN = 2**40


def run_start_on(
    owner: np.ndarray, start: np.ndarray, end: np.ndarray, census_day: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Over spells of one type given as arrays (``owner`` = position 0..size-1 of the person, -1
    to skip; ``start``/``end`` = day numbers, open end = a far-future day), the start day of the
    run of joined spells that contains ``census_day``, per person position.

    Returns ``(has_run, run_start)``, two arrays of length ``size``.
    """
    keep = (owner >= 0) & (start <= census_day)
    owner, start, end = owner[keep], start[keep], end[keep]
    order = np.lexsort((end, start, owner))
    owner, start, end = owner[order], start[order], end[order]

    # latest end among this person's earlier spells: a spell joins the run unless it starts
    # more than one day after it
    latest_end = pd.Series(end).groupby(owner).cummax().to_numpy()
    new_run = np.ones(len(start), dtype=bool)
    same_person = owner[1:] == owner[:-1]
    new_run[1:] = ~same_person | (start[1:] > latest_end[:-1] + 1)

    firsts = np.flatnonzero(new_run)
    run_start = start[firsts]
    run_end = np.maximum.reduceat(end, firsts) if len(firsts) else end[:0]
    run_owner = owner[firsts]
    contains = (run_start <= census_day) & (run_end >= census_day)

    has_run = np.zeros(size, dtype=bool)
    starts = np.zeros(size, dtype=np.int64)
    has_run[run_owner[contains]] = True
    starts[run_owner[contains]] = run_start[contains]
    return has_run, starts


def employment_measures(
    spells: pd.DataFrame, persons: pd.DataFrame, age: pd.Series, period: Period
) -> pd.DataFrame:
    """The four employment measures per person of ``persons`` (``age`` aligned with it)."""
    size = len(persons)
    owner = positions(spells["person_id"], persons["person_id"])
    kind = np.asarray(spells["spell_type"], dtype=object)
    open_at_census = open_on(spells, period.census).to_numpy(dtype=bool)

    def open_flags(spell_type: str) -> np.ndarray:
        return flag_per(np.where((kind == spell_type) & open_at_census, owner, -1), size)

    employed = open_flags("EMPLOYED")
    c = day_number(period.census)
    is_employment = kind == "EMPLOYED"
    has_run, run_start = run_start_on(
        np.where(is_employment, owner, -1),
        day_numbers(spells["start_date"], missing=_OPEN),
        day_numbers(spells["end_date"], missing=_OPEN),
        c,
        size,
    )
    weeks = np.where(employed & has_run, (c - run_start + 1) // 7, 0)

    neet = pd.array(open_flags("NEET").astype(np.int64), dtype="Int64")
    neet[~age_mask(age, 16, 18)] = pd.NA
    return pd.DataFrame(
        {
            "out_of_work_benefit_at_census": int_flags(open_flags("OUT_OF_WORK_BENEFIT")),
            "employed_at_census": int_flags(employed),
            "weeks_continuous_employment": pd.array(weeks.astype(np.int64), dtype="Int64"),
            "neet_at_census": neet,
        },
        index=persons.index,
    )
