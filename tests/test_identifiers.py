"""The identifier rules of the contract (section 2).

UPN and NHS number: differential tests against python-stdnum on many generated values, valid and
corrupted. stdnum's ``upn.is_valid`` also checks the issuing LA against a list the contract does
not have, so the UPN comparison is on shape and check letter (``calc_check_digit``) only.
NINO and postcode: hypothesis property tests built from the grammar.
"""

from __future__ import annotations

import random
import string

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.gb import nhs as stdnum_nhs
from stdnum.gb import upn as stdnum_upn

from schemas.identifiers import (
    UPN_ALPHABET,
    format_postcode,
    nhs_is_valid,
    nino_is_valid,
    normalise,
    postcode_is_valid,
    upn_is_valid,
)

SETTINGS = settings(max_examples=200, deadline=None)
N_GENERATED = 20_000


def _series(values: list[str]) -> pd.Series:
    return pd.Series(values, dtype="str")


def _check(validator, values: list[str]) -> list[bool]:  # type: ignore[no-untyped-def]
    return validator(normalise(_series(values))).tolist()


# --- worked examples of the contract --------------------------------------------------------


def test_contract_examples() -> None:
    assert _check(upn_is_valid, ["B801200005001", "b801 2000 05001"]) == [True, True]
    assert _check(nhs_is_valid, ["9434765870", "943 476 5870"]) == [True, True]
    assert _check(upn_is_valid, ["A801200005001"]) == [False]  # B is its check letter
    assert format_postcode(normalise(_series(["l1 8jq", "SW1A1AA", "  ec1a 1bb "]))).tolist() == [
        "L1 8JQ",
        "SW1A 1AA",
        "EC1A 1BB",
    ]


def test_missing_values_are_not_failures() -> None:
    values = normalise(_series(["", "   ", None]))  # type: ignore[list-item]
    assert values.isna().all()
    for validator in (nino_is_valid, upn_is_valid, nhs_is_valid, postcode_is_valid):
        assert validator(values).tolist() == [True, True, True]


def test_validators_keep_the_index() -> None:
    values = pd.Series(["AB123456C", "B801200005001"], index=[7, 3], dtype="str")
    assert upn_is_valid(values).index.tolist() == [7, 3]
    assert nhs_is_valid(values).index.tolist() == [7, 3]
    assert nino_is_valid(values).index.tolist() == [7, 3]


# --- UPN against stdnum ---------------------------------------------------------------------

_UPN_DIGITS = "0123456789"


def _random_upn_body(rng: random.Random) -> str:
    """12 characters after the check letter: 11 digits then a digit, or a letter (temporary)."""
    body = "".join(rng.choice(_UPN_DIGITS) for _ in range(11))
    last = rng.choice(UPN_ALPHABET) if rng.random() < 0.4 else rng.choice(_UPN_DIGITS)
    return body + last


def _corrupt(value: str, rng: random.Random, alphabet: str) -> str:
    kind = rng.randrange(6)
    at = rng.randrange(len(value))
    if kind == 0:  # change one character
        return value[:at] + rng.choice(alphabet) + value[at + 1 :]
    if kind == 1 and len(value) > 1:  # swap two neighbours
        at = min(at, len(value) - 2)
        return value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    if kind == 2:  # drop one
        return value[:at] + value[at + 1 :]
    if kind == 3:  # add one
        return value[:at] + rng.choice(alphabet) + value[at:]
    if kind == 4:  # a letter the UPN alphabet leaves out, or punctuation
        return value[:at] + rng.choice("IOS/-.") + value[at + 1 :]
    return value


def _stdnum_upn_check_ok(value: str) -> bool:
    """stdnum's shape and check-letter rules, without its list of LA numbers."""
    v = stdnum_upn.compact(value)
    if len(v) != 13 or not v[1:-1].isdigit() or v[-1] not in stdnum_upn._alphabet:
        return False
    return v[0] in UPN_ALPHABET and stdnum_upn.calc_check_digit(v[1:]) == v[0]


