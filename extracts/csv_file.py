"""Splitting the text of a CSV extract into records, each numbered by the line it starts on.

pandas' C parser does the work. Two things it cannot say are worked out around it:

- **Line numbers.** A quoted field may hold line breaks, so a record can span several lines and
  "the n-th record" is not "line n + 1". When the file has more lines than records, the line
  breaks inside each record's fields are counted (vectorised) to find the line each record
  starts on; the sum is checked against the file's line count.
- **Rows with more fields than the header.** pandas would cut such a row short with only a
  warning (or, on the first row, take a column for the index and shift every value): the
  warning sends the file the careful way, which reports each such row (its first fields are
  kept, so the report can name the record), never shifted and never the whole extract's
  failure.
- **Quotes out of place.** pandas takes text after a closing quote into the field without a
  word; the standard library's strict reading of the same text (``_fields_line_up``) refuses
  it, and also counts the records and their fields: a file where they do not line up with
  pandas' goes the careful way.

Anything the fast path cannot account for exactly (a row with more fields than the header, a
quote left open or followed by text, a line count that does not add up) is read again
by the standard library's csv module, record by record with its line numbers: slower, and only
for such files. (A spare column to catch one extra field on the fast path would cost every clean
file a fifth of its parsing time.)
"""

from __future__ import annotations

import csv
import io
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from extracts.guards import FileRefused
from schemas.cleaning import text_series

# A control character in the header line means this is not a CSV text file at all (binary data,
# or UTF-16 text without its byte order mark, which is half NUL bytes).
_BINARY_HEADER = re.compile(r"[\x00-\x08\x0e-\x1f]")
_VISIBLE = re.compile(r"\S")
# Blank lines above the header (empty, or only spaces and commas: Excel saves an empty first row
# of a sheet as ",,,,"): skipped, as the xlsx reader skips empty rows above its header row.
_BLANK_LINES = re.compile(r"(?:[ \t,]*(?:\r\n|\n|\r))+")
_BLANK_LINES_BYTES = re.compile(rb"(?:[ \t,]*(?:\r\n|\n|\r))+")
# pyarrow parses a file in blocks of this many bytes (in parallel); a line longer than a block
# is an error there, and such a file goes pandas' way.
_ARROW_BLOCK = 16 * 2**20


@dataclass(frozen=True)
class CsvRecords:
    """The records of a CSV file as text: ``frame`` has the header's names as columns (as written,
    repeats included) and the line each record starts on as its index (the header is line 1);
    ``extra_field_rows`` are the lines of records with more fields than the header: a value
    past it, or more empty fields than over half the records have (see ``_read_slow``); they are
    quarantined (E119)."""

    frame: pd.DataFrame
    extra_field_rows: tuple[int, ...]


def read_csv_records(text: str) -> CsvRecords:
    skipped, text = skip_blank_lines(text)
    if _VISIBLE.search(text) is None:
        raise FileRefused("the file is empty")
    return _shifted(_read_records(text), skipped)


def skip_blank_lines(text: str) -> tuple[int, str]:
    """The number of blank lines above the header, and the text from the header on."""
    blank = _BLANK_LINES.match(text)
    if blank is None:
        return 0, text
    return physical_lines(blank.group()), text[blank.end() :]


def _shifted(records: CsvRecords, lines: int) -> CsvRecords:
    """Records numbered by their lines in the whole file, ``lines`` blank lines above the
    header included."""
    if not lines:
        return records
    return CsvRecords(
        frame=records.frame.set_axis(records.frame.index + lines, axis=0),
        extra_field_rows=tuple(line + lines for line in records.extra_field_rows),
    )


def _read_records(text: str) -> CsvRecords:
    first_line = text[: _line_end(text)]
    if _BINARY_HEADER.search(first_line):
        raise FileRefused("binary data, not CSV text (or UTF-16 text without its byte order mark)")
    header = _header(first_line)
    # Arrow only splits files without quotes: a quoted one is not encoded for it.
    fast = None if '"' in text else _read_arrow(text.encode("utf-8"), len(header))
    if fast is None:
        fast = _read_fast(text, len(header))
    return fast if fast is not None else _read_slow(text)


