"""openpyxl plumbing shared by the submission workbook and the validation report.

- Workbooks are openpyxl write-only (streaming) workbooks: no sheet is ever held in memory.
- Saved bytes are deterministic: the document properties carry a fixed time and every zip entry a
  fixed date, so the same tables give the same file and the same SHA-256 (openpyxl would stamp the
  save time in both places).
- Text is always text: openpyxl would store a value starting with ``=`` as a formula and one
  spelling an Excel error code (``#N/A``) as an error; such values are forced to text. (``+``,
  ``-`` and ``@`` are only dangerous in CSV-to-Excel imports; in an xlsx a string cell is inert
  whatever it starts with.) Characters that the xlsx format cannot hold are dropped, because
  openpyxl's error for them would quote the value.
- Table sheets (the submission tables, the findings, the data dictionary) are too big for
  openpyxl's per-cell writer (about 40 microseconds a cell without lxml: half an hour for a large
  LA). openpyxl still makes the package (workbook, styles, sheet header, panes, widths); the rows
  of a table are serialised column by column with vectorised string operations into a body file,
  which is spliced into the sheet's XML as it is zipped. Cells are inline strings (never formulas,
  whatever the text), numbers, and dates as day serials with openpyxl's own yyyy-mm-dd style.
- openpyxl streams each sheet through a scratch file; those are kept in a private folder beside the
  output instead of the system temp folder, so a killed run leaves no personal data there.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from exports.files import atomic_path

# Rows in a worksheet, header included.
EXCEL_MAX_ROWS = 1_048_576

# Written into docProps/core.xml instead of the save time, so that saved bytes do not depend on
# when the file was written.
FIXED_DOC_TIME = dt.datetime(2000, 1, 1)
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

_BOLD = Font(bold=True)
_MIN_WIDTH, _MAX_WIDTH = 8, 60


class _FixedTimeZipFile(zipfile.ZipFile):
    """A ZipFile whose entries all carry the same date, permissions and creator system, and that
    splices the rows of table sheets into the sheets openpyxl wrote."""

    def __init__(self, file: Path, bodies: dict[str, Path]) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.bodies = bodies  # openpyxl's sheet file -> the rows to splice into it

    def _entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o600 << 16
        return info

    def writestr(  # type: ignore[override]
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: str | bytes,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = self._entry(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(  # type: ignore[override]
        self,
        filename: str | os.PathLike[str],
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        info = self._entry(arcname if arcname is not None else os.fspath(filename))
        body = self.bodies.get(os.fspath(filename))
        if body is None:
            info.file_size = os.path.getsize(filename)  # lets zipfile choose zip64 for big sheets
            with open(filename, "rb") as src, self.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            return
        # A table sheet: openpyxl wrote the header row only; the rows go in before </sheetData>.
        head, mark, tail = Path(filename).read_bytes().partition(b"</sheetData>")
        if not mark:
            raise RuntimeError("sheet XML has no sheetData to fill")
        info.file_size = len(head) + os.path.getsize(body) + len(mark) + len(tail)
        with open(body, "rb") as src, self.open(info, "w") as dst:
            dst.write(head)
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.write(mark + tail)


class StreamingWorkbook:
    """A write-only workbook whose sheets stream through a private scratch folder."""

    def __init__(self, scratch: Path) -> None:
        self.wb = Workbook(write_only=True)
        self.scratch = scratch
        self.bodies: dict[str, Path] = {}

    def sheet(
        self,
        title: str,
        header: Sequence[str],
        widths: Sequence[float],
        *,
        freeze: bool = True,
    ) -> WriteOnlyWorksheet:
        """A new sheet with its column widths and a bold (by default frozen) header row."""
        ws = self.wb.create_sheet(title)
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        if freeze:
            ws.freeze_panes = "A2"
        fd, name = tempfile.mkstemp(prefix="sheet-", suffix=".xml", dir=self.scratch)
        os.close(fd)
        # What openpyxl's _get_writer does, but streaming into our private scratch folder instead
        # of the system temp folder (its cleanup expects the file in ALL_TEMP_FILES). Widths and
        # panes must be set before write_top.
        ALL_TEMP_FILES.append(name)
        ws._writer = WorksheetWriter(ws, out=name)
        ws._writer.write_top()
        ws.append(bold_row(ws, header))
        return ws

    def table_sheet(self, title: str, df: pd.DataFrame) -> None:
        """A sheet holding ``df`` in its row order under a bold, frozen header (see the module
        notes for how the rows are written)."""
        ws = self.sheet(title, [str(c) for c in df.columns], column_widths(df))
        date_style = WriteOnlyCell(ws, value=dt.date(2000, 1, 1)).style_id  # registers the style
        fd, name = tempfile.mkstemp(prefix="rows-", suffix=".xml", dir=self.scratch)
        os.close(fd)
        body = Path(name)
        with open(body, "w", encoding="utf-8", newline="") as out:
            for start in range(0, len(df), _CHUNK_ROWS):
                chunk = df.iloc[start : start + _CHUNK_ROWS]
                out.write(rows_xml(chunk, first_row=start + 2, date_style=date_style))
        self.bodies[ws._writer.out] = body

    def save(self, path: Path) -> None:
        self.wb.properties.created = FIXED_DOC_TIME
        self.wb.properties.modified = FIXED_DOC_TIME
        self.wb.properties.creator = "nis-pipeline"
        with atomic_path(path) as tmp:
            archive = _FixedTimeZipFile(tmp, self.bodies)
            ExcelWriter(self.wb, archive).save()


@contextmanager
def streaming_workbook(path: Path) -> Iterator[StreamingWorkbook]:
    """A workbook to fill and then ``save(path)``; its scratch files are removed however it ends."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.scratch-", dir=path.parent))
    try:
        yield StreamingWorkbook(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def bold_row(ws: WriteOnlyWorksheet, values: Iterable[Any]) -> list[Any]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=_clean(value))
        _keep_text(cell)
        if cell.value is not None:
            cell.font = _BOLD
        cells.append(cell)
    return cells


