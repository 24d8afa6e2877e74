"""The shape every reader returns, whatever the source."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import pandas as pd

# The header is row 1, so the first data row is row 2, as a spreadsheet user counts.
FIRST_DATA_ROW = 2


def number_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Index the rows by source row number (the first data row is FIRST_DATA_ROW)."""
    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
    return frame


def sha256_of_frame(frame: pd.DataFrame) -> str:
    """A stable digest of a text frame read from a database (there are no file bytes to hash):
    the SHA-256 of :func:`frame_csv_bytes` with the header."""
    return hashlib.sha256(frame_csv_bytes(frame, header=True)).hexdigest()


def frame_csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    """The frame as CSV, written by Arrow (fast, in C++): every value quoted, a missing value
    empty and unquoted (so an empty text and a NULL differ), ``\n`` line ends. Rows are written
    independently, so the bytes of a frame equal the bytes of its pieces (the first with the
    header) joined: a database read hashes chunk by chunk as they arrive."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    columns = [
        pa.array(frame.iloc[:, i].astype("str"), type=pa.string(), from_pandas=True)
        for i in range(frame.shape[1])
    ]
    table = pa.Table.from_arrays(columns, names=[str(c) for c in frame.columns])
    sink = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
    pa_csv.write_csv(table, sink, options)
    return sink.getvalue()


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