def _generated_upns() -> list[str]:
    rng = random.Random(20250401)
    values = []
    for _ in range(N_GENERATED):
        body = _random_upn_body(rng)
        valid = stdnum_upn.calc_check_digit(body) + body
        values.append(valid)
        values.append(_corrupt(valid, rng, UPN_ALPHABET + _UPN_DIGITS))
        values.append(rng.choice(UPN_ALPHABET) + body)  # a random check letter
    return values


def test_upn_with_stdnums_check_letter_is_valid() -> None:
    rng = random.Random(7)
    bodies = [_random_upn_body(rng) for _ in range(N_GENERATED)]
    assert all(_check(upn_is_valid, [stdnum_upn.calc_check_digit(b) + b for b in bodies]))


def test_upn_is_valid_matches_stdnum_check_letter_logic() -> None:
    values = _generated_upns()
    ours = _check(upn_is_valid, values)
    theirs = [_stdnum_upn_check_ok(v) for v in values]
    disagree = [v for v, a, b in zip(values, ours, theirs, strict=True) if a != b]
    assert disagree == []
    # The generator covers both outcomes and temporary UPNs in both.
    assert 0.3 < sum(ours) / len(ours) < 0.8
    temporary = [v[-1].isalpha() for v in values]
    assert any(t and ok for t, ok in zip(temporary, ours, strict=True))
    assert any(t and not ok for t, ok in zip(temporary, ours, strict=True))


def test_upn_agrees_with_stdnum_is_valid_where_the_la_is_known() -> None:
    values = [v for v in _generated_upns()[:3000] if v[1:4].isdigit()]
    known = [v for v in values if int(v[1:4]) in stdnum_upn._la_numbers]
    assert len(known) > 50
    assert _check(upn_is_valid, known) == [stdnum_upn.is_valid(v) for v in known]


def test_upn_check_letter_is_never_i_o_or_s() -> None:
    # A body whose check would be I, O or S cannot exist: the alphabet has no such letter.
    assert not set("IOS") & set(UPN_ALPHABET)
    assert _check(upn_is_valid, ["I801200005001", "O801200005001", "S801200005001"]) == [False] * 3


# --- NHS number against stdnum --------------------------------------------------------------


def _generated_nhs_numbers() -> list[str]:
    rng = random.Random(9434765870)
    values = []
    for _ in range(N_GENERATED):
        nine = "".join(rng.choice(string.digits) for _ in range(9))
        check = (
            11 - sum(w * int(d) for w, d in zip(range(10, 1, -1), nine, strict=True)) % 11
        ) % 11
        if check == 10:  # no number has this body; keep a (necessarily invalid) value anyway
            values.append(nine + rng.choice(string.digits))
        else:
            values.append(nine + str(check))
        values.append(_corrupt(values[-1], rng, string.digits + "AX"))
        values.append(nine + rng.choice(string.digits))
    return values


def test_nhs_is_valid_matches_stdnum() -> None:
    values = _generated_nhs_numbers()
    ours = _check(nhs_is_valid, values)
    theirs = [stdnum_nhs.is_valid(v) for v in values]
    disagree = [v for v, a, b in zip(values, ours, theirs, strict=True) if a != b]
    assert disagree == []
    assert 0.3 < sum(ours) / len(ours) < 0.8


def test_nhs_valid_numbers_have_stdnum_checksum_zero() -> None:
    values = _generated_nhs_numbers()[:3000]
    valid = [v for v, ok in zip(values, _check(nhs_is_valid, values), strict=True) if ok]
    assert len(valid) > 500
    assert {stdnum_nhs.checksum(v) for v in valid} == {0}


def test_nhs_body_whose_check_digit_would_be_ten_is_never_valid() -> None:
    # Body 000000006: weighted sum 6 * 2 = 12, 12 % 11 = 1, 11 - 1 = 10: no digit fits.
    candidates = [f"000000006{d}" for d in range(10)]
    assert [stdnum_nhs.is_valid(v) for v in candidates] == [False] * 10
    assert _check(nhs_is_valid, candidates) == [False] * 10
    # Body 000000000: check 11 is written 0; body 000000001: 11 - 2 = 9.
    assert _check(nhs_is_valid, ["0000000000", "0000000019"]) == [True, True]


# --- NINO: properties from the grammar ------------------------------------------------------
# Each example checks several derived values in one vectorised call (a call costs more than
# the values in it).

NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"  # not D F I Q U V
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"  # not D F I O Q U V
NINO_SUFFIX = "ABCD"
NINO_BAD_PREFIXES = ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")


@st.composite
def ninos(draw: st.DrawFn) -> str:
    prefix = draw(
        st.tuples(st.sampled_from(NINO_FIRST), st.sampled_from(NINO_SECOND))
        .map("".join)
        .filter(lambda p: p not in NINO_BAD_PREFIXES)
    )
    digits = draw(st.text(alphabet=string.digits, min_size=6, max_size=6))
    return prefix + digits + draw(st.sampled_from(NINO_SUFFIX))


def _spaced(draw: st.DrawFn, value: str) -> str:
    """The same value with random case and spaces (tabs too) around and between characters."""
    out = []
    for ch in value:
        out.append(draw(st.sampled_from(["", " ", "  ", "\t"])))
        out.append(ch.lower() if draw(st.booleans()) else ch)
    out.append(draw(st.sampled_from(["", " ", "\t "])))
    return "".join(out)


def _replace(value: str, position: int, char: str) -> str:
    return value[:position] + char + value[position + 1 :]


@SETTINGS
@given(st.data(), ninos())
def test_nino_properties(data: st.DataObject, nino: str) -> None:
    messy = _spaced(data.draw, nino)
    position, forbidden = data.draw(
        st.sampled_from(
            [
                (0, "DFIQUV"),
                (1, "DFIOQUV"),
                (8, "EFGHIJKLMNOPQRSTUVWXYZ"),
                (data.draw(st.integers(2, 7)), string.ascii_uppercase),
            ]
        )
    )
    bad_letter = _replace(nino, position, data.draw(st.sampled_from(forbidden)))
    bad_prefix = data.draw(st.sampled_from(NINO_BAD_PREFIXES)) + nino[2:]
    at = data.draw(st.integers(0, 8))
    values = [nino, messy, bad_letter, bad_prefix, nino[:at] + nino[at + 1 :], nino + "A"]

    assert normalise(_series([messy])).tolist() == [nino]
    assert _check(nino_is_valid, values) == [True, True, False, False, False, False]


def test_nino_examples() -> None:
    values = ["AB123456C", "ab 12 34 56 c", "QQ123456C", "AB123456", "AO123456A", "NT123456A"]
    assert _check(nino_is_valid, values) == [True, True, False, False, False, False]


# --- postcode: properties from the grammar --------------------------------------------------

PC_FIRST = "ABCDEFGHIJKLMNOPRSTUWYZ"  # not Q V X
PC_SECOND = "ABCDEFGHKLMNOPQRSTUVWXY"  # not I J Z
PC_THIRD_A9A = "ABCDEFGHJKPSTUW"
PC_FOURTH_AA9A = "ABEHMNPRVWXY"
PC_INWARD = "ABDEFGHJLNPQRSTUWXYZ"  # not C I K M O V
DIGIT = st.sampled_from(string.digits)


@st.composite
def outward_codes(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(PC_FIRST))
    form = draw(st.sampled_from(["A9", "A99", "AA9", "AA99", "A9A", "AA9A"]))
    if form == "A9":
        return first + draw(DIGIT)
    if form == "A99":
        return first + draw(DIGIT) + draw(DIGIT)
    second = draw(st.sampled_from(PC_SECOND))
    if form == "AA9":
        return first + second + draw(DIGIT)
    if form == "AA99":
        return first + second + draw(DIGIT) + draw(DIGIT)
    if form == "A9A":
        return first + draw(DIGIT) + draw(st.sampled_from(PC_THIRD_A9A))
    return first + second + draw(DIGIT) + draw(st.sampled_from(PC_FOURTH_AA9A))


@st.composite
def inward_codes(draw: st.DrawFn) -> str:
    return draw(DIGIT) + draw(st.sampled_from(PC_INWARD)) + draw(st.sampled_from(PC_INWARD))


