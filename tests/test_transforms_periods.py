from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from transforms.periods import (
    CensusDateError,
    Period,
    census_dates_between,
    latest_census,
    parse_census,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-30", date(2025, 9, 30)),
        ("2026-03-31", date(2026, 3, 31)),
        ("  2025-09-30 ", date(2025, 9, 30)),
        (date(2025, 3, 31), date(2025, 3, 31)),
        (datetime(2025, 3, 31, 0, 0), date(2025, 3, 31)),
        (pd.Timestamp("2024-09-30"), date(2024, 9, 30)),
    ],
)
def test_parse_census_accepts_census_dates(value: str | date, expected: date) -> None:
    parsed = parse_census(value)
    assert parsed == expected
    assert type(parsed) is date


@pytest.mark.parametrize(
    ("value", "before", "after"),
    [
        ("2025-06-01", "2025-03-31", "2025-09-30"),
        ("2025-03-30", "2024-09-30", "2025-03-31"),
        ("2025-04-01", "2025-03-31", "2025-09-30"),
        ("2025-09-29", "2025-03-31", "2025-09-30"),
        ("2025-10-01", "2025-09-30", "2026-03-31"),
        ("2025-12-31", "2025-09-30", "2026-03-31"),
        ("2025-01-01", "2024-09-30", "2025-03-31"),
        ("2024-02-29", "2023-09-30", "2024-03-31"),
        (date(2025, 3, 30), "2024-09-30", "2025-03-31"),
    ],
)
def test_other_dates_name_the_nearest_census_dates(
    value: str | date, before: str, after: str
) -> None:
    with pytest.raises(CensusDateError) as error:
        parse_census(value)
    shown = value if isinstance(value, str) else value.isoformat()
    assert str(error.value) == (
        f"{shown} is not a census date (31 March or 30 September): the nearest are "
        f"{before} and {after}"
    )


def test_brief_example_message() -> None:
    with pytest.raises(ValueError, match=r"2025-03-31 and 2025-09-30"):
        parse_census("2025-06-01")


@pytest.mark.parametrize("text", ["31/03/2025", "20250331", "2025-3-31", "2025-W13-1", "", "soon"])
def test_text_that_is_not_an_iso_date_is_refused(text: str) -> None:
    with pytest.raises(CensusDateError, match="not a date in ISO form YYYY-MM-DD"):
        parse_census(text)


def test_impossible_calendar_date_is_refused() -> None:
    with pytest.raises(CensusDateError, match="not a valid calendar date"):
        parse_census("2025-09-31")


def test_wrong_type_is_refused() -> None:
    with pytest.raises(CensusDateError, match="not int"):
        parse_census(20250930)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("census", "start", "previous", "previous_start"),
    [
        ("2025-09-30", date(2025, 4, 1), date(2025, 3, 31), date(2024, 10, 1)),
        ("2026-03-31", date(2025, 10, 1), date(2025, 9, 30), date(2025, 4, 1)),
        ("2024-03-31", date(2023, 10, 1), date(2023, 9, 30), date(2023, 4, 1)),
        ("2100-03-31", date(2099, 10, 1), date(2099, 9, 30), date(2099, 4, 1)),
    ],
)
def test_period_bounds(census: str, start: date, previous: date, previous_start: date) -> None:
    period = Period.of(census)
    assert period.census == date.fromisoformat(census)
    assert period.start == start
    assert period.previous_census == previous
    assert period.previous_start == previous_start
    assert period.label == census
    assert str(period) == census
    # consecutive periods tile the calendar: no gap, no overlap
    assert period.start == period.previous_census + timedelta(days=1)
    assert Period(period.previous_census).start == period.previous_start


@pytest.mark.parametrize(
    "value", ["2025-09-30", " 2025-09-30", date(2025, 9, 30), datetime(2025, 9, 30, 12, 0)]
)
def test_one_period_however_it_is_named(value: str | date) -> None:
    period = Period.of(value)
    assert period == Period(date(2025, 9, 30))
    assert type(period.census) is date
    assert hash(period) == hash(Period(date(2025, 9, 30)))


def test_a_period_is_a_census_date_or_nothing() -> None:
    with pytest.raises(CensusDateError, match="2025-03-31 and 2025-09-30"):
        Period.of("2025-06-30")
    # the plain constructor checks too, so no Period holds bounds that disagree with its name
    with pytest.raises(CensusDateError, match="not a census date"):
        Period(date(2025, 6, 30))
    with pytest.raises(TypeError):
        Period(date(2025, 9, 30), start=date(2025, 1, 1))  # type: ignore[call-arg]


