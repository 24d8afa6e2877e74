"""Identifier rules of the contract (NINO, UPN, NHS number, postcode), vectorised over Series.

Each ``normalise_*`` strips spaces and upper-cases; each ``*_is_valid`` returns a boolean Series
that is True for valid values and for missing ones (a missing identifier is not a failure).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.cleaning import (
    bytes_held,
    empty_as_missing,
    leading_bytes,
    may_hold,
    text_array,
    text_series,
)

# [0-9], never \d: Python's \d also matches other scripts' digits (fullwidth ３), which are not
# the contract's digits and which the check-digit arithmetic below cannot read.
NINO_PATTERN = r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"
POSTCODE_PATTERN = (
    r"^(?:(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])[0-9][ABD-HJLNP-UW-Z]{2}|GIR0AA)$"
)
# The 23 letters of the UPN check alphabet (no I, O, S): both the check letter and a temporary
# UPN's final letter are indexes into it.
UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_BODY_PATTERN = r"^[A-HJ-NP-RT-Z][0-9]{11}[0-9A-HJ-NP-RT-Z]$"


def normalise(values: pd.Series) -> pd.Series:
    """Strip all white space and upper-case; empty strings become missing."""
    out = text_array(values.astype("str"))
    # Literal replaces of the white space seen in extracts (a regex runs per value in Python),
    # each only when the column holds its bytes: ids rarely hold any.
    held = bytes_held(out)
    for space in (" ", "\t", "\u00a0", "\r", "\n"):
        if may_hold(held, space):
            out = pc.replace_substring(out, space, "")
    return text_series(empty_as_missing(pc.utf8_upper(out)), values.index)


# NINO_PATTERN in two parts RE2 runs (it has no look-ahead, so pandas would run the whole pattern
# in Python, value by value): the shape, and the prefixes never issued.
_NINO_SHAPE = r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$"
_NINO_NOT_ISSUED = r"^(?:BG|GB|KN|NK|NT|TN|ZZ)"


def nino_is_valid(nino: pd.Series) -> pd.Series:
    arrow = text_array(nino.astype("str"))
    shaped = pc.match_substring_regex(arrow, _NINO_SHAPE)
    issued = pc.invert(pc.match_substring_regex(arrow, _NINO_NOT_ISSUED))
    valid = pc.and_(shaped, issued).fill_null(False).to_numpy(zero_copy_only=False)
    return pd.Series(nino.isna().to_numpy(dtype=bool) | valid, index=nino.index)


def upn_is_valid(upn: pd.Series) -> pd.Series:
    shaped = upn.str.fullmatch(_UPN_BODY_PATTERN).fillna(False).astype(bool).to_numpy()
    result = upn.isna().to_numpy().copy()
    if shaped.any():
        codes = _fixed_bytes(upn, shaped, 13)
        digits = codes[:, 1:12] - ord("0")
        last = codes[:, 12]
        alpha_index = np.full(256, -1, dtype=np.int64)
        for i, letter in enumerate(UPN_ALPHABET):
            alpha_index[ord(letter)] = i
        last_value = np.where(last >= ord("A"), alpha_index[last], last - ord("0"))
        total = (digits * np.arange(2, 13)).sum(axis=1) + last_value * 13
        expected = np.frombuffer(UPN_ALPHABET.encode(), dtype=np.uint8)[total % 23]
        result[shaped] = expected == codes[:, 0]
    return pd.Series(result, index=upn.index)


def _fixed_bytes(values: pd.Series, rows: np.ndarray, width: int) -> np.ndarray:
    """The bytes of the values on ``rows`` (each ``width`` ASCII characters: the caller's regex
    made sure) as a (rows, width) int64 array, read from the Arrow buffers rather than through
    a Python string per value."""
    arrow = text_array(values.astype("str")).combine_chunks().cast(pa.large_string())
    return leading_bytes(arrow, np.flatnonzero(rows), width).astype(np.int64)


def nhs_is_valid(nhs: pd.Series) -> pd.Series:
    shaped = nhs.str.fullmatch(r"[0-9]{10}").fillna(False).astype(bool).to_numpy()
    result = nhs.isna().to_numpy().copy()
    if shaped.any():
        digits = _fixed_bytes(nhs, shaped, 10) - ord("0")
        check = 11 - (digits[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11
        check = np.where(check == 11, 0, check)
        result[shaped] = (check != 10) & (check == digits[:, 9])
    return pd.Series(result, index=nhs.index)


def postcode_is_valid(compact: pd.Series) -> pd.Series:
    """``compact`` is a normalised postcode with no spaces."""
    return compact.isna() | compact.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool)


def format_postcode(compact: pd.Series) -> pd.Series:
    """Upper case with one space before the three-character inward code (``L1 8JQ``)."""
    return compact.str.slice(0, -3) + " " + compact.str.slice(-3)
