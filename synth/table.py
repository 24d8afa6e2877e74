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
    # Columns this table has its own copy of: the first change to a column copies it (the
    # arrays a table is made from may be shared), later changes write in place.
    _owned: set[str] = field(default_factory=set, repr=False, compare=False)
    _filled: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def public_columns(self) -> list[str]:
        return [c for c in self.columns if not c.startswith("_")]

    def take(self, keep: np.ndarray) -> Table:
        """Rows where ``keep`` is True (before any override exists: positions would shift)."""
        if self.overrides:
            raise RuntimeError("cannot drop rows once cell overrides are set")
        kept = {c: v[keep] for c, v in self.columns.items()}
        return Table(self.name, kept, _owned=set(kept))  # fresh arrays: no copy on write

    def filled(self, column: str) -> np.ndarray:
        """Mask of the rows where ``column`` has a value (kept until the column changes)."""
        mask = self._filled.get(column)
        if mask is None:
            values = self.columns[column]
            if values.dtype.kind == "M":
                mask = ~np.isnat(values)
            elif values.dtype.kind == "f":
                mask = ~np.isnan(values)
            else:
                mask = values != ""
            mask.flags.writeable = False  # shared: callers combine it into new masks
            self._filled[column] = mask
        return mask

    def _writable(self, column: str) -> np.ndarray:
        self._filled.pop(column, None)
        if column not in self._owned:
            self.columns[column] = self.columns[column].copy()
            self._owned.add(column)
        return self.columns[column]

    def set_text(self, column: str, rows: np.ndarray, values: np.ndarray | str) -> None:
        """Assign text to a unicode column, widening it when the new text is longer."""
        current = self.columns[column]
        new = np.asarray(values, dtype=str)
        width = max(current.dtype.itemsize, new.dtype.itemsize) // 4
        if width * 4 > current.dtype.itemsize:
            self.columns[column] = current.astype(f"<U{width}")
            self._owned.add(column)  # astype made a copy
        self._writable(column)[rows] = new

    def set_values(
        self, column: str, rows: np.ndarray, values: np.ndarray | np.generic | float
    ) -> None:
        self._writable(column)[rows] = values

    def override(self, column: str, rows: np.ndarray, texts: list[str] | np.ndarray) -> None:
        cells = np.asarray(texts, dtype=str).tolist()
        self.overrides.setdefault(column, {}).update(zip(rows.tolist(), cells, strict=True))


def days(values: np.ndarray | int) -> np.ndarray:
    """Whole days as a timedelta array, for date arithmetic."""
    return np.asarray(values, dtype="int64").astype("timedelta64[D]")


def group_positions(sizes: np.ndarray) -> np.ndarray:
    """For groups of the given sizes laid end to end, each element's position in its group."""
    total = int(sizes.sum())
    starts = np.cumsum(sizes) - sizes
    return np.arange(total, dtype=np.int64) - np.repeat(starts, sizes)
