"""Parse the text of an extract into the typed frame the pandera models describe.

Parsing is explicit and never guesses: a date is ISO (``2025-04-01``) or UK (``01/04/2025``); a
two-digit year is ambiguous and an impossible date (``31/02/2025``) is invalid. Each parser
returns the typed values and, by name, the cells it could not read; the rule registry
(``schemas.rules``) says which rule reports each kind of failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import codes
from schemas.cleaning import (
    bytes_held,
    leading_bytes,
    may_hold,
    remove_unwritable,
    text_array,
    text_series,
    value_offsets,
)
from schemas.identifiers import normalise
from schemas.models import SCHEMAS

# [0-9], never \d: Python's \d also matches other scripts' digits (fullwidth ３, Arabic-Indic ٣),
# which the conversions after the match do not read the same way.
# A time of day after the date is ignored, but it must be one (00:00 to 23:59:59).
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
_ISO = rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:[ T]{_TIME})?"
_UK = r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}"
_TWO_DIGIT_YEAR = r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2}"
_WHOLE = r"\+?[0-9]{1,9}"
_FLAG_SPELLINGS = {
    "1": "1",
    "0": "0",
    "Y": "1",
    "YES": "1",
    "TRUE": "1",
    "N": "0",
    "NO": "0",
    "FALSE": "0",
}

# The failures a parser can report, by column kind (the registry's parse rules name these).
INVALID_DATE = "invalid date"
AMBIGUOUS_DATE = "ambiguous date"
NOT_WHOLE = "not a whole number"
NOT_FLAG = "not a flag"
# A fault of the whole row, found by the reader (the row is quarantined as it is).
EXTRA_FIELDS = "more fields than the header"


@dataclass(frozen=True)
class ParsedExtract:
    """An extract after parsing: the typed frame (model column order, absent optional columns
    added as missing); the cells that failed, as masks over its rows by (column, failure); the
    cells that lost characters no file can carry, by column; and the rows the reader found
    broken as a whole, by fault."""

    frame: pd.DataFrame
    failures: dict[tuple[str, str], pd.Series] = field(default_factory=dict)
    cleaned: dict[str, pd.Series] = field(default_factory=dict)
    row_faults: dict[str, pd.Series] = field(default_factory=dict)

    def failed(self, column: str, failure: str) -> pd.Series | None:
        return self.failures.get((column, failure))

    def faulted_rows(self) -> np.ndarray:
        """Rows broken as a whole: no other rule looks at them (their values may be shifted)."""
        faulted = np.zeros(len(self.frame), dtype=bool)
        for mask in self.row_faults.values():
            faulted |= mask.to_numpy(dtype=bool)
        return faulted


def parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return (dates, invalid mask, ambiguous mask) for a column of date text."""
    arrow = _text(text)
    days, ambiguous = _each_distinct(arrow, _date_values, (_NO_DATE, False))
    dates = pd.Series(days.view("datetime64[D]").astype("datetime64[ns]"), index=text.index)
    present = text.notna().to_numpy(dtype=bool)
    invalid = present & (days == _NO_DATE) & ~ambiguous
    return dates, pd.Series(invalid, index=text.index), pd.Series(ambiguous, index=text.index)


def _each_distinct(
    arrow: pa.Array,
    read: Callable[[pa.Array], tuple[np.ndarray, ...]],
    missing: tuple[Any, ...],
) -> tuple[np.ndarray, ...]:
    """``read(arrow)``, a tuple of arrays with an entry per value (``missing``'s entries for a
    missing value), computed once per distinct value when the values repeat."""
    # Dates and counts repeat (a million rows hold a few thousand dates): each distinct text is
    # read once and the rows take its result. ``read`` goes value by value, so the result is the
    # same either way; a column of mostly distinct values is read directly.
    encoded = pc.dictionary_encode(arrow)
    if not 0 < 2 * len(encoded.dictionary) <= len(arrow):
        return read(arrow)
    at = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    distinct = read(encoded.dictionary)
    if not encoded.indices.null_count:
        return tuple(values[at] for values in distinct)
    found = encoded.indices.is_valid().to_numpy(zero_copy_only=False)
    return tuple(
        np.where(found, values[at], fill) for values, fill in zip(distinct, missing, strict=True)
    )


