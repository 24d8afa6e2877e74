"""Vectorised generation of valid identifiers (NINO, UPN, NHS number, postcode), of the varied ways
case systems write them, and of invalid ones for the defects.

The rules are those of spec section 2 as coded in ``schemas.identifiers``; the tests check every
value made here against those functions.
"""

from __future__ import annotations

import re

import numpy as np

from schemas.identifiers import NINO_PATTERN, UPN_ALPHABET
from synth.vocab import POSTCODE_INWARD_LETTERS, UPN_LA_NUMBER

_LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
# Every two-letter NINO prefix the contract accepts (372 of them): checked against the pattern
# itself rather than restated, so the two can never disagree.
NINO_PREFIXES = np.array(
    [
        a + b
        for a in _LETTERS
        for b in _LETTERS
        if re.fullmatch(NINO_PATTERN, f"{a}{b}123456A") is not None
    ]
)
_UPN_LETTERS = np.array(list(UPN_ALPHABET))
_S = np.strings


def _zfill(values: np.ndarray, width: int) -> np.ndarray:
    return _S.zfill(values.astype(np.int64).astype(str), width)


def _join(*parts: np.ndarray | str) -> np.ndarray:
    out = np.asarray(parts[0], dtype=str)
    for part in parts[1:]:
        out = _S.add(out, part)
    return out


