"""The shape every reader hands to validation, whatever the source: text with the contract's column
names, indexed by source row number."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    as if the header were row 1). A CSV record is numbered by the line it starts on, so a quoted
    field holding line breaks does not shift the numbers after it.
    """

    name: str
    source: str  # a file name or a table label: safe to show, never a value from the data
    frame: pd.DataFrame
    sha256: str
    headers: HeaderMatch | None = None  # how the source's headers fell on the contract's
    # Source rows that had more fields than the header (a CSV line with a stray comma, a sheet
    # row with values past the last header): kept, cut to the header, and quarantined (E119).
    extra_field_rows: tuple[int, ...] = field(default_factory=tuple)

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The headers (as written) that are no contract column: reported once, never read."""
        return self.headers.unknown if self.headers is not None else ()