def read_utf8_records(data: bytes) -> CsvRecords | None:
    """What ``read_csv_records`` makes of the text of ``data`` when its bytes are UTF-8 (a byte
    order mark allowed) and Arrow can split it, read straight from the bytes: the file is not
    decoded into a Python string and encoded back for Arrow (at national scale, a second of
    work and a copy of every extract in memory). None when the file needs the text's way: not
    UTF-8 throughout (Arrow checks every value), a quote anywhere, no visible header, or anything
    else ``_read_arrow`` leaves to pandas."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if b'"' in body:
        return None
    skipped = 0
    blank = _BLANK_LINES_BYTES.match(body)
    if blank is not None:
        skipped = physical_lines(blank.group().decode("ascii"))
        body = body[blank.end() :]
    ends = [i for i in (body.find(b"\n"), body.find(b"\r")) if i >= 0]
    try:
        first_line = body[: min(ends) if ends else len(body)].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _VISIBLE.search(first_line) is None or _BINARY_HEADER.search(first_line):
        return None  # the text's way says why
    records = _read_arrow(body, len(_header(first_line)))
    return None if records is None else _shifted(records, skipped)


def _header(first_line: str) -> list[str]:
    with _large_fields(len(first_line)):
        return next(csv.reader(io.StringIO(first_line + "\n", newline="")), [])


def physical_lines(text: str) -> int:
    """Lines as an editor counts them: CR LF, LF and a lone CR each end one."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + (0 if text.endswith(("\n", "\r")) else 1)


def _line_end(text: str) -> int:
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return min(ends) if ends else len(text)


def _read_arrow(data: bytes, width: int) -> CsvRecords | None:
    """pyarrow's CSV reader over the UTF-8 bytes of a file without a quote character; None
    otherwise, or when the file needs more than splitting (a row with more or fewer fields than
    the header, or bytes that are not UTF-8).

    Without quotes, splitting is all there is to CSV, and pyarrow splits exactly as pandas' C
    parser does (on commas, and on CR LF, LF or a lone CR), but straight into Arrow text: about
    ten times faster than pandas, which builds a Python string per cell first. With quotes the
    two parsers may disagree on malformed quoting, so such files take pandas' way."""
    if b'"' in data or width == 0:
        return None
    names = [str(i) for i in range(width)]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=_ARROW_BLOCK),
            parse_options=pa_csv.ParseOptions(
                quote_char=False,
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                null_values=[],
                check_utf8=True,  # bytes that are not UTF-8 go the text's way
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        # A ragged row (or a line longer than a block): pandas' way decides, and reports it.
        return None
    if not table.num_rows:
        return None
    header = [table.column(i)[0].as_py() for i in range(width)]
    body = table.slice(1)
    # Without quotes every record is one line; the header is line 1.
    index = pd.Index(np.arange(2, body.num_rows + 2, dtype=np.int64))
    columns = {i: text_series(body.column(i), index) for i in range(width)}
    frame = pd.DataFrame(columns, index=index, copy=False).set_axis(header, axis=1)
    return CsvRecords(frame=frame, extra_field_rows=())


def _read_fast(text: str, width: int) -> CsvRecords | None:
    """pandas' C parser; None when the file needs the careful reading."""
    names = [str(i) for i in range(width)]
    try:
        with warnings.catch_warnings():
            # With index_col=False a row with more fields than the header is cut short with
            # only a warning: that file is read the careful way instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                header=None,
                names=names,
                index_col=False,
                dtype="str",
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                quoting=csv.QUOTE_MINIMAL,
            )
    except (pd.errors.ParserWarning, pd.errors.ParserError):
        return None
    if not _fields_line_up(text, width, len(frame)):
        return None
    starts = _record_starts(text, frame)
    if starts is None:
        return None
    header = frame.iloc[0].tolist()
    body = frame.iloc[1:]
    body = body.set_axis(header, axis=1).set_axis(pd.Index(starts[1:]), axis=0)
    return CsvRecords(frame=body, extra_field_rows=())


