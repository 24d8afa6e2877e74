"""Counts written for people to read: "1 family", "2 families", never "1 families"."""

from __future__ import annotations


def counted(number: int, one: str, many: str) -> str:
    """``number`` followed by the word that agrees with it."""
    return f"{number} {one if number == 1 else many}"
