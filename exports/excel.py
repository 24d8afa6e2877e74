"""openpyxl plumbing shared by the submission workbook and the validation report.

- Workbooks are openpyxl write-only (streaming) workbooks: no sheet is ever held in memory, and
  peak memory does not grow with the number of rows (tables are written in chunks).
- Only openpyxl's public API is used (``Workbook(write_only=True)``, ``create_sheet``,
  ``append``, ``WriteOnlyCell``, ``save``), never its writer's internals, which may change in
  any release; tests/test_exports_excel.py fails on a private openpyxl name and pins the bytes.
- Saved bytes are deterministic: the document properties carry a fixed time and every zip entry a
  fixed date, so the same tables give the same file and the same SHA-256 (openpyxl would stamp the
  save time in both places).
- Text is always text: openpyxl would store a value starting with ``=`` as a formula and one
  spelling an Excel error code (``#N/A``) as an error; such values are forced to text. (``+``,
  ``-`` and ``@`` are only dangerous in CSV-to-Excel imports; in an xlsx a string cell is inert
  whatever it starts with.) No cell is ever a formula. Characters that the xlsx format cannot
  hold (XML's forbidden ones, U+FFFE and U+FFFF included) are dropped, because openpyxl's error
  for them would quote the value, and Excel would not open the file.
- Table sheets (the submission tables, the findings, the data dictionary) are too big for
  openpyxl's per-cell writer (about 40 microseconds a cell without lxml: half an hour for a large
  LA). openpyxl makes the package (workbook, styles, sheet header, panes, widths, filter) with
  only the header row of each table sheet. At save, each table sheet's XML (openpyxl's, with the
  table's rows, serialised column by column with vectorised string operations, spliced in before
  ``</sheetData>``) is made and deflated by a thread of its own, two tables at a time, while the
  main thread deflates the small parts; the archive is then written by
  :mod:`exports.zip_writer` in openpyxl's entry order (fixed dates and permissions, fixed
  document times), byte for byte what :mod:`zipfile` would write, but with the big parts
  deflated at once on two cores instead of one after the other. Cells are inline strings (never
  formulas, whatever the text), numbers, and dates as day serials with openpyxl's own
  yyyy-mm-dd style.
- The deflated sheets are kept in a private folder beside the output instead of the system temp
  folder, so a killed run leaves no personal data there; openpyxl's saved package (no table
  rows) is kept in memory. openpyxl's own per-sheet scratch files (in the system temp folder;
  openpyxl removes them when it saves, which it is made to do however the workbook ends) hold
  only headers, the Summary sheets' counts and the data dictionary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import posixpath
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.xml.functions import tostring

from exports.arrow_text import concatenated, holds_any, join, large
from exports.files import atomic_path
from exports.made_ahead import made_ahead
from exports.priority import in_background
from exports.zip_writer import Deflated, DeflatedZip, Deflater, deflate_bytes
from schemas.cleaning import UNWRITABLE, edges_may_be_invisible

# Rows in a worksheet, header included.
EXCEL_MAX_ROWS = 1_048_576

# Written into docProps/core.xml instead of the save time, so that saved bytes do not depend on
# when the file was written.
FIXED_DOC_TIME = dt.datetime(2000, 1, 1)
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_PART = "docProps/core.xml"
_RELS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PACKAGE_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

# What XML forbids: openpyxl's own pattern misses U+FFFE and U+FFFF, and one of them makes the
# workbook unopenable. Parsing removes these from the data already (rule W206, so the CSV holds
# the same text); this is the last guard for text that did not come through it.
_UNWRITABLE_RE = re.compile(UNWRITABLE)
_BOLD = Font(bold=True)
_MIN_WIDTH, _MAX_WIDTH = 8, 60
_SHEET_THREADS = 2


class WriteOnlySheet(Protocol):
    """What this module and its callers use of an openpyxl write-only worksheet (openpyxl has no
    type hints, and its class lives in a private module)."""

    title: str
    auto_filter: Any

    def append(self, row: Iterable[Any]) -> None: ...


class StreamingWorkbook:
    """A write-only workbook whose table sheets go through a private scratch folder, deflated."""

    def __init__(self, scratch: Path) -> None:
        self.wb = Workbook(write_only=True)
        self.scratch = scratch
        self.tables: dict[str, _Table] = {}  # sheet title -> the rows to write into its XML
        self.saved = False

    def sheet(
        self,
        title: str,
        header: Sequence[str],
        widths: Sequence[float],
        *,
        freeze: bool = True,
    ) -> WriteOnlySheet:
        """A new sheet with its column widths and a bold (by default frozen) header row."""
        ws = self.wb.create_sheet(title)
        # openpyxl writes widths and panes when the first row is appended: set them before.
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        if freeze:
            ws.freeze_panes = "A2"
        ws.append(bold_row(ws, header))
        return ws

    def table_sheet(self, title: str, df: pd.DataFrame, *, autofilter: bool = False) -> None:
        """A sheet holding ``df`` in its row order under a bold, frozen header (see the module
        notes for how the rows are written); with ``autofilter``, Excel's filter buttons on the
        header, covering every row."""
        ws = self.sheet(title, [str(c) for c in df.columns], column_widths(df))
        if autofilter:
            last_column = get_column_letter(max(len(df.columns), 1))
            ws.auto_filter.ref = f"A1:{last_column}{len(df) + 1}"
        date_style = WriteOnlyCell(ws, value=dt.date(2000, 1, 1)).style_id  # registers the style
        self.tables[ws.title] = _Table(df, date_style)  # written at save; ``df`` is only read

    def save(self, path: Path) -> None:
        """Write the workbook to ``path`` atomically, mode 0600 (once: a write-only workbook cannot
        be saved twice)."""
        props = self.wb.properties
        props.created = FIXED_DOC_TIME
        props.modified = FIXED_DOC_TIME
        props.creator = "nis-pipeline"
        # openpyxl's package holds headers, summaries and the dictionary only: it is saved in
        # memory, so a full disk fails in this module's own writes, never inside openpyxl's
        # save (which would leave its zip file half-written and unclosed).
        package = io.BytesIO()
        self.saved = True
        self.wb.save(package)
        # save stamped the time into the properties (and so into core.xml): write them again.
        props.modified = FIXED_DOC_TIME
        core = tostring(props.to_tree())
        with zipfile.ZipFile(package) as src:
            tables = {
                part: self.tables[title]
                for title, part in sheet_parts(src).items()
                if title in self.tables
            }
            if len(tables) != len(self.tables):
                raise RuntimeError("a table sheet is missing from the saved workbook")
            entries = src.infolist()  # openpyxl's own entry order, which is fixed
            # Each table sheet's XML is made and deflated into the scratch folder by a thread of
            # its own, two at a time (Arrow's string kernels and zlib release the GIL), while this
            # thread deflates the small parts; the archive is then written from the streams.
            pool = ThreadPoolExecutor(_SHEET_THREADS, thread_name_prefix="nis-sheet")
            try:
                # The biggest first: a fresh thread takes it (see _deflate_sheet).
                biggest_first = sorted(
                    (e for e in entries if e.filename in tables),
                    key=lambda e: -tables[e.filename].frame.size,
                )
                sheets = {
                    e.filename: pool.submit(self._deflate_sheet, src.read(e), tables[e.filename])
                    for e in biggest_first
                }
                with atomic_path(path) as tmp, open(tmp, "wb") as out:
                    archive = DeflatedZip(out, _ZIP_DATE_TIME, 0o600)
                    for entry in entries:
                        if entry.filename == _CORE_PART:
                            member = deflate_bytes(core)
                        elif entry.filename in sheets:
                            member = sheets[entry.filename].result()  # raises what it raised
                        else:
                            member = deflate_bytes(src.read(entry))
                        archive.add(entry.filename, member)
                    archive.close()
            finally:
                # On a failure, sheets not yet started are dropped; none writes after this.
                pool.shutdown(wait=True, cancel_futures=True)

    def _deflate_sheet(self, sheet: bytes, table: _Table) -> Deflated:
        """A table sheet's XML, deflated into a scratch file: openpyxl wrote the header row
        only; the rows go in before </sheetData>."""
        if table.frame.size < max(t.frame.size for t in self.tables.values()):
            # The biggest sheet's deflate is the export's longest chain: the others fill the
            # gaps it leaves (exports.priority). A thread keeps its lowered priority for the
            # sheets it takes after this one, which are no bigger: the biggest is taken first.
            in_background()
        head, mark, tail = sheet.partition(b"</sheetData>")
        if not mark:
            raise RuntimeError("sheet XML has no sheetData to fill")
        fd, name = tempfile.mkstemp(prefix="sheet-", suffix=".deflate", dir=self.scratch)
        with open(fd, "wb") as out:
            deflater = Deflater(out)
            deflater.write(head)
            for rows in made_ahead(_row_chunks(table), "nis-sheet-rows"):
                deflater.write(rows)
            deflater.write(mark + tail)
            return deflater.finish(Path(name))


@dataclass(frozen=True)
class _Table:
    frame: pd.DataFrame
    date_style: int


def _row_chunks(table: _Table) -> Iterator[bytes | memoryview]:
    df = table.frame
    for start in range(0, len(df), _CHUNK_ROWS):
        chunk = df.iloc[start : start + _CHUNK_ROWS]
        yield rows_xml(chunk, first_row=start + 2, date_style=table.date_style)


@contextmanager
def streaming_workbook(path: Path) -> Iterator[StreamingWorkbook]:
    """A workbook to fill and then ``save(path)``; its scratch files are removed however it ends."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.scratch-", dir=path.parent))
    book = StreamingWorkbook(scratch)
    try:
        yield book
    finally:
        if not book.saved:
            # openpyxl removes its per-sheet scratch files when it saves (else only at exit).
            with contextlib.suppress(Exception):
                book.saved = True
                book.wb.save(io.BytesIO())  # in memory: the disk may be what failed
        shutil.rmtree(scratch, ignore_errors=True)


