"""Age in whole years, one convention for validation and the FPD measures.

A person attains an age at the first moment of the anniversary of their birth (the UK legal
convention, Family Law Reform Act 1969 s.9 as applied by the courts); someone born on 29
February has their birthday on 1 March in a common year. Comparing (month, day) pairs gives
exactly that: on 28 February of a common year (2, 28) < (2, 29), so the birthday has not come
yet; on 1 March it has. Adding ``DateOffset(years=n)`` does not (it lands on 28 February).
"""

from __future__ import annotations

import pandas as pd


def whole_years(dob: pd.Series, on: pd.Series | pd.Timestamp) -> pd.Series:
    """Whole years from ``dob`` to ``on`` (one date, or a date per row aligned with ``dob``) as
    Int64; missing where a date is. Negative when ``dob`` is after ``on``."""
    born = dob.dt
    day = on.dt if isinstance(on, pd.Series) else on
    before_birthday = (born.month * 100 + born.day) > (day.month * 100 + day.day)
    return (day.year - born.year - before_birthday.astype("Int64")).astype("Int64")
