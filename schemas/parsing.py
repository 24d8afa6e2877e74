"""Parse the text of an extract into the typed frame the pandera models describe.

Parsing is explicit and never guesses: a date is ISO (``2025-04-01``) or UK (``01/04/2025``); a
two-digit year is ambiguous and an impossible date (``31/02/2025``) is invalid. Each parser
returns the typed values and, by name, the cells it could not read; the rule registry
(``schemas.rules``) says which rule reports each kind of failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas import codes
from schemas.cleaning import remove_unwritable
from schemas.identifiers import normalise
from schemas.models import SCHEMAS

# [0-9], never \d: Python's \d also matches other scripts' digits (fullwidth ３, Arabic-Indic ٣),
# which the conversions after the match do not read the same way.
_ISO = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
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
    dates = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    present = text.notna()
    iso = text.str.fullmatch(_ISO).fillna(False).astype(bool)
    uk = text.str.fullmatch(_UK).fillna(False).astype(bool)
    ambiguous = text.str.fullmatch(_TWO_DIGIT_YEAR).fillna(False).astype(bool)
    if iso.any():
        dates[iso] = _in_range(
            pd.to_datetime(text[iso].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        )
    if uk.any():
        dates[uk] = _in_range(pd.to_datetime(text[uk], format="%d/%m/%Y", errors="coerce"))
    invalid = present & dates.isna() & ~ambiguous
    return dates, invalid, ambiguous


def _in_range(parsed: pd.Series) -> pd.Series:
    # A year outside 1800-2200 is a typing slip, not a date: treat it as invalid (and it keeps
    # every date inside the nanosecond range pandas computes in).
    plausible = (parsed >= pd.Timestamp("1800-01-01")) & (parsed <= pd.Timestamp("2200-12-31"))
    return parsed.where(plausible).astype("datetime64[ns]")


def parse_whole_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 values, invalid mask): zero or more, written as digits."""
    ok = text.str.fullmatch(_WHOLE).fillna(False).astype(bool)
    values = pd.Series(pd.NA, index=text.index, dtype="Int64")
    if ok.any():
        values[ok] = text[ok].str.lstrip("+").astype("int64")
    return values, text.notna() & ~ok


def parse_flags(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 0/1 values, invalid mask) for 1/0, Y/N, YES/NO, TRUE/FALSE in any case;
    an empty cell is 0."""
    spelled = text.astype("str").str.upper().map(_FLAG_SPELLINGS)
    values = pd.to_numeric(spelled).astype("Int64")
    invalid = text.notna() & values.isna()
    # Empty means 0: a council records the opt-outs, not every "no".
    return values.mask(text.isna(), 0), invalid


def _codes(text: pd.Series, column: str) -> pd.Series:
    # Literal replaces: pandas runs a regex over Arrow strings one value at a time in Python.
    upper = (
        text.str.upper().str.replace("\u00a0", " ", regex=False).str.replace("  ", " ", regex=False)
    )
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
