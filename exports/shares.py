"""How a share (a fraction such as the people quarantined) is written for people to read: on the
terminal, in the Prefect UI and in the validation report, the same way everywhere."""

from __future__ import annotations

from decimal import Decimal


def share_text(value: float) -> str:
    """A share as a percentage: one decimal place from 0.1% up; below that, two significant
    figures, so that one person in 100,000 reads as 0.001%, not as 0.0% or in exponent form."""
    if value == 0 or value >= 0.001:
        return f"{value:.1%}"
    return f"{Decimal(f'{value * 100:.2g}'):f}%"