def ninos(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid NINOs, compact and upper case."""
    prefix = NINO_PREFIXES[rng.integers(0, len(NINO_PREFIXES), n)]
    digits = _zfill(rng.integers(0, 1_000_000, n), 6)
    suffix = np.array(list("ABCD"))[rng.integers(0, 4, n)]
    return _join(prefix, digits, suffix)


def _lower_where(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    # np.strings.lower is not a true ufunc (slow on millions): apply it to the few that need it.
    out = values.copy()
    out[mask] = _S.lower(values[mask])
    return out


def nino_layouts(rng: np.random.Generator, compact: np.ndarray) -> np.ndarray:
    """As keyed into case systems: mostly compact, some spaced in pairs, some lower case."""
    spaced = _join(
        _S.slice(compact, 0, 2),
        " ",
        _S.slice(compact, 2, 4),
        " ",
        _S.slice(compact, 4, 6),
        " ",
        _S.slice(compact, 6, 8),
        " ",
        _S.slice(compact, 8, 9),
    )
    pick = rng.random(len(compact))
    out = np.where(pick < 0.10, spaced, compact)
    return _lower_where(out, pick > 0.90)


def upn_check_letters(digits: np.ndarray) -> np.ndarray:
    """Check letters for UPN bodies given as an (n, 12) array of character values (a temporary
    UPN's final letter as its index in the UPN alphabet), weights 2..13, mod 23."""
    total = (digits * np.arange(2, 14)).sum(axis=1) % 23
    return _UPN_LETTERS[total]


def upns(rng: np.random.Generator, entry_year: np.ndarray, temporary: np.ndarray) -> np.ndarray:
    """Valid UPNs: check letter, LA number, establishment, two-digit year of entry, serial. A
    temporary UPN ends in a letter instead of the serial's last digit."""
    n = len(entry_year)
    establishment = rng.integers(2000, 8000, n)
    year = entry_year % 100
    serial = rng.integers(0, 1000, n)
    last_letter = rng.integers(0, len(UPN_ALPHABET), n)
    digits = np.zeros((n, 12), dtype=np.int64)
    digits[:, 0:3] = [int(c) for c in UPN_LA_NUMBER]
    for i, power in enumerate((1000, 100, 10, 1)):
        digits[:, 3 + i] = establishment // power % 10
    digits[:, 7] = year // 10
    digits[:, 8] = year % 10
    digits[:, 9] = serial // 100
    digits[:, 10] = serial // 10 % 10
    digits[:, 11] = np.where(temporary, last_letter, serial % 10)
    check = upn_check_letters(digits)
    body = _join(UPN_LA_NUMBER, _zfill(establishment, 4), _zfill(year, 2))
    tail = np.where(
        temporary,
        _join(_zfill(serial // 10, 2), _UPN_LETTERS[last_letter]),
        _zfill(serial, 3),
    )
    return _join(check, body, tail)


def wrong_upn_check(rng: np.random.Generator, upn: np.ndarray) -> np.ndarray:
    """The same UPN with a different (wrong) check letter."""
    # UPN_ALPHABET is in alphabetical order, so searchsorted gives each letter's index in it.
    index = np.searchsorted(_UPN_LETTERS, _S.slice(upn, 0, 1))
    shifted = (index + rng.integers(1, len(UPN_ALPHABET), len(upn))) % len(UPN_ALPHABET)
    return _join(_UPN_LETTERS[shifted], _S.slice(upn, 1, 13))


def _nhs_check(digits: np.ndarray) -> np.ndarray:
    check = 11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11
    return np.where(check == 11, 0, check)


def nhs_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid NHS numbers: nine digits and the modulus 11 check digit (never 10)."""
    digits = rng.integers(0, 10, (n, 9))
    digits[:, 0] = np.where(rng.random(n) < 0.5, 4, 6)
    check = _nhs_check(digits)
    # A check value of 10 means no valid number has these nine digits: step the ninth digit on
    # until one exists (at most a few passes).
    while (bad := check == 10).any():
        digits[bad, 8] = (digits[bad, 8] + 1) % 10
        check[bad] = _nhs_check(digits[bad])
    number = (digits * 10 ** np.arange(9, 0, -1)).sum(axis=1) + check
    return _zfill(number, 10)


def nhs_layouts(rng: np.random.Generator, compact: np.ndarray) -> np.ndarray:
    spaced = _join(
        _S.slice(compact, 0, 3), " ", _S.slice(compact, 3, 6), " ", _S.slice(compact, 6, 10)
    )
    return np.where(rng.random(len(compact)) < 0.15, spaced, compact)


def wrong_nhs_check(rng: np.random.Generator, nhs: np.ndarray) -> np.ndarray:
    """The same number with another final digit: exactly one final digit is valid, so any other
    fails the modulus 11 check."""
    last = _S.slice(nhs, 9, 10).astype(np.int64)
    other = (last + rng.integers(1, 10, len(nhs))) % 10
    return _join(_S.slice(nhs, 0, 9), other.astype(str))


def postcodes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(outward, inward) codes of Liverpool-style postcodes such as ``L1`` and ``8JQ``."""
    outward = _join("L", rng.integers(1, 39, n).astype(str))
    letters = POSTCODE_INWARD_LETTERS[rng.integers(0, len(POSTCODE_INWARD_LETTERS), (n, 2))]
    inward = _join(rng.integers(0, 10, n).astype(str), letters[:, 0], letters[:, 1])
    return outward, inward


def postcode_layouts(
    rng: np.random.Generator, outward: np.ndarray, inward: np.ndarray
) -> np.ndarray:
    """Written as people type them: ``L1 8JQ``, ``L18JQ``, ``l1 8jq``, ``l18jq``, ``L1  8JQ``."""
    pick = rng.random(len(outward))
    # < 0.12 no space; 0.12-0.20 lower case; 0.20-0.25 lower case, no space; 0.25-0.30 two
    # spaces; the rest as printed on a letter.
    no_space = (pick < 0.12) | ((pick >= 0.20) & (pick < 0.25))
    two_spaces = (pick >= 0.25) & (pick < 0.30)
    separator = np.select([no_space, two_spaces], ["", "  "], " ")
    out = _join(outward, separator, inward)
    return _lower_where(out, (pick >= 0.12) & (pick < 0.25))


def invalid_ninos(rng: np.random.Generator, valid: np.ndarray) -> np.ndarray:
    """NINOs that fail the format: a prefix never issued, a suffix past D, or a digit short."""
    compact = _S.upper(_S.replace(valid, " ", ""))
    never_issued = np.array(["GB", "BG", "NK", "KN", "TN", "NT", "ZZ", "QQ", "DA", "FY"])
    kind = rng.integers(0, 3, len(valid))
    bad_prefix = _join(
        never_issued[rng.integers(0, len(never_issued), len(valid))], _S.slice(compact, 2, 9)
    )
    bad_suffix = _join(
        _S.slice(compact, 0, 8), np.array(list("EFMXZ"))[rng.integers(0, 5, len(valid))]
    )
    short = _join(_S.slice(compact, 0, 7), _S.slice(compact, 8, 9))
    return np.where(kind == 0, bad_prefix, np.where(kind == 1, bad_suffix, short))


def invalid_postcodes(rng: np.random.Generator, outward: np.ndarray) -> np.ndarray:
    """Postcodes whose inward code uses letters a postcode never has (C, I, K, M, O, V)."""
    never = np.array(list("CIKMOV"))
    letters = never[rng.integers(0, len(never), (len(outward), 2))]
    digit = rng.integers(0, 10, len(outward)).astype(str)
    return _join(outward, " ", digit, letters[:, 0], letters[:, 1])
