"""The shape every reader hands to validation, whatever the source: text with the contract's column
names, indexed by source row number."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from schemas.columns import HeaderMatch

# The header is row 1, so the first data row is row 2, as a spreadsheet user counts.
FIRST_DATA_ROW = 2


def number_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Index the rows by source row number (the first data row is FIRST_DATA_ROW)."""
    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
    return frame


@dataclass(frozen=True)
class RawExtract:
    """One extract as read, before parsing.

    ``frame`` holds text only (pandas ``str``, missing = NaN), columns renamed to the contract's
    names, unknown columns dropped. Its index is the source row number: the line of a CSV or the
    row of a sheet, counting the header as row 1 (parquet and SQL rows are numbered the same way,
    as if the header were row 1).
    """

    name: str
    source: str  # a file name or a table label: safe to show, never a value from the data
    frame: pd.DataFrame
    sha256: str
    headers: HeaderMatch | None = None  # how the source's headers fell on the contract's

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The headers (as written) that are no contract column: reported once, never read."""
        return self.headers.unknown if self.headers is not None else ()
