"""Age in whole years on a date, by the convention of :mod:`schemas.ages` (which validation's age
checks use too). (Census dates are 31 March and 30 September, so a 29 February birthday cannot
change an FPD value; it is tested for the helper all the same.)

A missing date of birth, or one after the date (not yet born on it), gives an empty age.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from schemas.ages import whole_years
from transforms.inputs import timestamp


def age_in_years(dob: pd.Series, on: date) -> pd.Series:
    """Whole years from ``dob`` to ``on`` as Int64 (empty when ``dob`` is missing or after
    ``on``), index aligned with ``dob``."""
    day = timestamp(on)
    return whole_years(dob, day).mask(dob.isna() | (dob > day)).astype("Int64")


def age_mask(age: pd.Series, low: int, high: int) -> np.ndarray:
    """Boolean array: ``low <= age <= high`` (False where the age is empty)."""
    return ((age >= low) & (age <= high)).fillna(False).to_numpy(dtype=bool)