def test_a_period_cannot_be_changed() -> None:
    period = Period.of("2025-09-30")
    with pytest.raises(AttributeError):
        period.start = date(2025, 1, 1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2024, 9, 30), date(2025, 9, 30), ["2024-09-30", "2025-03-31", "2025-09-30"]),
        (date(2024, 10, 1), date(2025, 9, 29), ["2025-03-31"]),
        (date(2025, 4, 1), date(2025, 9, 29), []),
        (date(2025, 9, 30), date(2025, 9, 30), ["2025-09-30"]),
        (date(2025, 9, 30), date(2025, 3, 31), []),
        (
            date(2023, 1, 1),
            date(2024, 12, 31),
            ["2023-03-31", "2023-09-30", "2024-03-31", "2024-09-30"],
        ),
    ],
)
def test_census_dates_between(first: date, last: date, expected: list[str]) -> None:
    assert census_dates_between(first, last) == [date.fromisoformat(d) for d in expected]


@pytest.mark.parametrize(
    ("today", "weeks", "expected"),
    [
        (date(2025, 11, 11), 6, date(2025, 9, 30)),  # today - 42 days is the census date itself
        (date(2025, 11, 10), 6, date(2025, 3, 31)),
        (date(2026, 1, 15), 6, date(2025, 9, 30)),
        (date(2026, 5, 12), 6, date(2026, 3, 31)),
        (date(2026, 3, 31), 0, date(2026, 3, 31)),
        (date(2026, 2, 1), 0, date(2025, 9, 30)),
    ],
)
def test_latest_census(today: date, weeks: int, expected: date) -> None:
    assert latest_census(today, timedelta(weeks=weeks)) == expected


@pytest.mark.parametrize(
    "text", ["0001-03-31", "1970-09-30", "2015-03-31", "2200-03-31", "9999-09-30"]
)
def test_census_dates_outside_the_supported_years_are_refused(text: str) -> None:
    with pytest.raises(CensusDateError) as error:
        parse_census(text)
    assert str(error.value) == (
        f"{text} is outside the census dates the pipeline supports, 2015-09-30 (the first period "
        "of the expanded programme) to 2199-09-30"
    )


@pytest.mark.parametrize("text", ["0001-01-01", "0001-03-30", "9999-12-31"])
def test_non_census_dates_at_the_ends_of_the_calendar_do_not_crash(text: str) -> None:
    # Naming the nearest census dates of year 1 or 9999 would step outside the calendar.
    with pytest.raises(CensusDateError, match="outside the census dates"):
        parse_census(text)


def test_the_first_and_last_supported_census_dates() -> None:
    assert parse_census("2015-09-30") == date(2015, 9, 30)
    first = Period.of("2015-09-30")
    assert first.previous_census == date(2015, 3, 31)
    # The first supported period's cohorts look back a period: that arithmetic still works.
    assert first.previous_start == date(2014, 10, 1)
    assert Period(first.previous_census).start == date(2014, 10, 1)
    assert parse_census("2199-09-30") == date(2199, 9, 30)
    assert Period.of("2199-09-30").start == date(2199, 4, 1)


def test_fullwidth_digits_are_not_a_census_date() -> None:
    with pytest.raises(CensusDateError, match="not a date in ISO form"):
        parse_census("２０２５-09-30")


def test_a_census_date_after_the_extract_date_is_refused() -> None:
    from transforms.periods import check_census_not_after

    assert check_census_not_after(date(2026, 3, 31), date(2026, 3, 31)) == date(2026, 3, 31)
    with pytest.raises(CensusDateError) as error:
        check_census_not_after(date(2026, 9, 30), date(2026, 9, 29))
    assert str(error.value).startswith(
        "census date 2026-09-30 is after the extract date 2026-09-29: that period had not ended"
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("31/03/2026", "'31/03/2026' is not a date in ISO form YYYY-MM-DD"),
        ("2026-13-31", "'2026-13-31' is not a valid calendar date: month must be in 1..12"),
        ("2026-03-31" + "X" * 10_000, "the value given is not a date in ISO form YYYY-MM-DD"),
        ("Jane Doe", "the value given is not a date in ISO form YYYY-MM-DD"),
    ],
)
def test_a_mistyped_census_date_is_shown_back_only_when_it_looks_like_a_date(
    typed: str, says: str
) -> None:
    with pytest.raises(CensusDateError) as caught:
        parse_census(typed)
    assert str(caught.value).startswith(says)
    assert "Jane" not in str(caught.value) and len(str(caught.value)) < 200
