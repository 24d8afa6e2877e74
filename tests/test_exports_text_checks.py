"""The one-pass checks that let the CSV and xlsx writers skip work on most columns: they never
say a value is plain when it is not. The writers' text equals the text made with the checks
forced to say yes (the exact work on every column), and the CSV text equals the csv module's."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import exports.csv_files as csv_files
import exports.excel as excel
from exports.arrow_text import concatenated, holds_any
from schemas.cleaning import edges_may_be_invisible

# Text rich in what the checks look for: markup, quotes, commas, line ends, controls XML
# forbids, white space (ASCII and not) at either end, U+FFFE/U+FFFF and other characters whose
# UTF-8 begins with 0xEF, and values longer than an Excel cell.
_TRICKY = st.sampled_from(
    list('&<>",\n\r\t \x00\x01\x0b\x1f\x85\xa0\u2003\ufffe\uffff\uf000\ufeffaZ9é-')
)
_TEXT = st.one_of(
    st.none(),
    st.text(_TRICKY, max_size=6),
    st.text(max_size=6),
    st.sampled_from(["x" * 32767, "z" * 32768, "y" * 32768 + "&", "plain", "E08000012", ""]),
)


def _values(values: list[str | None]) -> pa.Array:
    return pa.array(values, type=pa.large_string())


@given(st.lists(_TEXT, max_size=12), st.integers(0, 4), st.integers(0, 4), st.binary(max_size=4))
def test_holds_any_never_misses_a_byte(values, start, length, chars):
    strings = _values(values).slice(start, length)
    present = any(
        v is not None and any(b in v.encode() for b in chars) for v in strings.to_pylist()
    )
    assert holds_any(strings, chars) or not present


def _edge_is_plain(character: str) -> bool:
    return "\x21" <= character <= "\x7e"


@given(st.lists(_TEXT, max_size=12))
def test_edges_is_exact_on_a_whole_array(values):
    # Whole arrays hold no bytes but their values': the answer is exactly whether some value
    # begins or ends with a character other than visible ASCII.
    exact = any(v and not (_edge_is_plain(v[0]) and _edge_is_plain(v[-1])) for v in values)
    assert edges_may_be_invisible(_values(values)) == exact


@given(st.lists(_TEXT, max_size=12), st.integers(0, 4), st.integers(0, 4))
def test_edges_never_misses_one_in_a_slice(values, start, length):
    strings = _values(values).slice(start, length)
    exact = any(
        v and not (_edge_is_plain(v[0]) and _edge_is_plain(v[-1])) for v in strings.to_pylist()
    )
    assert edges_may_be_invisible(strings) or not exact


def test_holds_any_and_edges_by_hand():
    strings = _values(["ab", None, "", "c,d", "é"])
    assert holds_any(strings, b",") and not holds_any(strings, b";")
    assert not holds_any(strings.slice(0, 3), b",")  # the comma lies outside the slice
    assert not edges_may_be_invisible(_values(["ab", None, "", "c,d"]))
    assert edges_may_be_invisible(strings) and not edges_may_be_invisible(_values(["", None]))
    # Empty values first and last: their neighbours' bytes are read in their place.
    assert not edges_may_be_invisible(_values(["", "ab", None, "cd", ""]))
    assert edges_may_be_invisible(_values(["", "ab", "", "c ", ""]))
    assert edges_may_be_invisible(_values(["", "\u2003b", ""]))
    assert bytes(concatenated(strings.slice(3, 2))) == "c,dé".encode()


def _exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the checks say yes everywhere: the writers then do the exact work on every column."""
    monkeypatch.setattr(excel, "holds_any", lambda strings, chars: True)
    monkeypatch.setattr(excel, "edges_may_be_invisible", lambda text: True)
    monkeypatch.setattr(csv_files, "holds_any", lambda strings, chars: True)


_COLUMNS = st.lists(st.lists(_TEXT, min_size=3, max_size=3), min_size=1, max_size=3)


@given(_COLUMNS)
def test_sheet_rows_equal_those_of_the_exact_work(columns):
    df = pd.DataFrame({f"c{i}": pd.Series(v, dtype="str") for i, v in enumerate(columns)})
    df["n"] = pd.array([1, None, 3], dtype="Int64")
    fast = bytes(excel.rows_xml(df, first_row=2, date_style=3))
    with pytest.MonkeyPatch.context() as patch:
        _exactly(patch)
        exact = bytes(excel.rows_xml(df, first_row=2, date_style=3))
    assert fast == exact


@given(_COLUMNS)
def test_csv_rows_equal_those_of_the_exact_work_and_of_the_csv_module(columns):
    df = pd.DataFrame({f"c{i}": pd.Series(v, dtype="str") for i, v in enumerate(columns)})
    fast = bytes(csv_files.csv_rows(df))
    with pytest.MonkeyPatch.context() as patch:
        _exactly(patch)
        assert bytes(csv_files.csv_rows(df)) == fast
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    for row in csv_files.format_table(df).itertuples(index=False):
        writer.writerow(["" if pd.isna(v) else v for v in row])
    assert fast == text.getvalue().encode()


def test_the_checks_route_each_column_by_hand():
    plain = pd.Series(["E08000012", "F1"], dtype="str")
    assert not edges_may_be_invisible(excel._xml_text(plain))
    assert bytes(concatenated(excel._xml_text(pd.Series(["a&b"], dtype="str")))) == b"a&amp;b"
    assert edges_may_be_invisible(excel._xml_text(pd.Series(["ok", " lead"], dtype="str")))
    assert edges_may_be_invisible(excel._xml_text(pd.Series(["caf\u00e9"], dtype="str")))
    cells = bytes(excel.rows_xml(pd.DataFrame({"a": pd.Series([" x", "y"], dtype="str")}), 2, 3))
    assert cells.count(b'xml:space="preserve"') == 1
    assert edges_may_be_invisible(_values(["ab", "c\t"])) and edges_may_be_invisible(
        _values(["\x7f"])
    )


@pytest.mark.parametrize("value", [" lead", "trail ", " both ", "tab\t"])
def test_a_value_padded_at_either_end_keeps_its_white_space(value):
    # Worked by hand: without xml:space="preserve" Excel drops the padding of a cell.
    column = pd.Series([value, "plain"], dtype="str")
    cells = bytes(excel.rows_xml(pd.DataFrame({"a": column}), 2, 3))
    assert (
        cells
        == (
            f'<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'
            '</row><row r="3"><c r="A3" t="inlineStr"><is><t>plain</t></is></c></row>'
        ).encode()
    )