def safe_value(ws: WriteOnlyWorksheet, value: Any) -> Any:
    """A single value made safe for a cell (see the module notes); for small, hand-made rows."""
    value = _clean(value)
    if isinstance(value, str) and (value.startswith("=") or value in ERROR_CODES):
        return _text_cell(ws, value)
    return value


def _clean(value: Any) -> Any:
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _keep_text(cell: WriteOnlyCell) -> None:
    if isinstance(cell.value, str):
        cell.data_type = "s"  # openpyxl infers "f" (formula) or "e" (error) from the text


def _text_cell(ws: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=text)
    _keep_text(cell)
    return cell


def column_widths(df: pd.DataFrame) -> list[float]:
    """A width per column from its header and its longest value, within sensible bounds."""
    widths = []
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_datetime64_any_dtype(s):
            longest = 10
        elif s.isna().all():
            longest = 0
        else:
            longest = int(s.dropna().astype("str").str.len().max())
        widths.append(float(min(max(len(str(name)), longest, _MIN_WIDTH) + 2, _MAX_WIDTH)))
    return widths


def column_values(ws: WriteOnlyWorksheet, s: pd.Series) -> list[Any]:
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
    text = text.str.replace(ILLEGAL_CHARACTERS_RE.pattern, "", regex=True).str.slice(0, 32767)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.str.replace(char, entity, regex=False)
    return text


def _cells_xml(s: pd.Series, ref: pd.Series, date_style: int) -> pd.Series:
    """One column's cells as XML text, empty where the value is missing."""
    if pd.api.types.is_datetime64_any_dtype(s):
        days = (s.to_numpy(dtype="datetime64[D]") - _EXCEL_EPOCH).astype("int64")
        days = days - ((days > 0) & (days <= 60))  # as openpyxl: Excel's phantom 29 Feb 1900
        value = pd.Series(days, index=s.index).astype("str").mask(s.isna())
        return ('<c r="' + ref + f'" s="{date_style}" t="n"><v>' + value + "</v></c>").fillna("")
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        value = s.astype("Int64").astype("str")
        return ('<c r="' + ref + '" t="n"><v>' + value + "</v></c>").fillna("")
    if pd.api.types.is_float_dtype(s):
        value = s.astype("Float64").astype("str")
        return ('<c r="' + ref + '" t="n"><v>' + value + "</v></c>").fillna("")
    text = _escape(s.astype("str"))
    space = pd.Series(
        np.where(
            (text != text.str.strip()).to_numpy(dtype=bool, na_value=False),
            ' xml:space="preserve"',
            "",
        ),
        index=s.index,
        dtype="str",
    )
    return (
        '<c r="' + ref + '" t="inlineStr"><is><t' + space + ">" + text + "</t></is></c>"
    ).fillna("")


def rows_xml(df: pd.DataFrame, first_row: int, date_style: int) -> str:
    """``<row>`` elements for the rows of ``df``, numbered from ``first_row``."""
    if df.empty:
        return ""
    numbers = pd.Series(np.arange(first_row, first_row + len(df)), index=df.index).astype("str")
    cells = [
        _cells_xml(df[column], get_column_letter(i) + numbers, date_style)
        for i, column in enumerate(df.columns, start=1)
    ]
    parts = [('<row r="' + numbers + '">'), *cells]
    arrays = [pa.array(part, type=pa.large_string(), from_pandas=True) for part in parts]
    rows = pc.binary_join_element_wise(
        *arrays, pa.scalar("</row>", pa.large_string()), pa.scalar("", pa.large_string())
    )
    return "".join(rows.to_pylist())


def append_frame(ws: WriteOnlyWorksheet, df: pd.DataFrame) -> None:
    """Append every row of a small table ``df`` (header not included), in its order, cell by cell
    through openpyxl; big tables go through :meth:`StreamingWorkbook.table_sheet`."""
    columns = [column_values(ws, df[c]) for c in df.columns]
    for row in zip(*columns, strict=True):
        ws.append(row)


def write_frame_sheet(book: StreamingWorkbook, title: str, df: pd.DataFrame) -> None:
    """A sheet holding ``df`` under a bold, frozen header."""
    book.table_sheet(title, df)
