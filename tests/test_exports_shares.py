"""How shares are written for people (exports/shares.py): the terminal, the Prefect UI and the
validation report say "people quarantined" the same way, and a small share is never shown as
nothing or in exponent form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.shares import share_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0%"),
        (1.0, "100.0%"),
        (0.05, "5.0%"),
        (0.0583, "5.8%"),
        (0.001, "0.1%"),
        # Below 0.1%: two significant figures.
        (0.0004, "0.04%"),
        (0.00012, "0.012%"),
        (0.0001, "0.01%"),
        # One person in 100,000 (a hub), and in 1.4 million (the national evaluation).
        (1 / 100_000, "0.001%"),
        (1 / 1_400_000, "0.000071%"),
        # Rounds up into the next band's form.
        (0.000999, "0.1%"),
    ],
)
def test_shares_worked_by_hand(value: float, text: str) -> None:
    assert share_text(value) == text


@given(st.floats(min_value=1e-9, max_value=0.000999, allow_nan=False))
def test_a_small_share_is_never_nothing_nor_in_exponent_form_and_reads_back_close(
    value: float,
) -> None:
    text = share_text(value)
    assert text.endswith("%") and "e" not in text.lower()
    shown = float(text[:-1]) / 100
    assert shown > 0
    # Two significant figures: within half a unit of the second figure.
    assert abs(shown - value) <= 0.05 * value + 1e-15


@given(st.floats(min_value=0.001, max_value=1.0, allow_nan=False))
def test_from_a_tenth_of_a_percent_one_decimal_place(value: float) -> None:
    text = share_text(value)
    whole, _, decimals = text[:-1].partition(".")
    assert len(decimals) == 1 and whole.isdigit()
    assert abs(float(text[:-1]) - value * 100) <= 0.05 + 1e-9
