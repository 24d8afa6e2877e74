"""Deterministic CSV writing (spec section 5): UTF-8 without BOM, comma separated, a header row,
``\\n`` line ends, ISO dates, whole numbers as digits, percentages with one decimal, empty for
missing, no index, quotes only where a value needs them.

Every column is turned into text by rules that depend on its dtype only, never on the machine,
the locale or pandas' float printing, so the same table gives the same bytes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exports.arrow_text import concatenated, holds_any, join, large
from exports.files import atomic_path


def format_column(s: pd.Series) -> pd.Series:
    """The CSV text of a column (missing = NaN, written as an empty field).

    - dates (any datetime64 unit, at midnight): ``YYYY-MM-DD``;
    - integers and booleans: digits (booleans as 0/1);
    - floats: one decimal, rounded half away from zero (the percentages of the contract are
      exact tenths, so this only fixes their spelling: ``92.3``, ``100.0``);
    - text: as it is, except that a carriage return inside a value becomes ``\\n``.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            raise TypeError(f"column {s.name!r} has a time zone; dates must be naive")
        return _iso_dates(s)
    if pd.api.types.is_bool_dtype(s):
        return s.astype("Int64").astype("str")
    if pd.api.types.is_integer_dtype(s):
        return s.astype("Int64").astype("str")
    if pd.api.types.is_float_dtype(s):
        return _one_decimal(s.astype("Float64"))
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        # The csv module quotes a field holding "\n" but not one holding a bare "\r", which most
        # readers take for a line end; line breaks inside a value are written as "\n".
        text = s.astype("str")
        if not text.str.contains("\r", regex=False).any():
            return text  # the usual case: no regular expression pass over every value
        return text.str.replace("\r\n?", "\n", regex=True)
    raise TypeError(f"column {s.name!r} has dtype {s.dtype} that has no CSV format")


_ISO_YEARS = (np.datetime64("1000-01-01", "D"), np.datetime64("9999-12-31", "D"))


def _iso_dates(s: pd.Series) -> pd.Series:
    # Arrow spells a day as YYYY-MM-DD in C, where strftime goes through Python value by value;
    # the two agree for four-digit years, and other years keep strftime's spelling. Days are
    # floored by numpy first, as strftime's date is (a time of day is not shown).
    days = s.to_numpy(dtype="datetime64[D]", copy=True)  # written to below
    missing = s.isna().to_numpy(dtype=bool)
    shown = days[~missing]
    if len(shown) and (shown.min() < _ISO_YEARS[0] or shown.max() > _ISO_YEARS[1]):
        return s.dt.strftime("%Y-%m-%d").astype("str")
    days[missing] = _ISO_YEARS[0]  # NaT is out of Arrow's date range; masked below anyway
    text = pa.array(days, mask=missing).cast(pa.large_string())
    return pd.Series(text, index=s.index, dtype="str")


def _one_decimal(s: pd.Series) -> pd.Series:
    # Integer tenths and string concatenation: no float-to-text conversion, so no "92.30000001"
    # and no dependence on the platform's float printing.
    tenths = np.floor(s.abs() * 10 + 0.5).astype("Int64")
    whole = (tenths // 10).astype("str")
    decimal = (tenths % 10).astype("str")
    sign = pd.Series("", index=s.index, dtype="str").mask((s < 0).fillna(False), "-")
    return (sign + whole + "." + decimal).astype("str")


def format_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every column of ``df`` as CSV text, in the same order."""
    return pd.DataFrame({c: format_column(df[c]) for c in df.columns}, index=df.index)


# Rows per block of CSV text: a block of a big table is a few megabytes.
_CHUNK_ROWS = 50_000


def write_table_csv(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` (its columns in its order, its rows in its order) to ``path`` atomically,
    mode 0600."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as out:
        out.write(_header(df))
        for start in range(0, len(df), _CHUNK_ROWS):
            out.write(csv_rows(df.iloc[start : start + _CHUNK_ROWS]))


def _header(df: pd.DataFrame) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(
        [str(c) for c in df.columns]
    )
    return text.getvalue().encode("utf-8")


def csv_rows(df: pd.DataFrame) -> bytes | memoryview:
    """The rows of ``df`` as CSV text (UTF-8), each ending in ``\\n``, built column by column
    with Arrow (``exports.arrow_text``) to the csv module's rules for ``QUOTE_MINIMAL`` with a
    ``\\n`` line end: a field is quoted when it holds a comma, a quote or a ``\\n`` (not a bare
    ``\\r``), its quotes doubled; a missing value is an empty field, except that the only field
    of a row is then written ``""`` (the csv module never writes a blank line for a row)."""
    if len(df.columns) == 0:
        return b"\n" * len(df)
    empty = '""' if len(df.columns) == 1 else ""
    fields = [_field(format_column(df[c]), empty) for c in df.columns]
    return concatenated(join(join(*fields, separator=","), "\n"))


def _field(text: pd.Series, empty: str) -> pa.Array:
    values = pa.array(text, type=pa.large_string(), from_pandas=True)
    fields = values
    # Most columns are codes, dates and numbers that never need quotes: one pass over the
    # block's bytes says so, and only a column that may hold a comma, a quote or a line feed is
    # searched value by value.
    if holds_any(values, b',"\n'):
        needs_quotes = pc.or_(
            pc.or_(pc.match_substring(values, ","), pc.match_substring(values, '"')),
            pc.match_substring(values, "\n"),
        )
        if pc.any(needs_quotes).as_py():
            quoted = join('"', pc.replace_substring(values, '"', '""'), '"')
            fields = pc.if_else(needs_quotes, quoted, values)
    if empty:
        fields = pc.if_else(pc.equal(fields, large("")), large(empty), fields)
    return pc.fill_null(fields, large(empty))