def sheet_parts(package: zipfile.ZipFile) -> dict[str, str]:
    """Each worksheet's title -> the zip entry holding its XML, as ``xl/workbook.xml`` and its
    relationships declare them."""
    workbook = ElementTree.fromstring(package.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in rels.iter(f"{{{_PACKAGE_RELS_NS}}}Relationship")
    }
    parts = {}
    for sheet in workbook.iter(f"{{{_SHEET_NS}}}sheet"):
        target = targets[sheet.get(f"{{{_RELS_NS}}}id")]
        # Targets are absolute (/xl/worksheets/sheet1.xml) or relative to xl/.
        part = target[1:] if target.startswith("/") else posixpath.join("xl", target)
        parts[str(sheet.get("name"))] = posixpath.normpath(part)
    return parts


def bold_row(ws: WriteOnlySheet, values: Iterable[Any]) -> list[Any]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=_clean(value))
        _keep_text(cell)
        if cell.value is not None:
            cell.font = _BOLD
        cells.append(cell)
    return cells


def safe_value(ws: WriteOnlySheet, value: Any) -> Any:
    """A single value made safe for a cell (see the module notes); for small, hand-made rows."""
    value = _clean(value)
    if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
        return _text_cell(ws, value)
    return value


def _clean(value: Any) -> Any:
    return _UNWRITABLE_RE.sub("", value) if isinstance(value, str) else value


