"""A formula whose result was never saved (extracts/xlsx_formulas.py): the extract is refused
naming the cell, never read with the cell empty; a formula with its saved result reads as that
result."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from extract_builders import write_extracts
from hostile_files import rewrite_zip
from openpyxl import Workbook

from extracts.reader import read_extract
from extracts.xlsx_fast import sheet_rows_fast
from extracts.xlsx_formulas import formula_without_result
from flows.settings import load_settings
from schemas.rules import FatalInputError


def _offences_book(folder: Path, category: object) -> Path:
    """offences.xlsx (in place of the CSV) whose second row's category is ``category``."""
    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "offence_date", "offence_category"])
    sheet.append(["P1", "2024-11-11", category])
    path = folder / "offences.xlsx"
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    (folder / "offences.csv").unlink()
    return path


def _read(folder: Path) -> object:
    source = load_settings(None, source_path=folder).extract_source()
    return read_extract(source, "offences")


def test_a_formula_openpyxl_wrote_without_a_result_is_refused_naming_its_cell(
    tmp_path: Path,
) -> None:
    folder = write_extracts(tmp_path / "in")
    path = _offences_book(folder, '="THE"&"FT"')
    assert sheet_rows_fast(path.read_bytes()) is None  # the fast way leaves it to the check
    with pytest.raises(FatalInputError) as caught:
        _read(folder)
    assert str(caught.value) == (
        "[F002] offences.xlsx: extract cannot be read (cell C2 of the first sheet holds a "
        "formula whose result was never saved, as when a program wrote the workbook and no "
        "spreadsheet saved it: open it in Excel and save it, or export values rather than "
        "formulas)"
    )
    assert "THE" not in str(caught.value)


def test_a_formula_with_its_saved_result_reads_as_the_result(tmp_path: Path) -> None:
    folder = write_extracts(tmp_path / "in")
    path = _offences_book(folder, '="THE"&"FT"')

    def save_result(name: str, part: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return part
        formula = b'<c r="C2"><f>"THE"&amp;"FT"</f><v /></c>'
        assert formula in part
        return part.replace(formula, b'<c r="C2" t="str"><f>"THE"&amp;"FT"</f><v>THEFT</v></c>')

    path.write_bytes(rewrite_zip(path.read_bytes(), save_result))
    assert _read(folder).frame["offence_category"].tolist() == ["THEFT"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("cell", "found"),
    [
        (b'<c r="B7"><f>1+1</f></c>', "B7"),
        (b'<c r="AB12" s="3"><f>SUM(A1:A3)</f><v/></c>', "AB12"),
        (b'<c r="D4"><f t="shared" si="0"/></c>', "D4"),
        (b'<c s="1"><f>1+1</f>\n</c>', "a cell"),
        (b'<c r="B7"><f>1+1</f><v>2</v></c>', None),
        (b'<c r="B7" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>', None),
        (b'<c r="B7" t="s"><v>0</v></c>', None),
        # The empty text as a saved result, as Excel and LibreOffice write =IF(x="","",x).
        (b'<c r="D2" t="str"><f>IF(1,"","")</f><v></v></c>', None),
        (b'<c r="D2" s="1" t="str"><f>IF(1,"","")</f><v/></c>', None),
        (b'<c r="D2" t="str"><f>" "</f><v> </v></c>', None),
        # openpyxl's <v /> in a cell of no text type: never computed.
        (b'<c r="E2"><f>IF(1,"","")</f><v /></c>', "E2"),
        # A saved empty text first, an unsaved formula after it: the second is found.
        (b'<c r="D2" t="str"><f>""</f><v></v></c><c r="F2"><f>1+1</f></c>', "F2"),
    ],
)
def test_cells_by_hand(cell: bytes, found: str | None) -> None:
    book = Workbook()
    book.active.append(["x"])
    buffer = io.BytesIO()
    book.save(buffer)

    def put(name: str, part: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return part
        return part.replace(b"</row>", b'</row><row r="7">' + cell + b"</row>", 1)

    data = rewrite_zip(buffer.getvalue(), put)
    assert cell in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert formula_without_result(data) == found


def test_the_fast_reader_leaves_a_formula_with_no_value_at_all_to_the_check(
    tmp_path: Path,
) -> None:
    """A cell of only <f> (no <v>, as some exporters write it): the fast reader, which would
    read it as empty, declines the workbook, and the extract is refused naming the cell."""
    folder = write_extracts(tmp_path / "in")
    path = _offences_book(folder, '="THE"&"FT"')

    def no_value(name: str, part: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return part
        return part.replace(b'<f>"THE"&amp;"FT"</f><v /></c>', b'<f>"THE"&amp;"FT"</f></c>')

    path.write_bytes(rewrite_zip(path.read_bytes(), no_value))
    assert b'<f>"THE"&amp;"FT"</f></c>' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert sheet_rows_fast(path.read_bytes()) is None
    with pytest.raises(FatalInputError, match="cell C2 of the first sheet holds a formula"):
        _read(folder)
