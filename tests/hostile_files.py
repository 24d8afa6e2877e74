"""A corpus of hostile extract files: what a careless export, a broken tool or an attacker hands
the pipeline. Each is built here from the valid hand-made extracts (``extract_builders``), so
the corpus needs no binary files in the repository and a 50 MB field costs nothing on disk.

Each builder returns ``(file name, bytes)`` for one extract of the source folder; the file
replaces that extract's CSV. Synthetic data only.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
from extract_builders import HEADERS, fresh_rows
from openpyxl import Workbook

Build = Callable[[], tuple[str, bytes]]
Rows = list[dict[str, str]]


def csv_text(name: str, rows: Rows | None = None, header: list[str] | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=header or HEADERS[name], lineterminator="\n", extrasaction="ignore"
    )
    writer.writeheader()
    for row in fresh_rows()[name] if rows is None else rows:
        writer.writerow(row)
    return buffer.getvalue()


def people_with(index: int, **changes: str) -> Rows:
    rows = fresh_rows()["people"]
    rows[index].update(changes)
    return rows


def xlsx_bytes(sheets: list[list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for number, rows in enumerate(sheets, start=1):
        sheet = book.create_sheet(f"Sheet{number}")
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def people_sheet() -> list[list[object]]:
    header = HEADERS["people"]
    return [header, *[[row[c] or None for c in header] for row in fresh_rows()["people"]]]


def rewrite_zip(
    data: bytes, change: Callable[[str, bytes], bytes], add: dict[str, bytes] | None = None
) -> bytes:
    """A copy of a zip with each entry passed through ``change``, and entries ``add`` added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for entry in src.infolist():
            part = change(entry.filename, src.read(entry))
            dst.writestr(entry.filename, part, compress_type=zipfile.ZIP_DEFLATED)
        for name, part in (add or {}).items():
            dst.writestr(name, part, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def in_sheet1(edit: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    def change(name: str, part: bytes) -> bytes:
        return edit(part) if name == "xl/worksheets/sheet1.xml" else part

    return change


# --- CSV --------------------------------------------------------------------------------------


def empty_file() -> tuple[str, bytes]:
    return "people.csv", b""


def blank_lines_only() -> tuple[str, bytes]:
    return "people.csv", b"\r\n\n   \n"


def header_only_people() -> tuple[str, bytes]:
    return "people.csv", (",".join(HEADERS["people"]) + "\n").encode()


def header_only_families() -> tuple[str, bytes]:
    return "families.csv", (",".join(HEADERS["families"]) + "\r\n\r\n").encode()


def binary_junk() -> tuple[str, bytes]:
    return "people.csv", random.Random(10).randbytes(8192)


def workbook_named_csv() -> tuple[str, bytes]:
    return "people.csv", xlsx_bytes([people_sheet()])


def pdf_named_csv() -> tuple[str, bytes]:
    return "people.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"


def nul_in_header() -> tuple[str, bytes]:
    return "people.csv", csv_text("people").replace("family_id", "family\x00id").encode()


def utf16_with_bom() -> tuple[str, bytes]:
    return "people.csv", csv_text("people").encode("utf-16")


def utf16_without_bom() -> tuple[str, bytes]:
    return "people.csv", csv_text("people").encode("utf-16-le")


def mixed_encodings() -> tuple[str, bytes]:
    # Lines 2-3 (Siân, Zoë) are UTF-8; line 6 (José Renée) was saved by a Windows-1252 tool.
    lines = csv_text("people").splitlines(keepends=True)
    return "people.csv", "".join(lines[:5]).encode() + "".join(lines[5:]).encode("cp1252")


def stray_cp1252_byte() -> tuple[str, bytes]:
    # A UTF-8 file with one right single quote typed in a Windows tool (byte 0x92) on line 4.
    text = csv_text("people", people_with(2, surname="O\ufffdNeil"))
    return "people.csv", text.encode().replace("\ufffd".encode(), b"\x92")


def bom_then_cp1252() -> tuple[str, bytes]:
    text = csv_text("people", people_with(2, surname="O\ufffdNeil"))
    return "people.csv", b"\xef\xbb\xbf" + text.encode().replace("\ufffd".encode(), b"\x92")


def unterminated_quote() -> tuple[str, bytes]:
    lines = csv_text("people").splitlines(keepends=True)
    lines[2] = lines[2].replace(",Zoë,", ',"Zoë,', 1)  # line 3 opens a quote it never closes
    return "people.csv", "".join(lines).encode()


def duplicate_header() -> tuple[str, bytes]:
    header = HEADERS["people"] + ["Surname "]
    return "people.csv", csv_text("people", header=header).encode()


# --- xlsx -------------------------------------------------------------------------------------


def xlsx_not_a_zip() -> tuple[str, bytes]:
    return "people.xlsx", csv_text("people").encode()


def xlsx_truncated() -> tuple[str, bytes]:
    return "people.xlsx", xlsx_bytes([people_sheet()])[:700]


def xlsx_zip_bomb() -> tuple[str, bytes]:
    # 64 MiB of spaces inside the sheet XML deflate to about 64 KiB: a thousand times.
    padding = b" " * (64 * 2**20)
    return "people.xlsx", rewrite_zip(
        xlsx_bytes([people_sheet()]),
        in_sheet1(lambda xml: xml.replace(b"<sheetData>", b"<sheetData>" + padding, 1)),
    )


def _far_row(xml: bytes) -> bytes:
    row = b'<row r="60000000"><c r="A60000000" t="inlineStr"><is><t>P9</t></is></c></row>'
    return xml.replace(b"</sheetData>", row + b"</sheetData>")


def sparse_row_bomb_declared() -> tuple[str, bytes]:
    # An 8 KB workbook declaring (and holding) a row numbered 60,000,000.
    def edit(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:P60000000"', _far_row(xml))
        return xml

    return "people.xlsx", rewrite_zip(xlsx_bytes([people_sheet()]), in_sheet1(edit))


def sparse_row_bomb_undeclared() -> tuple[str, bytes]:
    # The same row, with no declared size to give it away.
    def edit(xml: bytes) -> bytes:
        return re.sub(rb"<dimension [^>]*/>", b"", _far_row(xml))

    return "people.xlsx", rewrite_zip(xlsx_bytes([people_sheet()]), in_sheet1(edit))


def sparse_row_bomb_on_second_sheet() -> tuple[str, bytes]:
    # The first sheet empty (the reader then looks at the second for the data) and the second
    # declaring a row numbered 60,000,000: every sheet is checked, not only the first.
    def edit(name: str, part: bytes) -> bytes:
        if name != "xl/worksheets/sheet2.xml":
            return part
        return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:P60000000"', _far_row(part))

    return "people.xlsx", rewrite_zip(xlsx_bytes([[], people_sheet()]), edit)


def encrypted_workbook() -> tuple[str, bytes]:
    # Excel saves a password-protected workbook as an OLE compound file, not a zip.
    return "people.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"EncryptedPackage"


def macro_workbook() -> tuple[str, bytes]:
    macro = {"xl/vbaProject.bin": b"VBA project: Sub Auto_Open() ... End Sub"}
    return "people.xlsx", rewrite_zip(xlsx_bytes([people_sheet()]), lambda n, p: p, macro)


def zip_without_workbook() -> tuple[str, bytes]:
    # A zip archive of other files, named .xlsx: no xl/workbook.xml in it.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("people.csv", csv_text("people"))
    return "people.xlsx", out.getvalue()


def macro_workbook_by_content_type() -> tuple[str, bytes]:
    # An .xlsm saved under another name: its workbook part typed macro-enabled, its VBA project
    # at a path of its own choosing rather than xl/vbaProject.bin.
    def change(name: str, part: bytes) -> bytes:
        if name == "[Content_Types].xml":
            return part.replace(
                b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml", 1
            )
        return part

    macro = {"xl/macros.bin": b"VBA project: Sub Auto_Open() ... End Sub"}
    return "people.xlsx", rewrite_zip(xlsx_bytes([people_sheet()]), change, macro)


def column_bomb_declared() -> tuple[str, bytes]:
    # A sheet declaring columns up to ZZZ (18,278), past Excel's last column XFD (16,384).
    def edit(xml: bytes) -> bytes:
        return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:ZZZ10"', xml)

    return "people.xlsx", rewrite_zip(xlsx_bytes([people_sheet()]), in_sheet1(edit))


def data_on_second_sheet() -> tuple[str, bytes]:
    return "people.xlsx", xlsx_bytes([[], people_sheet()])


# --- Parquet ----------------------------------------------------------------------------------


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def people_parquet_table() -> pa.Table:
    rows = fresh_rows()["people"]
    return pa.table({c: [r[c] or None for r in rows] for c in HEADERS["people"]})


def parquet_truncated() -> tuple[str, bytes]:
    data = parquet_bytes(people_parquet_table())
    return "people.parquet", data[: len(data) // 2]


def parquet_garbage() -> tuple[str, bytes]:
    return "people.parquet", b"PAR1" + random.Random(3).randbytes(500)


def parquet_bomb() -> tuple[str, bytes]:
    # Four million rows of one repeated value in 17 columns: 68 million cells in a few KB.
    rows = 4_000_000
    columns = {c: pa.array(["x"]).take(pa.array([0] * rows)) for c in HEADERS["people"]}
    columns["extra"] = columns["person_id"]
    return "people.parquet", parquet_bytes(pa.table(columns))


def parquet_too_many_rows() -> tuple[str, bytes]:
    # 50,000,001 rows of one column of random flags: 6 MB of file, about 8 values a byte, so
    # only the row limit refuses it.
    import numpy as np

    flags = np.random.default_rng(7).integers(0, 2, 50_000_001).astype(bool)
    buffer = io.BytesIO()
    pq.write_table(
        pa.table({"nis_opt_out": flags}), buffer, compression="none", use_dictionary=False
    )
    return "people.parquet", buffer.getvalue()