def _keep_text(cell: WriteOnlyCell) -> None:
    if isinstance(cell.value, str):
        cell.data_type = "s"  # openpyxl infers "f" (formula) or "e" (error) from the text


def _text_cell(ws: WriteOnlySheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=text)
    _keep_text(cell)
    return cell


def column_widths(df: pd.DataFrame) -> list[float]:
    """A width per column from its header and its longest value, within sensible bounds."""
    widths = []
    for name in df.columns:
        longest = _longest_text(df[name])
        widths.append(float(min(max(len(str(name)), longest, _MIN_WIDTH) + 2, _MAX_WIDTH)))
    return widths


def _longest_text(s: pd.Series) -> int:
    """The length of the longest value of ``s`` written as text (0 when all are missing)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return 10
    # In chunks, like the rows: a whole column's lengths, its values without the missing ones or
    # its text would each be a copy as long as the table, and the sheet's peak memory would grow
    # with the rows. Whole numbers and strings are measured without making the text of every
    # value: the longest whole number is the smallest or the largest, and Arrow counts
    # characters in place.
    if s.empty:
        return 0
    if pd.api.types.is_integer_dtype(s):
        ends = [end for c in _chunks(s) for end in (c.min(), c.max()) if not pd.isna(end)]
        return max((len(str(int(end))) for end in ends), default=0)
    if pd.api.types.is_float_dtype(s):
        return _longest_float_text(s)
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        lengths = (pc.max(pc.utf8_length(pa.array(c, from_pandas=True))) for c in _chunks(s))
        return max((length.as_py() or 0 for length in lengths), default=0)
    return max(map(_longest_spelled, _chunks(s)))


def _longest_float_text(s: pd.Series) -> int:
    # The longest text of a column is the longest of its distinct values' texts, and a column of
    # percentages holds at most a thousand and one: they are gathered across the chunks and
    # spelled once (a chunk's worth at a time when there are more). pandas counts 0.0 and -0.0
    # as one value, though, and they are spelled apart: a chunk holding -0.0 is spelled whole.
    longest = 0
    distinct = np.empty(0)
    for chunk in _chunks(s):
        values = chunk.to_numpy(dtype="float64", na_value=np.nan)  # NaN is missing, as NA is
        if _holds_minus_zero(values):
            longest = max(longest, _longest_spelled(chunk))
            continue
        distinct = pd.unique(np.concatenate([distinct, pd.unique(values)]))
        if len(distinct) > _CHUNK_ROWS:
            longest = max(longest, _longest_spelled(pd.Series(distinct).astype(s.dtype)))
            distinct = np.empty(0)
    return max(longest, _longest_spelled(pd.Series(distinct).astype(s.dtype)))


def _longest_spelled(s: pd.Series) -> int:
    shown = s.dropna()
    return int(shown.astype("str").str.len().max()) if len(shown) else 0


def _chunks(s: pd.Series) -> Iterator[pd.Series]:
    """``s`` a chunk of rows at a time, as views (each made when it is asked for)."""
    for start in range(0, len(s), _CHUNK_ROWS):
        yield s.iloc[start : start + _CHUNK_ROWS]


def column_values(ws: WriteOnlySheet, s: pd.Series) -> list[Any]:
    """A column of a small table as values for openpyxl: dates as ``datetime.date`` (real Excel
    dates shown as yyyy-mm-dd), missing as None, text made safe."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(s):
        values = np.array(s.dt.date, dtype=object)
    elif pd.api.types.is_bool_dtype(s):
        values = np.array(s.astype("Int64").astype(object), dtype=object)
    else:
        values = np.array(s.astype(object), dtype=object)
    values[missing] = None
    return [safe_value(ws, v) for v in values]


