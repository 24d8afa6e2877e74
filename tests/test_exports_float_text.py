"""Float cells and column widths are spelled once per distinct value (exports.excel): the same
text, value by value, as pandas spelling every value, including the values pandas counts as one
(0.0 and -0.0) and missing ones. Column widths are measured a chunk of rows at a time, and the
longest text is the same as over the whole column."""

from __future__ import annotations

from unittest import mock

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import exports.excel as excel

_FLOATS = st.one_of(
    st.none(),
    st.integers(0, 1000).map(lambda tenths: tenths / 10),
    st.sampled_from([0.0, -0.0, float("nan"), 1e-05, 1e16, -2.5, 100.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(st.lists(_FLOATS, max_size=30), st.sampled_from(["Float64", "float64"]))
def test_float_text_is_pandas_spelling_of_every_value(values, dtype) -> None:
    column = pd.Series(values, dtype=dtype).astype("Float64")
    every_value = excel._arrow_text(column.astype("str"))  # pandas spelling each value
    assert excel._float_text(column).to_pylist() == every_value.to_pylist()


@given(st.lists(_FLOATS, max_size=30), st.sampled_from(["Float64", "float64"]))
def test_width_of_a_float_column_is_its_longest_text(values, dtype) -> None:
    column = pd.Series(values, dtype=dtype)
    shown = column.dropna()
    expected = int(shown.astype("str").str.len().max()) if len(shown) else 0
    assert excel._longest_text(column) == expected


def test_zero_and_minus_zero_keep_their_own_spelling() -> None:
    column = pd.Series([0.0, -0.0, 0.0, -0.0], dtype="Float64")
    assert excel._float_text(column).to_pylist() == ["0.0", "-0.0", "0.0", "-0.0"]
    assert excel._longest_text(pd.Series([0.0, -0.0])) == 4


_COLUMNS = st.one_of(
    st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=12).map(
        lambda v: pd.Series(v, dtype="str")
    ),
    st.lists(st.one_of(st.none(), st.integers(-(10**12), 10**12)), max_size=12).map(
        lambda v: pd.Series(v, dtype="Int64")
    ),
    st.lists(st.integers(-(10**6), 10**6), max_size=12).map(lambda v: pd.Series(v, dtype="int64")),
    st.lists(_FLOATS, max_size=12).map(lambda v: pd.Series(v, dtype="Float64")),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=12).map(
        lambda v: pd.Series(v, dtype="boolean")
    ),
)


@given(_COLUMNS, st.integers(1, 5))
def test_width_measured_in_chunks_is_the_longest_text_of_the_whole_column(column, chunk) -> None:
    shown = column.dropna()
    expected = int(shown.astype("str").str.len().max()) if len(shown) else 0
    with mock.patch.object(excel, "_CHUNK_ROWS", chunk):
        assert excel._longest_text(column) == expected
