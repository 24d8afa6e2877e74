"""Turning cells of any source into plain text, so one parser serves CSV, xlsx, parquet and SQL."""

from __future__ import annotations

import datetime as dt
import decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from schemas.cleaning import strip_invisible

# Floats are exact whole numbers below this; above it two ids can share one float.
_EXACT_FLOAT_LIMIT = 2.0**53
# Where the cases are: a moment in time (a zoned timestamp) is read as the date it was there.
CASE_TIME_ZONE = "Europe/London"


class TextDecodeError(ValueError):
    """The bytes are not text in one of the accepted encodings; the message names the line."""


def line_at(data: bytes, offset: int) -> int:
    """The physical line (1-based) holding byte ``offset``: CR LF, LF and a lone CR each end a
    line, as editors count them."""
    return (
        data.count(b"\n", 0, offset)
        + data.count(b"\r", 0, offset)
        - data.count(b"\r\n", 0, offset)
        + 1
    )


def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM), or Windows-1252 when the bytes are not UTF-8; never a guess.

    Windows-1252 is what Excel's "CSV" save writes on UK machines. A file that holds UTF-8
    characters and also bytes that are not UTF-8 is two encodings at once (a UTF-8 export edited
    in a Windows-1252 tool, or two files joined): reading it either way would garble one part,
    so it is refused with the lines of both. UTF-16 and UTF-32 (which Excel calls "Unicode text")
    are refused: the contract lists the encodings a CSV may have.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise TextDecodeError(
            'UTF-16 or UTF-32 text (Excel\'s "Unicode text"): save it as "CSV UTF-8"'
        )
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start + (3 if bom else 0)
    if bom:
        raise TextDecodeError(
            f"starts as UTF-8 but line {line_at(data, bad)} is not UTF-8: save it again as "
            '"CSV UTF-8"'
        )
    utf8 = first_utf8_character(data)
    if utf8 is not None:
        raise TextDecodeError(
            f"mixed encodings: line {line_at(data, utf8)} is UTF-8 but line "
            f'{line_at(data, bad)} is not; save the whole file as "CSV UTF-8"'
        )
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise TextDecodeError(
            f"not UTF-8 or Windows-1252 text (line {line_at(data, exc.start)})"
        ) from None


def first_utf8_character(data: bytes) -> int | None:
    """The offset of the first byte pair that starts a UTF-8 character beyond ASCII (a lead byte
    followed by a continuation byte), or None. Windows-1252 text practically never holds one
    (it would be a capital accented letter followed by a symbol, like "Ã©")."""
    codes = np.frombuffer(data, dtype=np.uint8)
    high = np.flatnonzero(codes[:-1] >= 0xC2)
    if not len(high):
        return None
    lead, follow = codes[high], codes[high + 1]
    pairs = high[(lead <= 0xF4) & (follow >= 0x80) & (follow <= 0xBF)]
    return int(pairs[0]) if len(pairs) else None


def column_to_text(values: pd.Series) -> pd.Series:
    """Render a typed column (dates, numbers, text) as text; missing stays missing.

    Dates become ISO text so that an Excel date cell, a parquet date and a SQL date all reach
    the same date parser as a CSV's ``2025-04-01``. Whole floats and whole decimals lose their
    ``.0`` (Excel stores every number as a float, and an ID of ``1234.0`` is ``1234``); a float
    of 2**53 or more is not an exact whole number, so it keeps its float spelling (``1e+17``)
    and never passes for an id it might have been. Numbers in a date column stay numbers
    (``20240115``, ``45306``): the date parser refuses them, rather than reading days since
    1970 or 1900.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            # A moment in time (TIMESTAMPTZ, a zoned parquet timestamp): the day it was in
            # England, where the cases are. In UTC, a date stored as midnight of a summer day
            # (British Summer Time) would read as the day before.
            values = values.dt.tz_convert(CASE_TIME_ZONE)
        text = values.dt.strftime("%Y-%m-%d")
        return text.astype("str")
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "1", False: "0"}).astype("str")
    if pd.api.types.is_integer_dtype(values):
        return values.astype("Int64").astype("str").mask(values.isna())
    if pd.api.types.is_float_dtype(values):
        finite = values.notna() & np.isfinite(values)
        whole = finite & (values == np.floor(values)) & (values.abs() < _EXACT_FLOAT_LIMIT)
        text = values.astype("str")
        as_int = values.where(whole).astype("Int64").astype("str")
        return text.mask(whole, as_int).mask(values.isna())
    if values.dtype == object:
        return _objects_to_text(values)
    return values.astype("str")


def _objects_to_text(values: pd.Series) -> pd.Series:
    # Mixed cells (an xlsx column or a SQL column of several types): convert by kind of value.
    def one(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return np.nan
        if isinstance(value, dt.datetime | pd.Timestamp):
            if value.tzinfo is not None:  # as above: the day it was in England
                return value.astimezone(ZoneInfo(CASE_TIME_ZONE)).strftime("%Y-%m-%d")
            return value.strftime("%Y-%m-%d") if not _has_time(value) else value.isoformat(sep=" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, bytes | bytearray | memoryview):
            # A database's bytes column: UTF-8 text as a CSV's bytes are, never "b'...'"
            # (UnicodeDecodeError when they are not text: the read fails, naming its type).
            return bytes(value).decode("utf-8")
        if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return str(int(value))
        if isinstance(value, decimal.Decimal) and value.is_finite() and value == int(value):
            # A decimal column's scale is not part of the value: 13.0 in a DECIMAL(6,1) is
            # the whole number 13, as a whole float is (and -0.0 is 0).
            return str(int(value))
        return str(value)

    # One conversion per distinct value, not per row: extracts repeat codes and dates heavily.
    uniques = pd.unique(values.to_numpy(dtype=object))
    lookup = {u: one(u) for u in uniques if u is not None and u == u}
    return values.map(lookup).astype("str")


def _has_time(value: dt.datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0)


def clean_text(values: pd.Series) -> pd.Series:
    """Text with invisible characters stripped from both ends (``schemas.cleaning``); empty
    becomes missing."""
    return strip_invisible(values)
