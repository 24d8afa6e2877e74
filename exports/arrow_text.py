"""Text built column by column with Arrow compute kernels, shared by the CSV and xlsx writers.

Big tables are turned into text a block of rows at a time: each piece of a line is one Arrow
string column, the pieces are joined row by row in one kernel call, and the block's bytes are the
joined column's data buffer, read directly instead of through a Python string per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def large(part: pa.Array | str) -> pa.Array | pa.Scalar:
    """``part`` as a large_string scalar when it is a plain string: Arrow joins only strings of
    one type, and the columns are large_string."""
    return pa.scalar(part, pa.large_string()) if isinstance(part, str) else part


def join(*parts: pa.Array | str, separator: str = "") -> pa.Array:
    """The parts joined row by row (a plain string repeats on every row); null where any part is
    null."""
    return pc.binary_join_element_wise(*(large(part) for part in parts), large(separator))


def concatenated(strings: pa.Array | pa.ChunkedArray) -> bytes:
    """Every string of an Arrow string array with no nulls, end to end, as UTF-8."""
    if isinstance(strings, pa.ChunkedArray):
        return b"".join(concatenated(chunk) for chunk in strings.chunks)
    if len(strings) == 0:
        return b""
    offset_type = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=offset_type)
    first, last = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return strings.buffers()[2][int(first) : int(last)].to_pybytes()
