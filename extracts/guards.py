"""Cheap checks of an extract file's bytes before a library parses them.

A library fed the wrong kind of file, or a file built to explode, answers with a traceback, hours
of work or gigabytes of memory. These checks look only at what is cheap to look at (the first
bytes, a zip's directory, a sheet's declared size, a Parquet footer) and raise
:class:`FileRefused` with one line a data officer can act on. The limits are generous for real
extracts (a council's largest sheet is far below them) and documented in docs/decisions.md.
"""

from __future__ import annotations

import io
import re
import zipfile

# A sheet cannot hold more rows or columns than this (Excel's limits, also the xlsx format's).
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
# A workbook's parts may inflate to at most this much in all ...
XLSX_MAX_INFLATED = 4 * 2**30
# ... and a part larger than XLSX_RATIO_FLOOR may inflate to at most this many times its stored
# size. Real sheets compress 5 to 30 times; a zip bomb a thousand times.
XLSX_MAX_RATIO = 250
XLSX_RATIO_FLOOR = 50 * 2**20
# A Parquet file may decode to at most this many rows, and to at most PARQUET_CELLS_PER_BYTE
# cells (rows x columns) per byte of file (real extracts hold well under 3; a file of repeated
# values built to explode, millions).
PARQUET_MAX_ROWS = 50_000_000
PARQUET_CELLS_PER_BYTE = 25
PARQUET_MIN_CELLS = 1_000_000

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an encrypted workbook or an old .xls file"),
    (b"PAR1", "a Parquet file"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_DIMENSION = re.compile(
    rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]{1,3})?(\d+)(?::([A-Z]{1,3})?(\d+))?\""
)


_FIRST_LINE = re.compile(rb"[^\r\n]{0,65536}")
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1f]")


class FileRefused(ValueError):
    """The file is not what its name says, or would take unbounded time or memory to read."""


def binary_kind(data: bytes) -> str | None:
    """What a file that should be text really is, when its first bytes say so."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    return None


def check_text_header(data: bytes) -> None:
    """A CSV's header line holds no control characters: one there means binary data (or UTF-16
    text without its byte order mark, which is half NUL bytes), whatever decoding would make of
    it. (Checked on the bytes, before decoding: random bytes can look like any encoding.)"""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 with its mark: the decoder names it
    header = _FIRST_LINE.match(data)
    if header is not None and _CONTROL.search(header.group()):
        raise FileRefused("binary data, not CSV text (or UTF-16 text without its byte order mark)")


def check_xlsx(data: bytes) -> None:
    """Refuse a workbook that is not one, is encrypted, holds macros, or would inflate past the
    limits, before openpyxl reads any of it."""
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise FileRefused(
            "an encrypted (password-protected) workbook or an old .xls file: save it as an .xlsx "
            "workbook without a password"
        )
    if not data.startswith(b"PK"):
        kind = binary_kind(data)
        if kind is None and _looks_like_text(data):
            kind = "text (a CSV file named .xlsx?)"
        raise FileRefused(
            f"not an .xlsx workbook (not a zip archive{', but ' + kind if kind else ''})"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise FileRefused("not an .xlsx workbook (a damaged or truncated zip archive)") from None
    with archive:
        entries = archive.infolist()
        names = {e.filename for e in entries}
        if "xl/workbook.xml" not in names:
            raise FileRefused("not an .xlsx workbook (the zip archive holds no workbook)")
        if "xl/vbaProject.bin" in names or _declares_macros(archive):
            raise FileRefused(
                "the workbook holds macros (an .xlsm workbook): save it as a plain .xlsx workbook"
            )
        total = 0
        for entry in entries:
            total += entry.file_size
            if entry.file_size > XLSX_RATIO_FLOOR and entry.file_size > XLSX_MAX_RATIO * max(
                entry.compress_size, 1
            ):
                raise FileRefused(
                    f"the workbook inflates more than {XLSX_MAX_RATIO} times its size (a zip "
                    "bomb?): not read"
                )
        if total > XLSX_MAX_INFLATED:
            raise FileRefused(
                f"the workbook inflates to more than {XLSX_MAX_INFLATED // 2**30} GiB: not read"
            )
        for entry in entries:
            if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
                _check_dimension(archive, entry)


def _declares_macros(archive: zipfile.ZipFile) -> bool:
    try:
        with archive.open("[Content_Types].xml") as part:
            head = part.read(1 << 16)
    except KeyError:
        return False
    return b"macroEnabled" in head


def _check_dimension(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """A sheet's declared size comes first in its XML; a size past Excel's limits is no sheet
    Excel wrote (a size within them may still be wrong: the reader does not trust it)."""
    with archive.open(entry) as part:
        head = part.read(1 << 14)
    found = _DIMENSION.search(head)
    if found is None:
        return
    last_letters, last_row = found.group(3) or found.group(1), found.group(4) or found.group(2)
    if int(last_row) > EXCEL_MAX_ROWS:
        raise FileRefused(
            f"a sheet declares rows past Excel's last row {EXCEL_MAX_ROWS:,}: not a workbook "
            "Excel wrote; not read"
        )
    if last_letters and column_number(last_letters.decode("ascii")) > EXCEL_MAX_COLUMNS:
        raise FileRefused(
            f"a sheet declares columns past Excel's last column {EXCEL_MAX_COLUMNS:,}: not read"
        )


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27, ``XFD`` -> 16384."""
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - ord("A") + 1)
    return number


def check_parquet(data: bytes) -> None:
    """Refuse a file that is not a whole Parquet file, or whose footer declares more rows or
    cells than the limits, before any column is decoded."""
    if len(data) < 12 or not data.startswith(b"PAR1"):
        kind = binary_kind(data)
        raise FileRefused(f"not a Parquet file{' (it is ' + kind + ')' if kind else ''}")
    if not data.endswith(b"PAR1"):
        raise FileRefused("not a whole Parquet file (truncated: its footer is missing)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    except (pa.ArrowException, OSError, ValueError):
        raise FileRefused("a damaged Parquet file (its footer cannot be read)") from None
    rows, columns = metadata.num_rows, metadata.num_columns
    if rows > PARQUET_MAX_ROWS:
        raise FileRefused(f"the file declares more than {PARQUET_MAX_ROWS:,} rows: not read")
    if rows * columns > max(PARQUET_MIN_CELLS, PARQUET_CELLS_PER_BYTE * len(data)):
        raise FileRefused(
            "the file declares far more values than its size can hold (a decompression bomb?): "
            "not read"
        )


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    return bool(head) and b"\x00" not in head and (b"," in head or b"\n" in head)
