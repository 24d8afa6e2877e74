"""Age in whole years on a date.

Convention (the UK legal one, Family Law Reform Act 1969 s.9 as applied by the courts): a person
attains an age at the first moment of the anniversary of their birth; someone born on 29 February
has their birthday on 1 March in a year that is not a leap year. Comparing (month, day) pairs
gives exactly that: on 28 February of a common year (2, 28) < (2, 29), so the birthday has not
come yet; on 1 March it has. (Census dates are 31 March and 30 September, so the case cannot
change an FPD value; it is tested for the helper all the same.)

A missing date of birth, or one after the date (not yet born on it), gives an empty age.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from transforms.inputs import timestamp


def age_in_years(dob: pd.Series, on: date) -> pd.Series:
    """Whole years from ``dob`` to ``on`` as Int64 (empty when ``dob`` is missing or after
    ``on``), index aligned with ``dob``."""
    day = timestamp(on)
    born = dob.dt
    before_birthday = (born.month * 100 + born.day) > (day.month * 100 + day.day)
    years = day.year - born.year - before_birthday.astype("Int64")
    years = years.astype("Int64")
    return years.mask(dob.isna() | (dob > day)).astype("Int64")


def age_mask(age: pd.Series, low: int, high: int) -> np.ndarray:
    """Boolean array: ``low <= age <= high`` (False where the age is empty)."""
    return ((age >= low) & (age <= high)).fillna(False).to_numpy(dtype=bool)
