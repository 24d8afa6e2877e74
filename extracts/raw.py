"""The shape every reader returns, whatever the source."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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
    extra_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rows(self) -> int:
        return len(self.frame)
