"""Write a :class:`Table` as CSV, xlsx or parquet.

- CSV: comma separated, ``\\n`` line ends, a bare header of the contract's names, no quoting (no
  value holds a comma, quote or line break, and pyarrow refuses to write one that does, so a
  source row is always one CSV line). Dates mostly ISO, about one in ten UK ``dd/mm/yyyy``.
  UTF-8 without BOM unless ``encoding`` says ``cp1252`` or ``utf-8-sig``.
- xlsx: one sheet named after the extract, dates as real Excel date cells, counts as numbers.
- parquet: dates ``date32``, counts ``int64``, text ``string``, missing as null. A column that
  carries a defect's raw text (an impossible date, ``two`` in a count) is written as ``string``
  instead, since no typed column can hold it.

Cell overrides (the defects' raw text) replace the typed value in every format.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from synth.table import DATE, Table

XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header included
_DOC_TIME = dt.datetime(2026, 10, 31)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_PART = "docProps/core.xml"
UK_DATE_SHARE = 0.1


def _kind(values: np.ndarray) -> str:
    if values.dtype == DATE:
        return "date"
    if values.dtype.kind == "f":
        return "int"
    return "text"


def _typed(values: np.ndarray) -> pa.Array:
    kind = _kind(values)
    if kind == "date":
        return pa.array(values, type=pa.date32(), from_pandas=True)
    if kind == "int":
        return pa.array(values, from_pandas=True).cast(pa.int64())
    return pa.array(values, type=pa.string(), mask=values == "")


def _text(values: np.ndarray, uk: np.ndarray | None) -> pa.Array:
    typed = _typed(values)
    if _kind(values) == "date":
        iso = typed.cast(pa.string())
        if uk is None or not uk.any():
            return iso
        # dd/mm/yyyy cut from the ISO text: far quicker than strftime on millions of dates.
        uk_text = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(iso, 8, 10),
            pc.utf8_slice_codeunits(iso, 5, 7),
            pc.utf8_slice_codeunits(iso, 0, 4),
            "/",
        )
        return pc.if_else(pa.array(uk), uk_text, iso)
    return typed.cast(pa.string())


def _with_overrides(column: pa.Array, cells: dict[int, str] | None) -> pa.Array:
    if not cells:
        return column
    rows = np.array(sorted(cells), dtype=np.int64)
    mask = np.zeros(len(column), dtype=bool)
    mask[rows] = True
    texts = [cells[int(r)] for r in rows]
    # An override of "" means an empty cell.
    replacement = pa.array([t if t != "" else None for t in texts], type=pa.string())
    return pc.replace_with_mask(column.cast(pa.string()), pa.array(mask), replacement)


def text_table(table: Table, rng: np.random.Generator) -> pa.Table:
    """Every column as text, as it goes into a CSV."""
    arrays = {}
    for name in table.public_columns:
        values = table.columns[name]
        uk = rng.random(len(values)) < UK_DATE_SHARE if _kind(values) == "date" else None
        arrays[name] = _with_overrides(_text(values, uk), table.overrides.get(name))
    return pa.table(arrays)


def write_csv(table: Table, path: Path, rng: np.random.Generator, encoding: str = "utf-8") -> None:
    text = text_table(table, rng)
    header = (",".join(text.column_names) + "\n").encode("utf-8")
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    if encoding == "utf-8":
        with open(path, "wb") as handle:
            handle.write(header)
            pa_csv.write_csv(text, handle, options)
        return
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(text, sink, options)
    body = header + sink.getvalue().to_pybytes()
    if encoding == "cp1252":
        body = body.decode("utf-8").encode("cp1252")
    elif encoding == "utf-8-sig":
        body = b"\xef\xbb\xbf" + body
    else:
        raise ValueError(f"unsupported encoding {encoding}")
    path.write_bytes(body)


def arrow_table(table: Table) -> pa.Table:
    """Typed columns for parquet; a column with overrides becomes text."""
    arrays = {}
    for name in table.public_columns:
        values = table.columns[name]
        cells = table.overrides.get(name)
        arrays[name] = _with_overrides(_text(values, None), cells) if cells else _typed(values)
    return pa.table(arrays)


def write_parquet(table: Table, path: Path) -> None:
    pq.write_table(arrow_table(table), path, compression="zstd")


def _cells(table: Table, name: str) -> list[object]:
    values = table.columns[name]
    kind = _kind(values)
    out: list[object]
    if kind == "date":
        out = values.astype(object).tolist()  # datetime.date, None for NaT
    elif kind == "int":
        out = [None if v != v else int(v) for v in values.tolist()]
    else:
        out = [v if v != "" else None for v in values.tolist()]
    for row, text in table.overrides.get(name, {}).items():
        out[row] = text if text != "" else None
    return out


def write_xlsx(table: Table, path: Path) -> None:
    from openpyxl import Workbook

    if len(table) + 1 > XLSX_MAX_ROWS:
        raise ValueError(
            f"{table.name} has {len(table)} rows: more than an xlsx sheet holds "
            f"({XLSX_MAX_ROWS - 1}); use csv or parquet at this scale"
        )
    workbook = Workbook(write_only=True)
    workbook.properties.created = _DOC_TIME
    sheet = workbook.create_sheet(table.name)
    names = table.public_columns
    sheet.append(names)
    columns = [_cells(table, name) for name in names]
    for row in zip(*columns, strict=True):
        sheet.append(row)
    saved = io.BytesIO()
    workbook.save(saved)
    _write_with_fixed_times(saved, workbook, path)


def _write_with_fixed_times(saved: io.BytesIO, workbook: Any, path: Path) -> None:
    """The saved workbook again, with the fixed document time in place of the save time openpyxl
    stamps into docProps/core.xml, and every zip entry dated 1980-01-01: the same seed gives the
    same bytes."""
    from openpyxl.xml.functions import tostring

    workbook.properties.modified = _DOC_TIME
    core = tostring(workbook.properties.to_tree())
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as out:
        for entry in src.infolist():  # openpyxl's own order, which is fixed
            data = core if entry.filename == _CORE_PART else src.read(entry)
            fixed = zipfile.ZipInfo(entry.filename, date_time=_ZIP_TIME)
            fixed.external_attr = 0o644 << 16
            out.writestr(fixed, data, compress_type=zipfile.ZIP_DEFLATED)