def _fields_line_up(text: str, width: int, records: int) -> bool:
    """Whether the standard library's strict reading of ``text`` finds the ``records`` records
    pandas found (the header's included), none longer than ``width`` fields. pandas' parser takes
    text after a closing quote into the field (``"O"Brien`` became ``OBrien``, and two stray
    opening quotes swallowed every line between them into one value, without a word). When they
    do not line up, the careful reading decides, and refuses or reports. Only for text pandas
    reads: Arrow, which reads unquoted text first, refuses a record of another width itself."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        with _large_fields(len(text)):
            lengths = np.fromiter(map(len, reader), dtype=np.int64)
    except csv.Error:
        return False
    return len(lengths) == records and bool(np.all(lengths <= width))


def _record_starts(text: str, frame: pd.DataFrame) -> np.ndarray | None:
    """The line each record starts on, or None when the records do not add up to the file's
    lines (then the careful reading decides)."""
    records = len(frame)
    # Without a quote no field can hold a line break: each record is one line (the common case,
    # and a scan that stops at the first quote).
    if '"' not in text:
        return np.arange(1, records + 1, dtype=np.int64)
    lines = physical_lines(text)
    if lines == records:
        return np.arange(1, records + 1, dtype=np.int64)
    # Some quoted fields hold line breaks: count them, record by record.
    inner = np.zeros(records, dtype=np.int64)
    for column in frame.columns:
        values = frame[column]
        inner += (
            values.str.count("\n") + values.str.count("\r") - values.str.count("\r\n")
        ).to_numpy(dtype=np.int64)
    spans = inner + 1
    if int(spans.sum()) != lines:
        return None
    return np.concatenate(([1], 1 + np.cumsum(spans)[:-1])).astype(np.int64)


def _read_slow(text: str) -> CsvRecords:
    """The standard library's csv module, strict about quotes, record by record."""
    starts: list[int] = []
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0
    with _large_fields(len(text)):
        try:
            for fields in reader:
                starts.append(line + 1)
                rows.append(fields)
                line = reader.line_num
        except csv.Error:
            raise FileRefused(
                f"a quote is not closed, or stray text follows a closing quote, in the record "
                f"starting on line {line + 1}"
            ) from None
    header, body = rows[0], rows[1:]
    width = len(header)
    extra: list[int] = []
    cells: list[list[str]] = []
    # A record with more fields than the header is read no further (E119), or its shifted
    # values would be checked, and named in the report, as other columns'. Empty fields past the
    # header are an exporter's trailing delimiter when more than half the records have as many;
    # otherwise, even empty, they mean a value shifted right by an unquoted comma (the row's
    # last field was empty). (A record with fewer fields is padded with empty ones: exporters
    # leave out empty trailing fields row by row, and Excel after its first rows.)
    filled = [len(fields) for fields in body if any(f.strip() for f in fields)]
    usual, records = Counter(filled).most_common(1)[0] if filled else (width, 0)
    longest = usual if usual > width and 2 * records > len(filled) else width
    for start, fields in zip(starts[1:], body, strict=True):
        if len(fields) <= width or not any(f.strip() for f in fields):
            pass  # (a line of empty fields is no record: the reader drops it)
        elif len(fields) > longest or any(f.strip() for f in fields[width:]):
            extra.append(start)
        cells.append(fields[:width] + [""] * (width - len(fields)))
    positional = [str(i) for i in range(width)]
    frame = pd.DataFrame(cells, columns=positional, dtype="str") if cells else None
    if frame is None:
        frame = pd.DataFrame({c: pd.Series([], dtype="str") for c in positional})
    frame = frame.set_axis(header, axis=1).set_axis(pd.Index(starts[1:], dtype="int64"), axis=0)
    return CsvRecords(frame=frame, extra_field_rows=tuple(extra))


@contextmanager
def _large_fields(size: int) -> Iterator[None]:
    # The csv module refuses fields over 128 KiB by default; a field is never longer than the
    # file, and memory is bounded by the file's size either way.
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, min(size + 1, sys.maxsize)))
    try:
        yield
    finally:
        csv.field_size_limit(previous)
