"""What a cell may hold to be written safely, in one place for the readers, the parser and the
writers: invisible characters at the edges (stripped on reading), characters no file format can
carry (removed once, while parsing, with a finding, so the CSV and the workbook hold the same
text), and the limits on ids and names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Characters that show nothing: white space (Python's own set, Unicode spaces included) and the
# invisible format characters exports and copy-paste leave behind (zero-width space, joiners,
# word joiner, byte order mark, Mongolian vowel separator). Stripped from both ends of every
# cell, so an id that is only these is missing, not a value nobody can see.
INVISIBLE_EDGES = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    "\u180e\u200b\u200c\u200d\u2060\ufeff"
)

# Characters XML 1.0 forbids (C0 controls other than tab, line feed and carriage return; U+FFFE
# and U+FFFF): a workbook holding one does not open. NUL is among them. (Lone surrogates are
# forbidden too, but no text that reaches a frame can hold one: Arrow strings are valid UTF-8.)
UNWRITABLE = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"

# The longest id a council's case system plausibly gives (a GUID is 36 characters); longer is a
# broken export (a note pasted into the id column), never sent.
ID_MAX_LENGTH = 64
# The longest forename or surname sent; longer is a broken export (and would not fit the
# workbook's cell limit if it were megabytes), so it is sent empty.
NAME_MAX_LENGTH = 100
# A value beginning with one of these is run as a formula when a CSV is opened in a spreadsheet
# (CSV injection). No council id begins with one; a name that does is sent empty.
FORMULA_PREFIXES = ("=", "+", "-", "@")


def strip_invisible(values: pd.Series) -> pd.Series:
    """Text with invisible characters stripped from both ends; empty becomes missing."""
    text = values.astype("str")
    # Straight on the Arrow array: pandas' Series.mask rewrites an Arrow column value by value.
    arrow = text_array(text).cast(pa.large_string())
    chunks = []
    for chunk in arrow.chunks:
        # Most cells begin and end with a visible ASCII character: a column where all do has
        # nothing to strip, and is not copied.
        if edges_may_be_invisible(chunk):
            chunk = pc.utf8_trim_whitespace(chunk)  # white space, as Arrow knows it: fast
            # The rest of INVISIBLE_EDGES is beyond ASCII: a column of ASCII text has none of it.
            if _any_arrow_byte(chunk, lambda b: b >= 0x80):
                chunk = pc.utf8_trim(chunk, characters=INVISIBLE_EDGES)
        chunks.append(_empty_as_missing(chunk))
    return text_series(pa.chunked_array(chunks, type=pa.large_string()), values.index)


def bytes_held(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which of the 256 byte values occur in the column's UTF-8 text (large_string): one scan
    of the part of its buffers its values span (bytes under a missing value may count: only
    ever a false alarm)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    seen = np.zeros(256, dtype=bool)
    for chunk in chunks:
        data = chunk.buffers()[2]
        if data is not None and data.size and len(chunk):
            offsets = value_offsets(chunk)
            held = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
            seen |= np.bincount(held, minlength=256) > 0
    return seen


def may_hold(held: np.ndarray, text: str) -> bool:
    """Whether a column whose :func:`bytes_held` is ``held`` may hold ``text``: never False
    when it does, so a literal replace can be skipped when False."""
    return bool(held[list(text.encode("utf-8"))].all())


def empty_as_missing(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """The text with its empty values missing (chunks with none are not copied)."""
    chunks = [_empty_as_missing(c.cast(pa.large_string())) for c in values.chunks]
    return pa.chunked_array(chunks, type=pa.large_string())


def leading_bytes(arrow: pa.Array, rows: np.ndarray, width: int) -> np.ndarray:
    """The first ``width`` bytes of the values on ``rows`` (each at least that long), as a
    (rows, width) uint8 array. When those rows are exactly the values with any text and all
    are ``width`` long (a column of plain dates), the data buffer already is that array."""
    offsets = value_offsets(arrow)
    lengths = np.diff(offsets)
    data = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)
    if len(rows) == np.count_nonzero(lengths) and (lengths[rows] == width).all():
        return data[offsets[0] : offsets[-1]].reshape(-1, width)
    # Otherwise a read-only view whose row i is bytes i..i+width-1 of the buffer, taken at each
    # value's start: one index per value rather than one per byte.
    windows = np.lib.stride_tricks.as_strided(
        data, shape=(len(data) - width + 1, width), strides=(1, 1), writeable=False
    )
    return windows[offsets[:-1][rows]]


def value_offsets(chunk: pa.Array) -> np.ndarray:
    """The start and end offsets of a large_string array's values (len(chunk) + 1 of them)."""
    buffer = chunk.buffers()[1]
    if buffer is None:
        return np.zeros(len(chunk) + 1, dtype=np.int64)
    return np.frombuffer(buffer, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]


