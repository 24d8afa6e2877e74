"""Formulas whose result was never saved, on a workbook's first sheet.

A workbook written by a program (openpyxl, some exporters) may hold a formula with no saved
result: Excel computes it when the file is opened, but a reader gets nothing, and both readers
(calamine, openpyxl) give an empty cell. A forename made by a formula was then sent empty with
no finding, and a required code reported as missing. Excel and LibreOffice always save a result,
so such a cell means the file was never opened and saved by a spreadsheet: the extract is
refused, naming the cell, rather than read with values missing.
"""

from __future__ import annotations

import io
import re
import zipfile

# A cell whose only content is its formula: no <v> before </c>, or an empty one (openpyxl
# writes <v /> for a formula it cannot compute). The formula text holds no raw "<" (XML escapes
# it). An empty <v> in a text cell (t="str") is a saved result, the empty text: Excel and
# LibreOffice save =IF(x="","",x) so, and saving again would not change it.
_FORMULA_ALONE = re.compile(
    rb"<c\b([^>]*)>\s*<f\b[^>]*(?:/>|>[^<]*</f>)\s*(<v\s*/>|<v></v>)?\s*</c>"
)
_REFERENCE = re.compile(rb'\br="([A-Z]{1,3}[0-9]{1,7})"')
_TEXT_TYPE = re.compile(rb'\bt="str"')
_CHUNK = 1 << 22
_OVERLAP = 1 << 16  # a cell longer than this that spans two chunks is not seen (none is real)


def unsaved_formula(xml: bytes) -> str | None:
    """In a sheet's XML: the reference of the first cell holding a formula with no saved result
    ("F2"), "a cell" when it names none, or None."""
    if b"<f" not in xml:  # (a quick look first: most sheets hold no formula)
        return None
    for match in _FORMULA_ALONE.finditer(xml):
        attributes, empty_value = match.group(1), match.group(2)
        if empty_value is not None and _TEXT_TYPE.search(attributes):
            continue  # the empty text, saved
        reference = _REFERENCE.search(attributes)
        return reference.group(1).decode() if reference else "a cell"
    return None


def formula_without_result(data: bytes) -> str | None:
    """:func:`unsaved_formula` of a workbook's first sheet, read in pieces (a sheet left to
    openpyxl may be too big to hold whole). A workbook whose first sheet cannot be placed
    plainly (see ``xlsx_fast``) is not looked at. The fast reader (``xlsx_fast``) looks at the
    sheet it holds anyway, and leaves such a workbook to openpyxl's way, which looks here."""
    from extracts.xlsx_fast import first_worksheet_part

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = first_worksheet_part(archive)
        if part is None:
            return None
        with archive.open(part) as sheet:
            tail = b""
            while chunk := sheet.read(_CHUNK):
                window = tail + chunk
                found = unsaved_formula(window)
                if found is not None:
                    return found
                tail = window[-_OVERLAP:]
    return None
