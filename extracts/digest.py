"""Digests of extracts that have no file bytes to hash (tables and queries of a database)."""

from __future__ import annotations

import hashlib
import io

import pandas as pd


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
