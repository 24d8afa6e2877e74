"""Dates and whole numbers (schemas.parsing): hand-worked cases, and property tests that a column
is read value by value: the same answer whether a text is repeated (each distinct text is then
read once) or alone, and the answer Python's calendar or int() gives."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.parsing import parse_dates, parse_whole_numbers


def _column(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


def _read(values: list[str | None]) -> list[tuple[dt.date | None, bool, bool]]:
    dates, invalid, ambiguous = parse_dates(_column(values))
    return [
        (None if pd.isna(d) else d.date(), bool(i), bool(a))
        for d, i, a in zip(dates, invalid, ambiguous, strict=True)
    ]


def test_calendar_edges() -> None:
    # The Gregorian leap rules (every 4th year, not every 100th, but every 400th) and the
    # 1800-2200 limits, both ends included.
    values = [
        "2000-02-29",
        "29/02/2000",
        "1900-02-29",
        "29/02/2100",
        "1800-01-01",
        "01/01/1800",
        "2200-12-31",
        "31/12/2200",
        "2201-01-01",
    ]
    assert _read(values) == [
        (dt.date(2000, 2, 29), False, False),
        (dt.date(2000, 2, 29), False, False),
        (None, True, False),
        (None, True, False),
        (dt.date(1800, 1, 1), False, False),
        (dt.date(1800, 1, 1), False, False),
        (dt.date(2200, 12, 31), False, False),
        (dt.date(2200, 12, 31), False, False),
        (None, True, False),
    ]


def test_hand_worked_dates() -> None:
    values = [
        "2025-04-01",
        "01/04/2025",
        "1/4/2025",
        "2024-02-29",
        "29/02/2023",
        "31/02/2025",
        "2025-13-01",
        "01/04/25",
        "1799-12-31",
        "2025-04-01 10:30",
        "2025-04-01T23:59:59.5",
        "2025-04-01T99:99",
        "2025-04-01 24:00",
        "2025-04-01 10:60",
        "next week",
        None,
    ]
    expected = [
        (dt.date(2025, 4, 1), False, False),
        (dt.date(2025, 4, 1), False, False),
        (dt.date(2025, 4, 1), False, False),
        (dt.date(2024, 2, 29), False, False),
        (None, True, False),  # not a leap year
        (None, True, False),
        (None, True, False),
        (None, False, True),  # a two-digit year is ambiguous, not invalid
        (None, True, False),  # outside 1800-2200: a typing slip
        (dt.date(2025, 4, 1), False, False),
        (dt.date(2025, 4, 1), False, False),
        (None, True, False),  # a time of day that is none: not a date and a time to ignore
        (None, True, False),
        (None, True, False),
        (None, True, False),
        (None, False, False),  # missing is neither
    ]
    # Repeated, so the column is read through its distinct values.
    assert _read(values * 3) == expected * 3


_YEARS = st.integers(1790, 2210)
Expected = tuple[dt.date | None, bool, bool] | None  # None: the calendar alone cannot say


@st.composite
def _date_text(draw: st.DrawFn) -> tuple[str | None, Expected]:
    """A text and the answer Python's calendar gives for it."""
    kind = draw(st.sampled_from(["iso", "uk", "uk-short", "two-digit", "junk", "missing"]))
    year, month, day = draw(_YEARS), draw(st.integers(0, 13)), draw(st.integers(0, 32))
    try:
        date: dt.date | None = dt.date(year, month, day)
    except ValueError:
        date = None
    if date is None or not 1800 <= year <= 2200:
        on_calendar: Expected = (None, True, False)
    else:
        on_calendar = (date, False, False)
    if kind == "iso":
        return f"{year:04d}-{month:02d}-{day:02d}", on_calendar
    if kind == "uk":
        return f"{day:02d}/{month:02d}/{year:04d}", on_calendar
    if kind == "uk-short":
        return f"{day}/{month}/{year}", on_calendar
    if kind == "two-digit":
        return f"{day % 100:02d}/{month:02d}/{year % 100:02d}", (None, False, True)
    if kind == "junk":
        return draw(st.text(alphabet="0123456789-/ T:.aZ", min_size=1, max_size=12)), None
    return None, (None, False, False)


@settings(max_examples=300, deadline=None)
@given(
    distinct=st.lists(_date_text(), min_size=1, max_size=12),
    picks=st.lists(st.integers(0, 11), min_size=1, max_size=60),
)
def test_a_column_is_read_value_by_value(
    distinct: list[tuple[str | None, Expected]], picks: list[int]
) -> None:
    chosen = [distinct[i % len(distinct)] for i in picks]
    column = [text for text, _ in chosen]
    alone = [_read([text])[0] for text in column]
    assert _read(column) == alone
    for (text, expected), answer in zip(chosen, alone, strict=True):
        if expected is not None:
            assert answer == expected, text


def test_the_dates_keep_the_index() -> None:
    column = pd.Series(["2025-04-01", "2025-04-01", None], index=[7, 3, 9], dtype="str")
    dates, invalid, ambiguous = parse_dates(column)
    assert list(dates.index) == [7, 3, 9]
    assert list(invalid.index) == list(ambiguous.index) == [7, 3, 9]
    assert dates.dtype == np.dtype("datetime64[ns]")


def _numbers(values: list[str | None]) -> list[tuple[int | None, bool]]:
    numbers, invalid = parse_whole_numbers(_column(values))
    return [
        (None if pd.isna(n) else int(n), bool(i)) for n, i in zip(numbers, invalid, strict=True)
    ]


def test_hand_worked_whole_numbers() -> None:
    values = ["0", "+5", "007", "999999999", "1000000000", "-1", "1.0", "5 ", "", "١٢", None]
    expected = [
        (0, False),
        (5, False),
        (7, False),
        (999_999_999, False),
        (None, True),  # ten digits: more than a count can be
        (None, True),
        (None, True),
        (None, True),
        (None, True),
        (None, True),  # Arabic-Indic digits are not 0-9
        (None, False),
    ]
    assert _numbers(values * 2) == expected * 2


_NUMBER_TEXT = st.one_of(
    st.none(),
    st.integers(0, 2_000_000_000).map(str),
    st.integers(0, 999).map(lambda n: f"+{n:03d}"),
    st.text(alphabet="0123456789+-. ", min_size=0, max_size=11),
)


@settings(max_examples=300, deadline=None)
@given(
    distinct=st.lists(_NUMBER_TEXT, min_size=1, max_size=12),
    picks=st.lists(st.integers(0, 11), min_size=1, max_size=60),
)
def test_a_column_of_numbers_is_read_value_by_value(
    distinct: list[str | None], picks: list[int]
) -> None:
    column = [distinct[i % len(distinct)] for i in picks]
    alone = [_numbers([text])[0] for text in column]
    assert _numbers(column) == alone
    for text, answer in zip(column, alone, strict=True):
        if text is None:
            assert answer == (None, False)
        elif re.fullmatch(r"\+?[0-9]{1,9}", text):
            assert answer == (int(text), False)
        else:
            assert answer == (None, True), text
