"""The in-memory shape of one synthetic extract, between generation and writing.

Columns are numpy arrays whose dtype says how they are written:
- ``datetime64[D]``: a date (NaT = empty);
- ``float64``: a whole number (NaN = empty); floats hold every count we make exactly;
- unicode (``<U``): text, codes and identifiers ('' = empty).

Columns whose name starts with ``_`` are generation bookkeeping (the family or person index a row
belongs to) and are never written. ``overrides`` holds raw cell text that no typed value can
carry (an impossible date, ``two`` in a count): the writers put that text in the cell instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DATE = np.dtype("datetime64[D]")
NAT = np.datetime64("NaT", "D")


@dataclass
class Table:
    name: str
    columns: dict[str, np.ndarray]
    overrides: dict[str, dict[int, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def public_columns(self) -> list[str]:
        return [c for c in self.columns if not c.startswith("_")]

    def take(self, keep: np.ndarray) -> Table:
        """Rows where ``keep`` is True (before any override exists: positions would shift)."""
        if self.overrides:
            raise RuntimeError("cannot drop rows once cell overrides are set")
        return Table(self.name, {c: v[keep] for c, v in self.columns.items()})

    def set_text(self, column: str, rows: np.ndarray, values: np.ndarray | str) -> None:
        """Assign text to a unicode column, widening it when the new text is longer."""
        current = self.columns[column]
        new = np.asarray(values, dtype=str)
        width = max(current.dtype.itemsize, new.dtype.itemsize) // 4
        if width * 4 > current.dtype.itemsize:
            current = current.astype(f"<U{width}")
        else:
            current = current.copy()
        current[rows] = new
        self.columns[column] = current

    def set_values(
        self, column: str, rows: np.ndarray, values: np.ndarray | np.generic | float
    ) -> None:
        current = self.columns[column].copy()
        current[rows] = values
        self.columns[column] = current

    def override(self, column: str, rows: np.ndarray, texts: list[str] | np.ndarray) -> None:
        cells = self.overrides.setdefault(column, {})
        for row, text in zip(rows.tolist(), list(texts), strict=True):
            cells[int(row)] = str(text)


def days(values: np.ndarray | int) -> np.ndarray:
    """Whole days as a timedelta array, for date arithmetic."""
    return np.asarray(values, dtype="int64").astype("timedelta64[D]")


def group_positions(sizes: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end, each element's position in its group."""
    total = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    return np.arange(total, dtype=np.int64) - np.repeat(starts, sizes)
