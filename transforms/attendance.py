"""School attendance measures of section 3: ``attendance_pct``, ``unauthorised_absence_pct`` and
``persistent_absence``, over the attendance rows whose ``term_end`` is in the period.

Sessions are summed over those rows first, then the percentages are taken of the sums (a term
with more possible sessions weighs more). Rounding is half up to one decimal, done in integer
arithmetic so that 92.25 gives 92.3 and 92.35 gives 92.4 whatever binary floating point makes of
them: tenths = floor((2000 x + p) / (2 p)) for 100 x / p. The result is a Float64 holding that
number of tenths divided by 10.

All three are empty when the person has no such rows or their possible sessions sum to 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.keys import count_per, positions
from transforms.events import in_period
from transforms.periods import Period

_SESSIONS = ["possible_sessions", "authorised_absence_sessions", "unauthorised_absence_sessions"]


def half_up_tenths(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``round_half_up(100 * numerator / denominator, 1)`` as whole tenths (int64); the caller
    masks out zero denominators."""
    safe = np.where(denominator > 0, denominator, 1)
    return (2000 * numerator + safe) // (2 * safe)


def attendance_measures(
    attendance: pd.DataFrame, persons: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """The three attendance measures per person of ``persons``, aligned with its index."""
    rows = attendance.loc[in_period(attendance["term_end"], period).to_numpy(dtype=bool)]
    where = positions(rows["person_id"], persons["person_id"])
    possible, authorised, unauthorised = (
        count_per(where, len(persons), rows[column].to_numpy(dtype=np.float64, na_value=0))
        for column in _SESSIONS
    )
    empty = possible <= 0
    present = possible - authorised - unauthorised
    persistent = pd.array(10 * (authorised + unauthorised) >= possible, dtype="Int64")
    persistent[empty] = pd.NA
    return pd.DataFrame(
        {
            "attendance_pct": _tenths_or_empty(present, possible, empty),
            "unauthorised_absence_pct": _tenths_or_empty(unauthorised, possible, empty),
            "persistent_absence": persistent,
        },
        index=persons.index,
    )


def _tenths_or_empty(
    numerator: np.ndarray, possible: np.ndarray, empty: np.ndarray
) -> pd.arrays.FloatingArray:
    values = pd.array(half_up_tenths(numerator, possible) / 10, dtype="Float64")
    values[empty] = pd.NA
    return values