_CHUNK_ROWS = 50_000
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


def _escape(text: pd.Series) -> pd.Series:
    text = text.str.replace(UNWRITABLE, "", regex=True).str.slice(0, 32767)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.str.replace(char, entity, regex=False)
    return text


# The bytes of text that _escape may change: XML's markup characters, the C0 controls XML
# forbids, and the lead byte of U+FFFE and U+FFFF in UTF-8 (0xEF).
_ESCAPED = b"&<>" + bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xEF])
_CELL_LIMIT = 32767  # characters in an Excel cell


def _xml_text(s: pd.Series) -> pa.Array:
    """A text column as it goes into cells: ``_escape``'s result, computed only for a column
    whose bytes may need it (most are codes, dates and ids that never do)."""
    text = _arrow_text(s.astype("str"))
    longest = pc.max(pc.binary_length(text)).as_py()
    if holds_any(text, _ESCAPED) or (longest or 0) > _CELL_LIMIT:
        return _arrow_text(_escape(s.astype("str")))
    return text


def _float_text(s: pd.Series) -> pa.Array:
    """pandas' own spelling of each float (Arrow's cast would write 100.0 as "100"), made once
    per distinct value when that gives the same text (percentages repeat: at most a thousand
    and one tenths)."""
    if not _distinct_floats_are_enough(s):
        return _arrow_text(s.astype("str"))
    codes, distinct = pd.factorize(s)
    text = _arrow_text(pd.Series(distinct, dtype=s.dtype).astype("str"))
    return text.take(pa.array(codes, mask=codes < 0))


