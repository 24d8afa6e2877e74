"""The headers of an extract, without reading its rows: what ``nis columns`` shows an analyst
setting up the column map. Cheap whatever the extract's size: the first line of a CSV, the first
row of a sheet, the schema of a parquet file, the columns of a table or query."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from extracts.csv_file import skip_blank_lines
from extracts.guards import EXCEL_MAX_ROWS
from extracts.reader import find_extract_file, quiet_openpyxl
from extracts.source import ExtractSource
from extracts.text import decode_csv_bytes
from extracts.xlsx_fast import filled, header_of
from schemas.rules import RULES, FatalInputError

# Enough for any header line; a longer first line is read as far as this goes.
_HEAD_BYTES = 1 << 20


def read_headers(source: ExtractSource, name: str) -> tuple[str, list[str]]:
    """(where the extract is, its headers as written). Raises :class:`FatalInputError` naming
    the file or table when it cannot be found or read."""
    if source.url is not None:
        return _sql_headers(source, name)
    if source.folder is None:
        raise FatalInputError(RULES["F001"], name, "no source folder or database URL is set")
    path = find_extract_file(Path(source.folder), name)
    try:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return path.name, _csv_headers(path)
        if suffix == ".xlsx":
            return path.name, _xlsx_headers(path)
        return path.name, _parquet_headers(path)
    except FatalInputError as exc:
        raise FatalInputError(exc.rule, path.name, exc.detail) from None
    except Exception as exc:  # a library's "cannot parse" is the user's file
        raise FatalInputError(RULES["F002"], path.name, type(exc).__name__) from None


def _csv_headers(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    # Cut at the last line end, so a multi-byte character is never split.
    cut = head.rfind(b"\n")
    if cut >= 0 and len(head) == _HEAD_BYTES:
        head = head[: cut + 1]
    try:
        text = decode_csv_bytes(head)
    except UnicodeDecodeError:
        raise FatalInputError(RULES["F002"], "", "not UTF-8 or Windows-1252 text") from None
    _, text = skip_blank_lines(text)  # as the reader does
    row = next(csv.reader(io.StringIO(text)), None)
    if not row:
        raise FatalInputError(RULES["F002"], "", "the file is empty")
    return row


def _xlsx_headers(path: Path) -> list[str]:
    from openpyxl import load_workbook

    quiet_openpyxl()  # a first row that is data may hold a date of birth a warning would quote
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # as the reader: some exporters declare the size wrong
        # The first row with a value, as the reader takes it: empty rows above are skipped.
        rows = sheet.iter_rows(max_row=EXCEL_MAX_ROWS, values_only=True)
        first = next((cells for cells in map(filled, rows) if cells is not None), None)
    finally:
        workbook.close()
    if first is None:
        raise FatalInputError(RULES["F002"], "", "the first sheet is empty")
    return header_of(first)


def _parquet_headers(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _sql_headers(source: ExtractSource, name: str) -> tuple[str, list[str]]:
    from extracts.sql import SqlSource, column_names

    sql = SqlSource(
        url=str(source.url),
        tables=dict(source.tables),
        queries=dict(source.queries),
        password=source.password,
    )
    return column_names(sql, name)
