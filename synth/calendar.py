"""The time frame of the synthetic data and its school terms.

Families are identified from April 2019 to June 2026, so every census date from 2024-03-31 to
2026-09-30 has families identified, supported, closed and followed up. The data is as extracted
on ``EXTRACT_DATE``: no event is later than ``ACTIVITY_END`` and no one is born after ``DOB_MAX``,
so any extract date from ``DOB_MAX`` on validates the clean rows without a "future" finding.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

IDENTIFIED_FROM = np.datetime64("2019-04-01", "D")
IDENTIFIED_TO = np.datetime64("2026-06-30", "D")
ACTIVITY_END = np.datetime64("2026-09-30", "D")
DOB_MAX = np.datetime64("2026-03-31", "D")
EXTRACT_DATE = dt.date(2026, 10, 31)

YEAR = 365.25  # days, for ages
FIRST_ACADEMIC_YEAR = 2017


def school_terms() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term_start, term_end, base possible sessions, academic year start) of every term from
    autumn 2017 to summer 2026: autumn September-December, spring January-March/April, summer
    April-July. Dates wobble by a few days from year to year, as real term dates do."""
    starts: list[np.datetime64] = []
    ends: list[np.datetime64] = []
    possible: list[int] = []
    year_start: list[np.datetime64] = []
    for year in range(FIRST_ACADEMIC_YEAR, 2026):
        wobble = year % 4
        september = np.datetime64(f"{year}-09-01", "D")
        for start, end, sessions in (
            (f"{year}-09-{2 + wobble:02d}", f"{year}-12-{18 + wobble:02d}", 136),
            (f"{year + 1}-01-{4 + wobble:02d}", f"{year + 1}-03-{28 + wobble:02d}", 118),
            (f"{year + 1}-04-{14 + wobble:02d}", f"{year + 1}-07-{19 + wobble:02d}", 124),
        ):
            starts.append(np.datetime64(start, "D"))
            ends.append(np.datetime64(end, "D"))
            possible.append(sessions)
            year_start.append(september)
    return (
        np.array(starts, dtype="datetime64[D]"),
        np.array(ends, dtype="datetime64[D]"),
        np.array(possible, dtype=np.int64),
        np.array(year_start, dtype="datetime64[D]"),
    )
