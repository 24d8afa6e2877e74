"""Periods and census dates (spec section 1).

A period is the six months ending on a census date, 31 March or 30 September, and is named by
that date: ``2025-09-30`` is 1 Apr 2025 to 30 Sep 2025 inclusive, ``2026-03-31`` is 1 Oct 2025
to 31 Mar 2026 inclusive. A census date given as text or a date becomes a :class:`Period` once,
where it enters the program; everything downstream takes the ``Period``.

Choices where the spec is silent:
- Text must be an ISO calendar date ``YYYY-MM-DD`` (surrounding spaces ignored); other ISO forms
  that :meth:`date.fromisoformat` would accept (``20250930``, week dates) are refused, so a period
  is always named one way.
- A ``datetime`` (or ``pandas.Timestamp``) is accepted and its date part is used.
- Census dates run from ``EARLIEST_CENSUS`` (2015-09-30, the end of the first period of the
  expanded programme, which began on 1 April 2015) to ``LATEST_CENSUS`` (2199-09-30: dates from
  2201 are typing slips to the date parser); a census date outside them is refused when a user
  names it, though a period's arithmetic (the period before the first one) still works. A run
  also refuses a census date after the extract date (:func:`check_census_not_after`): that
  period had not ended when the extracts were taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from schemas.errors import UserInputError

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# (month, day) of the two census dates in a calendar year, in calendar order.
_CENSUS_DAYS = ((3, 31), (9, 30))
EARLIEST_CENSUS = date(2015, 9, 30)
LATEST_CENSUS = date(2199, 9, 30)


class CensusDateError(UserInputError, ValueError):
    """A date given as a period is not a census date, or is not a date at all."""


def is_census(value: date) -> bool:
    return (value.month, value.day) in _CENSUS_DAYS


def _census_before(value: date) -> date:
    """The latest census date strictly before ``value``."""
    for year in (value.year, value.year - 1):
        for month, day in reversed(_CENSUS_DAYS):
            candidate = date(year, month, day)
            if candidate < value:
                return candidate
    raise AssertionError("unreachable: a census date falls in every year")


def _census_after(value: date) -> date:
    """The earliest census date strictly after ``value``."""
    for year in (value.year, value.year + 1):
        for month, day in _CENSUS_DAYS:
            candidate = date(year, month, day)
            if candidate > value:
                return candidate
    raise AssertionError("unreachable: a census date falls in every year")


def parse_census(value: str | date) -> date:
    """Read a period name (ISO text or a date) and check it is a census date the pipeline
    supports (``EARLIEST_CENSUS`` to ``LATEST_CENSUS``).

    Raises :class:`CensusDateError` naming the nearest census dates before and after.
    """
    day = _read_day(value)
    if not EARLIEST_CENSUS <= day <= LATEST_CENSUS:
        raise CensusDateError(
            f"{day.isoformat()} is outside the census dates the pipeline supports, "
            f"{EARLIEST_CENSUS.isoformat()} (the first period of the expanded programme) to "
            f"{LATEST_CENSUS.isoformat()}"
        )
    return _census_day(day)


INVALID_CENSUS = "invalid-census-date"


def census_shape(text: str) -> str:
    """``text`` when it has a census date's shape (YYYY-MM-DD), else "invalid-census-date": what
    was typed for a census date may reach a run's name or the audit line only as a date, never
    as ten thousand characters or a name typed into the wrong field."""
    return text if _ISO_DATE.fullmatch(text) else INVALID_CENSUS


# A date's shape, written any common way (2025-09-30, 30/09/2025, 30.9.25): an NHS number
# typed into the wrong field ("943 476 5919") is made of digits and spaces too, and is not one.
_DATE_LIKE = re.compile(r"[0-9]{1,4}[./-][0-9]{1,2}[./-][0-9]{1,4}")


def typed_date(value: str) -> str:
    """What was typed, quoted, when it is made of what dates are made of (31/03/2026 is worth
    showing back); otherwise not at all: a message (a run's state, a log line) must not carry
    ten thousand characters, or a name typed into the wrong field."""
    return repr(value) if _DATE_LIKE.fullmatch(value) else "the value given"


def _read_day(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_DATE.match(text):
            raise CensusDateError(
                f"{typed_date(value)} is not a date in ISO form YYYY-MM-DD (a census date is 31 "
                "March or 30 September, e.g. 2025-09-30)"
            )
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            reason = str(exc) if len(text) <= 20 else "not a date"
            raise CensusDateError(
                f"{typed_date(value)} is not a valid calendar date: {reason}"
            ) from None
    raise CensusDateError(f"a census date must be ISO text or a date, not {type(value).__name__}")


def _census_day(day: date) -> date:
    if not is_census(day):
        raise CensusDateError(
            f"{day.isoformat()} is not a census date (31 March or 30 September): the nearest are "
            f"{_census_before(day).isoformat()} and {_census_after(day).isoformat()}"
        )
    return day


def check_census_not_after(census: date, extract_date: date) -> date:
    """``census``, unless it is after ``extract_date``: that period had not ended when the
    extracts were taken, so its submission would be missing what happened after."""
    if census > extract_date:
        raise CensusDateError(
            f"census date {census.isoformat()} is after the extract date "
            f"{extract_date.isoformat()}: that period had not ended when the extracts were taken "
            "(set extract_date in the config when the extracts are newer than today)"
        )
    return census


def _start_of(census: date) -> date:
    """First day of the period ending on the census date ``census`` (already checked)."""
    if census.month == 9:
        return date(census.year, 4, 1)
    return date(census.year - 1, 10, 1)


@dataclass(frozen=True)
class Period:
    """One period, named by its census date, with the bounds every transform needs.

    Made once where a census date enters the program (:meth:`of`); the transforms and exports
    take it as it is and never parse or derive a bound again. Only ``census`` is given: the other
    fields follow from it, so a ``Period`` cannot hold bounds that disagree with its name.
    """

    census: date  # C: 31 March or 30 September, the last day of the period
    start: date = field(init=False)  # S: the first day of the period
    previous_census: date = field(init=False)  # the census date of the period before (S - 1 day)
    # S': the first day of the period before, the cut-off for support that ended (section 1)
    previous_start: date = field(init=False)

    def __post_init__(self) -> None:
        # Any census date: the period before the first supported one is still a period (its
        # start is the cut-off of the first one's cohorts). Users' dates go through of().
        census = _census_day(_read_day(self.census))
        previous = _census_before(census)
        object.__setattr__(self, "census", census)
        object.__setattr__(self, "start", _start_of(census))
        object.__setattr__(self, "previous_census", previous)
        object.__setattr__(self, "previous_start", _start_of(previous))

    @classmethod
    def of(cls, value: str | date) -> Period:
        """The period named by ``value`` (ISO text or a date); :class:`CensusDateError`, naming
        the nearest census dates, when it is not a census date."""
        return cls(parse_census(value))

    @property
    def label(self) -> str:
        """The period's name: its census date in ISO form, as in folder and file names."""
        return self.census.isoformat()

    def __str__(self) -> str:
        return self.label


def census_dates_between(first: date, last: date) -> list[date]:
    """Census dates ``d`` with ``first <= d <= last``, ascending (empty when ``first > last``)."""
    if isinstance(first, datetime):
        first = first.date()
    if isinstance(last, datetime):
        last = last.date()
    dates: list[date] = []
    current = first if is_census(first) else _census_after(first)
    while current <= last:
        dates.append(current)
        current = _census_after(current)
    return dates


def latest_census(today: date, lag: timedelta) -> date:
    """The latest census date on or before ``today - lag`` (the newest period whose data is in)."""
    if isinstance(today, datetime):
        today = today.date()
    cutoff = today - lag
    return cutoff if is_census(cutoff) else _census_before(cutoff)
