"""Parse the text of an extract into the typed frame the pandera models describe.

Parsing is explicit and never guesses: a date is ISO (``2025-04-01``) or UK (``01/04/2025``);
a two-digit year is ambiguous and an impossible date (``31/02/2025``) is invalid, and both are
row errors reported here, before pandera sees the frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas import codes
from schemas.identifiers import normalise
from schemas.models import MODELS

_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_UK = r"\d{1,2}/\d{1,2}/\d{4}"
_TWO_DIGIT_YEAR = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}"
_WHOLE = r"\+?\d{1,9}"
_YES_NO = {"Y": "1", "YES": "1", "TRUE": "1", "N": "0", "NO": "0", "FALSE": "0"}


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


def _codes(text: pd.Series, column: str) -> pd.Series:
    # Literal replaces: pandas runs a regex over Arrow strings one value at a time in Python.
    upper = (
        text.str.upper().str.replace("\u00a0", " ", regex=False).str.replace("  ", " ", regex=False)
    )
    if column == "gender":
        upper = upper.replace(codes.GENDER_ALIASES)
    return upper


def parse_extract(
    name: str, raw: pd.DataFrame
) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.Series]]:
    """Typed frame in the model's column order (absent optional columns added as missing), and
    the cells that failed parsing: (rule code, column) -> mask over the rows."""
    schema = MODELS[name].to_schema()
    out: dict[str, pd.Series] = {}
    problems: dict[tuple[str, str], pd.Series] = {}
    empty = pd.Series(np.nan, index=raw.index, dtype="str")
    for column, spec in schema.columns.items():
        kind = (spec.metadata or {}).get("kind", "text")
        text = raw[column] if column in raw.columns else empty
        if kind == "date":
            dates, invalid, ambiguous = parse_dates(text)
            out[column] = dates
            problems[("E103", column)] = invalid
            problems[("E104", column)] = ambiguous
        elif kind == "int":
            if column == "nis_opt_out":
                text = text.astype("str").str.upper().replace(_YES_NO)
            values, invalid = parse_whole_numbers(text)
            out[column] = values
            problems[("E126" if column == "nis_opt_out" else "E109", column)] = invalid
        elif kind == "code":
            out[column] = _codes(text, column)
        elif kind == "identifier":
            out[column] = normalise(text)
        else:
            out[column] = text.astype("str")
    frame = pd.DataFrame(out, index=raw.index)
    return frame, {k: v for k, v in problems.items() if v.any()}