def _forbidden_positions(outward: str) -> list[tuple[int, str]]:
    """(position in the compact postcode, letters the grammar forbids there)."""
    n = len(outward)
    choices = [
        (0, "QVX"),  # first letter
        (n, string.ascii_uppercase),  # the inward digit
        (n + 1, "CIKMOV"),  # inward letters
        (n + 2, "CIKMOV"),
    ]
    if outward[1].isalpha():
        choices.append((1, "IJZ"))
    if n == 3 and outward[1].isdigit() and outward[2].isalpha():
        choices.append((2, "ILMNOQRVXYZ"))  # third letter of A9A
    if n == 4 and outward[3].isalpha():
        choices.append((3, "CDFGIJKLOQSTUZ"))  # fourth letter of AA9A
    return choices


@SETTINGS
@given(st.data(), outward_codes(), inward_codes())
def test_postcode_properties(data: st.DataObject, outward: str, inward: str) -> None:
    compact = outward + inward
    messy = _spaced(data.draw, f"{outward} {inward}")
    position, forbidden = data.draw(st.sampled_from(_forbidden_positions(outward)))
    mutated = _replace(compact, position, data.draw(st.sampled_from(forbidden)))
    values = [
        compact,
        messy,
        mutated,
        outward,  # no inward code
        outward + inward[:2],
        compact + "A",
        "9" + compact,
    ]
    normalised = normalise(_series(values))
    assert postcode_is_valid(normalised).tolist() == [True, True] + [False] * 5
    # Formatting: upper case, exactly one space, before the three-character inward code.
    assert format_postcode(normalised[:2]).tolist() == [f"{outward} {inward}"] * 2


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("L1 8JQ", True),
        ("M1 1AE", True),
        ("B33 8TH", True),
        ("CR2 6XH", True),
        ("DN55 1PT", True),
        ("W1A 0AX", True),
        ("EC1A 1BB", True),
        ("GIR 0AA", True),
        ("QL1 8JQ", False),
        ("L1 8CQ", False),
        ("L1", False),
        ("L1 8JQ X", False),
        ("12345", False),
    ],
)
def test_postcode_examples(value: str, valid: bool) -> None:
    assert postcode_is_valid(normalise(_series([value]))).tolist() == [valid]


# --- any text at all: each value judged on its own, never a crash -----------------------------

VALIDATORS = [nino_is_valid, upn_is_valid, nhs_is_valid, postcode_is_valid]
# Digits of other scripts: fullwidth, Arabic-Indic, Devanagari, mathematical bold.
OTHER_DIGITS = "０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९𝟎𝟏𝟐"


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
@SETTINGS
@given(values=st.lists(st.text(max_size=16) | st.sampled_from(list(OTHER_DIGITS)), max_size=12))
def test_validators_take_any_text_value_by_value(validator, values: list[str]) -> None:  # type: ignore[no-untyped-def]
    valid_upn, valid_nhs = "B801200005001", "9434765870"
    series = normalise(_series([*values, valid_upn, valid_nhs, "AB123456C", "L18JQ"]))
    result = validator(series)
    assert result.dtype == bool and result.index.equals(series.index)
    # One strange value never changes the verdict on the others.
    alone = [bool(validator(series.iloc[[i]]).iloc[0]) for i in range(len(series))]
    assert result.tolist() == alone
    # A value passes only if it is plain ASCII (the contract's letters and digits).
    for value, ok in zip(series.tolist(), result.tolist(), strict=True):
        if ok and isinstance(value, str):
            assert value.isascii()


@pytest.mark.parametrize(
    ("validator", "valid"),
    [
        (nino_is_valid, "AB123456C"),
        (upn_is_valid, "B801200005001"),
        (nhs_is_valid, "9434765870"),
        (postcode_is_valid, "L18JQ"),
    ],
    ids=["nino", "upn", "nhs", "postcode"],
)
@pytest.mark.parametrize(
    "digit", list("１٣९𝟎"), ids=["fullwidth", "arabic-indic", "devanagari", "bold"]
)
def test_a_digit_of_another_script_fails_only_its_own_value(
    validator, valid: str, digit: str
) -> None:  # type: ignore[no-untyped-def]
    position = next(i for i, ch in enumerate(valid) if ch.isdigit())
    other = valid[:position] + digit + valid[position + 1 :]
    assert _check(validator, [valid, other, valid]) == [True, False, True]