def edges_may_be_invisible(chunk: pa.Array) -> bool:
    """Whether some value's first or last byte is a space, a control byte or beyond ASCII (the
    start of a character that may be invisible). Read from the Arrow buffers, no copy."""
    data = chunk.buffers()[2]
    if data is None or not len(chunk) or not data.size:
        return False
    offsets = value_offsets(chunk)
    codes = np.frombuffer(data, dtype=np.uint8)
    # The byte at each value's start and the one before each value's end. An empty value's are
    # its neighbours' first or last bytes (clipped at the buffer's ends), read anyway, so no
    # value needs picking out first. Bytes 0x21-0x7E are the visible ASCII: shifted down by
    # 0x21 in uint8, every other byte is 0x5E or more.
    first = np.take(codes, offsets[:-1], mode="clip") - np.uint8(0x21)
    last = np.take(codes, offsets[1:] - 1, mode="clip") - np.uint8(0x21)
    return bool((first >= 0x5E).any() or (last >= 0x5E).any())


def _empty_as_missing(chunk: pa.Array) -> pa.Array:
    """The chunk with its empty values missing (not copied when it has none)."""
    offsets = value_offsets(chunk)
    keep = offsets[1:] > offsets[:-1]
    if chunk.null_count:
        keep &= chunk.is_valid().to_numpy(zero_copy_only=False)
    if keep.all():
        return chunk
    return pc.if_else(pa.array(keep), chunk, pa.scalar(None, chunk.type))


# pandas' text dtype ("str"): Arrow storage, NaN for missing.
TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)


def text_array(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow array under a column of pandas text (``str``), without a copy."""
    return pa.chunked_array(values.array.__arrow_array__())


def text_series(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """A column of pandas text (``str``) over an Arrow string array, without a copy."""
    # The dtype's own Arrow import (the stubs do not know it): wraps, never copies large_string.
    array = TEXT_DTYPE.__from_arrow__(values)  # type: ignore[attr-defined]
    return pd.Series(array, index=index, copy=False)


def remove_unwritable(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(text without the characters no file can carry and with line breaks as ``\\n``, mask of the
    cells that lost characters). Only the few cells that need it are rewritten."""
    # Every character concerned is a control byte (carriage return included) or, for U+FFFE and
    # U+FFFF, starts with byte 0xEF in UTF-8: a column without those bytes is left as it is.
    if not _any_byte(values, lambda b: ((b < 0x20) & (b != 0x09) & (b != 0x0A)) | (b == 0xEF)):
        return values, pd.Series(False, index=values.index)
    touched = values.str.contains(_UNWRITABLE_OR_CR, regex=True).fillna(False).astype(bool)
    unwritable = pd.Series(False, index=values.index)
    if not touched.any():
        return values, unwritable
    subset = values[touched]
    unwritable[touched] = subset.str.contains(UNWRITABLE, regex=True).fillna(False).astype(bool)
    fixed = (
        subset.str.replace(UNWRITABLE, "", regex=True)
        .str.replace("\r\n", "\n", regex=False)
        .str.replace("\r", "\n", regex=False)
    )
    out = values.copy()
    out[touched] = strip_invisible(fixed)
    return out, unwritable


_UNWRITABLE_OR_CR = "[\x00-\x08\x0b-\x1f\ufffe\uffff]"


def _any_byte(values: pd.Series, test: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Whether any byte of the column's UTF-8 text passes ``test``, read straight from its Arrow
    buffers (a few milliseconds for a million values, where a regex takes a tenth of a second).
    True when the column is not Arrow text, so the caller does the exact work."""
    try:
        arrow = values.array.__arrow_array__()
    except (AttributeError, TypeError):
        return True
    return _any_arrow_byte(arrow, test)


def _any_arrow_byte(
    arrow: pa.Array | pa.ChunkedArray, test: Callable[[np.ndarray], np.ndarray]
) -> bool:
    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    for chunk in chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True
        data = chunk.buffers()[2]
        # The buffer may hold bytes outside a sliced chunk: a false alarm only costs the exact way.
        if data is not None and data.size and test(np.frombuffer(data, dtype=np.uint8)).any():
            return True
    return False