def _date_values(arrow: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(days since 1970-01-01, or NaT's value where there is no date; whether the text is
    ambiguous) for each value of ``arrow``."""
    # Most dates are written 2025-04-01: those are told by their bytes, and only the others go
    # through the three regexes (a tenth of the time; a plain ISO date matches neither of the
    # other two patterns).
    iso = _shaped(arrow, _PLAIN_ISO)
    uk = np.zeros(len(arrow), dtype=bool)
    ambiguous = np.zeros(len(arrow), dtype=bool)
    others = ~iso & arrow.is_valid().to_numpy(zero_copy_only=False)
    if others.any():
        rest = pc.filter(arrow, pa.array(others))
        iso[others] = _fullmatch(rest, _ISO)
        uk[others] = _fullmatch(rest, _UK)
        ambiguous[others] = _fullmatch(rest, _TWO_DIGIT_YEAR)
    # Day, month and year as numbers, read by position from the Arrow text (the regexes above
    # fixed where the digits are), then checked against the calendar: the same dates pandas'
    # to_datetime reads with "%Y-%m-%d" and "%d/%m/%Y", and the same impossible ones refused.
    days = np.full(len(arrow), _NO_DATE, dtype=np.int64)
    if iso.any():
        # An ISO value starts with "dddd-dd-dd" (the regex made sure): its digits are bytes at
        # known places, read straight from the Arrow buffers.
        digits = leading_bytes(arrow, np.flatnonzero(iso), 10).astype(np.int64) - ord("0")
        year = digits[:, :4] @ np.array([1000, 100, 10, 1])
        month = digits[:, 5:7] @ np.array([10, 1])
        day = digits[:, 8:10] @ np.array([10, 1])
        days[iso] = _days(year, month, day)
    if uk.any():
        parts = pc.split_pattern(pc.filter(arrow, pa.array(uk)), "/")
        day, month, year = (_number(pc.list_element(parts, i)) for i in range(3))
        days[uk] = _days(year, month, day)
    return days, ambiguous


# The calendar's limits: a year outside 1800-2200 is a typing slip, not a date (and it keeps
# every date inside the nanosecond range pandas computes in).
_FIRST_YEAR, _LAST_YEAR = 1800, 2200
# NaT's value, for "no date" in an int64 of days.
_NO_DATE = np.iinfo(np.int64).min
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of each (year, month, day); NaT's value where there is no such
    date (month 13, 30 February, 29 February outside a leap year) or the year is implausible."""
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    known_month = (month >= 1) & (month <= 12)
    longest = _MONTH_DAYS[np.where(known_month, month - 1, 0)] + (leap & (month == 2))
    valid = (
        known_month & (day >= 1) & (day <= longest) & (year >= _FIRST_YEAR) & (year <= _LAST_YEAR)
    )
    months = (np.where(valid, year, 1970) - 1970) * 12 + np.where(valid, month, 1) - 1
    days = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return np.where(valid, days + np.where(valid, day, 1) - 1, _NO_DATE)


def _number(digits: pa.Array) -> np.ndarray:
    """ASCII digits (the regexes made sure) as numbers."""
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)


def _text(text: pd.Series) -> pa.Array:
    """The column's Arrow text as one array."""
    return text_array(text.astype("str")).combine_chunks().cast(pa.large_string())


def _whole(arrow: pa.Array) -> np.ndarray:
    """Whether each value fully matches _WHOLE (an optional "+", then one to nine digits 0-9),
    told from the Arrow buffers: the bytes that are not digits, counted per value."""
    offsets = value_offsets(arrow)
    data = arrow.buffers()[2]
    if data is None or not len(arrow):
        return np.zeros(len(arrow), dtype=bool)
    codes = np.frombuffer(data, dtype=np.uint8)
    other = np.concatenate(([0], np.cumsum((codes < ord("0")) | (codes > ord("9")))))
    starts, ends = offsets[:-1], offsets[1:]
    length = ends - starts
    others = other[ends] - other[starts]
    plus = np.zeros(len(arrow), dtype=bool)
    filled = length > 0
    plus[filled] = codes[starts[filled]] == ord("+")
    digits = length - plus
    whole = (others == plus) & (digits >= 1) & (digits <= 9)
    if arrow.null_count:
        whole &= arrow.is_valid().to_numpy(zero_copy_only=False)
    return whole


# A plain ISO date, as _shaped reads it: "9" is a digit 0-9.
_PLAIN_ISO = "9999-99-99"


def _shaped(arrow: pa.Array, template: str) -> np.ndarray:
    """Whether each value is written exactly as ``template`` (ASCII; "9" stands for a digit 0-9,
    any other character for itself), read from the Arrow buffers byte by byte."""
    offsets = value_offsets(arrow)
    starts = offsets[:-1]
    fits = (offsets[1:] - starts) == len(template)
    if arrow.null_count:
        fits &= arrow.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(fits)
    data = arrow.buffers()[2]
    if not len(rows) or data is None:
        return np.zeros(len(arrow), dtype=bool)
    # The candidates' bytes as a (rows, len(template)) array, then compared whole.
    pattern = np.frombuffer(template.encode("ascii"), dtype=np.uint8)
    window = leading_bytes(arrow, rows, len(pattern))
    digit = (window >= ord("0")) & (window <= ord("9"))
    fits_here = np.where(pattern == ord("9"), digit, window == pattern).all(axis=1)
    shaped = np.zeros(len(arrow), dtype=bool)
    shaped[rows[fits_here]] = True
    return shaped


