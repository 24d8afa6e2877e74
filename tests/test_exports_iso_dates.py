"""exports.previous.iso_dates reads dates back as pandas' ``to_datetime(format="%Y-%m-%d")``
would, Arrow's fast path or not: the same days, the same missing values, and an error where
pandas raises one."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.previous import iso_dates


def _pandas(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d").astype("datetime64[ns]")


_PADDED = st.dates().map(lambda d: d.isoformat())  # zero-padded, years 0001 to 9999
_ODD = st.sampled_from(
    [
        "2024-1-05",
        "2024-01-5",
        "2023-02-29",
        "2024-02-30",
        "2024-13-01",
        " 2024-01-05",
        "2024-01-05x",
        "0999-01-01",
        "1500-06-30",
        "2300-01-01",
        "",
        "not a date",
    ]
)


def _check(values: list[str | None]) -> None:
    text = pd.Series(values, dtype="str")
    try:
        expected = _pandas(text)
    except (ValueError, TypeError):
        with pytest.raises((ValueError, TypeError)):
            iso_dates(text)
        return
    got = iso_dates(text)
    assert got.dtype == "datetime64[ns]"
    pd.testing.assert_series_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_PADDED, st.none()), max_size=20))
def test_the_usual_spelling_reads_as_pandas_reads_it(values: list[str | None]) -> None:
    _check(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_PADDED, _ODD, st.none()), min_size=1, max_size=8))
def test_odd_spellings_read_or_fail_as_pandas_does(values: list[str | None]) -> None:
    _check(values)


def test_hand_worked_days() -> None:
    got = iso_dates(pd.Series(["2024-02-29", None, "1999-12-31", "2024-1-5"], dtype="str"))
    assert got.tolist()[0] == pd.Timestamp("2024-02-29")
    assert pd.isna(got.tolist()[1])
    assert got.tolist()[2:] == [pd.Timestamp("1999-12-31"), pd.Timestamp("2024-01-05")]