def _distinct_floats_are_enough(s: pd.Series) -> bool:
    """Whether the floats of ``s`` can be spelled once per distinct value: pandas counts 0.0 and
    -0.0 as one value, and they are spelled apart."""
    return not _holds_minus_zero(s.to_numpy(dtype="float64", na_value=np.nan))


def _holds_minus_zero(values: np.ndarray) -> bool:
    return bool((np.signbit(values) & (values == 0)).any())


def _arrow_text(s: pd.Series) -> pa.Array:
    return pa.array(s, type=pa.large_string(), from_pandas=True)


def _cell_parts(s: pd.Series, column: str, numbers: pa.Array, date_style: int) -> list[Any]:
    """One column's cells as the pieces of their XML text, joined row by row (column letter
    ``column``, row numbers ``numbers``); a row's pieces hold a null where its value is
    missing, and its cell is then empty."""
    ref = f'<c r="{column}'
    if pd.api.types.is_datetime64_any_dtype(s):
        days = (s.to_numpy(dtype="datetime64[D]") - _EXCEL_EPOCH).astype("int64")
        days = days - ((days > 0) & (days <= 60))  # as openpyxl: Excel's phantom 29 Feb 1900
        value = pa.array(days, mask=s.isna().to_numpy(dtype=bool)).cast(pa.large_string())
        return [ref, numbers, f'" s="{date_style}" t="n"><v>', value, "</v></c>"]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        value = pa.array(s.astype("Int64"), from_pandas=True).cast(pa.large_string())
        return [ref, numbers, '" t="n"><v>', value, "</v></c>"]
    if pd.api.types.is_float_dtype(s):
        return [ref, numbers, '" t="n"><v>', _float_text(s.astype("Float64")), "</v></c>"]
    text = _xml_text(s)
    # A value beginning or ending in white space needs xml:space; there is none when every
    # value's first and last byte is a printable ASCII character other than the space.
    if not edges_may_be_invisible(text):
        return [ref, numbers, '" t="inlineStr"><is><t>', text, "</t></is></c>"]
    padded = pc.not_equal(text, pc.utf8_trim_whitespace(text))
    space = pc.if_else(padded, large(' xml:space="preserve"'), large(""))
    return [ref, numbers, '" t="inlineStr"><is><t', space, ">", text, "</t></is></c>"]


def rows_xml(df: pd.DataFrame, first_row: int, date_style: int) -> bytes | memoryview:
    """``<row>`` elements for the rows of ``df``, numbered from ``first_row``, as UTF-8."""
    if df.empty:
        return b""
    numbers = pa.array(np.arange(first_row, first_row + len(df))).cast(pa.large_string())
    # A column with no missing value goes into the rows' one join as its pieces; only a column
    # with some is joined into cells first (an empty cell for a missing value): the text of most
    # cells is copied once, not twice.
    parts: list[Any] = ['<row r="', numbers, '">']
    for i, column in enumerate(df.columns, start=1):
        cell = _cell_parts(df[column], get_column_letter(i), numbers, date_style)
        if any(isinstance(part, pa.Array) and part.null_count for part in cell):
            parts.append(pc.fill_null(join(*cell), ""))
        else:
            parts += cell
    parts.append("</row>")
    return concatenated(join(*parts))


def append_frame(ws: WriteOnlySheet, df: pd.DataFrame) -> None:
    """Append every row of a small table ``df`` (header not included), in its order, cell by cell
    through openpyxl; big tables go through :meth:`StreamingWorkbook.table_sheet`."""
    columns = [column_values(ws, df[c]) for c in df.columns]
    for row in zip(*columns, strict=True):
        ws.append(row)


def write_frame_sheet(
    book: StreamingWorkbook, title: str, df: pd.DataFrame, *, autofilter: bool = False
) -> None:
    """A sheet holding ``df`` under a bold, frozen header; with ``autofilter``, Excel's filter
    buttons on the header (off by default: the submission workbook has none)."""
    book.table_sheet(title, df, autofilter=autofilter)