def _fullmatch(arrow: pa.Array, pattern: str) -> np.ndarray:
    """Whether each value matches ``pattern`` whole (False when missing). RE2, as pandas'
    ``str.fullmatch`` uses for these patterns, without pandas' conversions around it."""
    found = pc.match_substring_regex(arrow, f"^(?:{pattern})$")
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def parse_whole_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 values, invalid mask): zero or more, written as digits."""
    arrow = _text(text)
    numbers, ok = _each_distinct(arrow, _whole_values, (0, False))
    values = pd.Series(pd.arrays.IntegerArray(numbers, ~ok), index=text.index)
    invalid = text.notna().to_numpy(dtype=bool) & ~ok
    return values, pd.Series(invalid, index=text.index)


def _whole_values(arrow: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the number, 0 where there is none; whether the text is one) for each value of ``arrow``."""
    ok = _whole(arrow)
    numbers = np.zeros(len(arrow), dtype=np.int64)
    if ok.any():
        numbers[ok] = _number(pc.utf8_ltrim(pc.filter(arrow, pa.array(ok)), "+"))
    return numbers, ok


def parse_flags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 0/1 values, invalid mask) for 1/0, Y/N, YES/NO, TRUE/FALSE in any case;
    an empty cell is 0."""
    spellings = pa.array(list(_FLAG_SPELLINGS), pa.large_string())
    meanings = np.array([int(v) for v in _FLAG_SPELLINGS.values()], dtype=np.int64)
    found = pc.index_in(pc.utf8_upper(_text(text)), value_set=spellings)
    where = found.fill_null(-1).to_numpy(zero_copy_only=False)
    missing = text.isna().to_numpy(dtype=bool)
    invalid = ~missing & (where < 0)
    # Empty means 0: a council records the opt-outs, not every "no".
    numbers = np.where(where >= 0, meanings[np.maximum(where, 0)], 0)
    values = pd.Series(pd.arrays.IntegerArray(numbers, invalid), index=text.index)
    return values, pd.Series(invalid, index=text.index)


def _codes(text: pd.Series, column: str) -> pd.Series:
    # Literal replaces (pandas runs a regex over Arrow strings one value at a time in Python),
    # each only when the column holds the bytes it replaces: codes rarely do.
    arrow = pc.utf8_upper(text_array(text.astype("str")))
    held = bytes_held(arrow)
    for old, new in (("\u00a0", " "), ("  ", " ")):
        if may_hold(held, old):
            arrow = pc.replace_substring(arrow, old, new)
    upper = text_series(arrow, text.index)
    if column == "gender":
        upper = upper.replace(codes.GENDER_ALIASES)
    return upper


def parse_extract(
    name: str, raw: pd.DataFrame, extra_field_rows: tuple[int, ...] = ()
) -> ParsedExtract:
    """Parse the text frame of extract ``name`` (see :class:`ParsedExtract`);
    ``extra_field_rows`` are the source rows the reader found with more fields than the header."""
    out: dict[str, pd.Series] = {}
    failures: dict[tuple[str, str], pd.Series] = {}
    cleaned: dict[str, pd.Series] = {}
    empty = pd.Series(np.nan, index=raw.index, dtype="str")
    for column, spec in SCHEMAS[name].columns.items():
        kind = (spec.metadata or {}).get("kind", "text")
        text = raw[column] if column in raw.columns else empty
        if column in raw.columns:
            # Once, here, for every writer after: the CSV and the workbook then hold the same text.
            text, lost = remove_unwritable(text)
            if lost.any():
                cleaned[column] = lost
        if kind == "date":
            out[column], invalid, ambiguous = parse_dates(text)
            failures[(column, INVALID_DATE)] = invalid
            failures[(column, AMBIGUOUS_DATE)] = ambiguous
        elif kind == "int":
            out[column], failures[(column, NOT_WHOLE)] = parse_whole_numbers(text)
        elif kind == "flag":
            out[column], failures[(column, NOT_FLAG)] = parse_flags(text)
        elif kind == "code":
            out[column] = _codes(text, column)
        elif kind == "identifier":
            out[column] = normalise(text)
        else:
            out[column] = text.astype("str")
    frame = pd.DataFrame(out, index=raw.index)
    row_faults = {}
    if extra_field_rows:
        row_faults[EXTRA_FIELDS] = pd.Series(raw.index.isin(extra_field_rows), index=raw.index)
    return ParsedExtract(frame, {k: v for k, v in failures.items() if v.any()}, cleaned, row_faults)
