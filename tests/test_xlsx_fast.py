"""The fast xlsx reader (calamine) reads what openpyxl reads, or leaves the workbook to openpyxl.

Differential: workbooks that hypothesis makes with openpyxl (text, whole and fractional numbers,
booleans, dates, times and durations under many number formats, empty text, rows past the
header, blank rows above it, more sheets) are read both ways, and every cell's text, row number
and the rows with values past the header must be the same. Where the fast reader declines, the
result is openpyxl's by construction; separate properties check that it does not decline the
plain workbooks councils send, and hostile sheets check it never hands calamine a sheet that
would make it allocate the whole grid (which aborts the process)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from itertools import pairwise
from typing import Any

import pytest
from hostile_files import rewrite_zip
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES

import extracts.reader as reader
import extracts.xlsx_fast as xlsx_fast
from extracts.guards import FileRefused, column_number
from extracts.text import clean_text, column_to_text
from extracts.xlsx_fast import sheet_rows_fast

# Formats both libraries classify alike (the fast reader takes them) ...
PLAIN_FORMATS = [
    "General",
    "0",
    "0.00",
    "#,##0",
    "0%",
    "@",
    "dd/mm/yyyy",
    "yyyy-mm-dd",
    "d-mmm-yy",
    "[$-809]dd mmmm yyyy;@",
    "dd/mm/yyyy hh:mm",
    "hh:mm",
    "mm:ss",
    "[h]:mm:ss",
]
# ... and formats it leaves to openpyxl.
OTHER_FORMATS = ["0.00_);[Red](0.00)", "dddd", '"day "d', "[Blue]General", "0.0 a"]

# What openpyxl writes into a cell: no control characters but tab and line feed.
text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
        st.sampled_from("\t\n"),
    ),
    max_size=12,
).filter(lambda t: not t.startswith("=") and t not in ERROR_CODES)  # formulas, error cells
plain_values = st.one_of(
    st.none(),
    text.filter(lambda t: t == t.strip()),  # (white space at an end: calamine trims it)
    st.just(""),
    # (a date-styled number of a billion days or more is left to openpyxl)
    st.integers(-(10**8), 10**8),
    st.floats(-1e8, 1e8, allow_nan=False),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
    st.times(),
)
odd_values = st.one_of(
    plain_values,
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**40), 2**40),
    st.integers(-(2**70), 2**70),  # past 15 digits
    st.dates(dt.date(1, 1, 1), dt.date(1900, 3, 1)),
    st.timedeltas(dt.timedelta(days=-3), dt.timedelta(days=3)),
    st.sampled_from(["#N/A", "#VALUE!", "a_x000D_b", "=1+1", " lead", "trail "]),
)


Cells = list[tuple[int, int, Any, str]]  # row, column, value, number format


@st.composite
def sheets(draw: Any, values: Any, formats: list[str]) -> tuple[Cells, int]:
    """A sheet's cells (a header row below blank rows, then rows that sometimes run past the
    header), and how many sheets follow it."""
    width = draw(st.integers(1, 5))
    top = draw(st.integers(1, 3))
    cells: Cells = [
        (top, column, name, "General")
        for column, name in enumerate(
            draw(st.lists(text.filter(str.strip), min_size=width, max_size=width)), start=1
        )
    ]
    column_formats = [draw(st.sampled_from(formats)) for _ in range(width + 1)]
    for row in range(top + 1, top + 1 + draw(st.integers(0, 8))):
        for column in range(1, width + 1 + draw(st.integers(0, 1))):
            value = draw(values)
            if value is not None:
                cells.append((row, column, value, column_formats[column - 1]))
    return cells, draw(st.integers(0, 1))


def workbook(cells: Cells, more_sheets: int = 0) -> bytes:
    book = Workbook()
    sheet = book.active
    for row, column, value, number_format in cells:
        cell = sheet.cell(row=row, column=column, value=value)
        if not isinstance(value, str):
            cell.number_format = number_format
    for _ in range(more_sheets):
        book.create_sheet("Notes").append(["not read"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_INLINE = re.compile(
    rb'<c r="([A-Z]+\d+)"( s="\d+")? t="inlineStr"><is>(<t[^>]*>.*?</t>)</is></c>', re.S
)


_EXCEL_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'


def as_excel_writes(data: bytes) -> bytes:
    """The workbook's text in shared strings, numbers without a type (``t="n"`` is the
    default), rows with the spans and the Office 2010 attribute Excel adds, and each part's XML
    declaration ended with a carriage return and a line feed."""

    def change(name: str, part: bytes) -> bytes:
        if name == "xl/sharedStrings.xml":
            return _EXCEL_DECLARATION + part
        if name != "xl/worksheets/sheet1.xml":
            return part
        part = _EXCEL_DECLARATION + part.replace(b' t="n"', b"")
        part = part.replace(
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
            b'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" '
            b'mc:Ignorable="x14ac"',
        )
        return re.sub(rb'<row r="(\d+)"', rb'<row r="\1" spans="1:6" x14ac:dyDescent="0.25"', part)

    return rewrite_zip(as_shared_strings(data), change)


def as_shared_strings(data: bytes) -> bytes:
    """The workbook with its text in a shared-strings part, as Excel writes it (openpyxl
    writes each text inline in its cell)."""
    strings: list[bytes] = []

    def shared(found: re.Match[bytes]) -> bytes:
        strings.append(found.group(3))
        return b'<c r="%s"%s t="s"><v>%d</v></c>' % (
            found.group(1),
            found.group(2) or b"",
            len(strings) - 1,
        )

    sheet = _INLINE.sub(shared, zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml"))
    sst = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">%s</sst>' % (
        b"".join(b"<si>" + text + b"</si>" for text in strings)
    )

    def change(name: str, part: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            return sheet
        if name == "[Content_Types].xml":
            return part.replace(
                b"</Types>",
                b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
            )
        if name == "xl/_rels/workbook.xml.rels":
            return part.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
                b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                b"</Relationships>",
            )
        return part

    return rewrite_zip(data, change, {"xl/sharedStrings.xml": sst})


def test_a_workbook_as_excel_writes_it_is_read_fast_and_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = as_excel_writes(one_column_book([45000, 45001.5, "P1"], "dd/mm/yyyy"))
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b'<c r="A2" s="1"><v>45000</v></c>' in sheet and b"x14ac:dyDescent" in sheet
    assert sheet_rows_fast(data) is not None
    assert read_as_text(data, True, monkeypatch)[2] == [["2023-03-15", "2023-03-16 12:00:00", "P1"]]
    same_reading(data, monkeypatch)


def test_shared_strings_are_read_fast_and_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    data = as_shared_strings(one_column_book(["P1", "P2", "P1"]))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert b"<v>1</v>" in archive.read("xl/worksheets/sheet1.xml")
        assert b"<si><t>P2</t></si>" in archive.read("xl/sharedStrings.xml")
    assert sheet_rows_fast(data) is not None
    assert read_as_text(data, True, monkeypatch)[2] == [["P1", "P2", "P1"]]
    same_reading(data, monkeypatch)


def read_as_text(data: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(reader, "sheet_rows_fast", lambda data: None)
        try:
            table = reader._read_xlsx(data)
        except FileRefused as refused:
            # A formula openpyxl wrote has no saved result: refused before either library reads
            # the sheet (tests/test_xlsx_formulas.py), the same both ways.
            assert "formula whose result was never saved" in str(refused)
            return ("refused", str(refused))
    frame = table.frame
    texts = [clean_text(column_to_text(frame.iloc[:, i])).tolist() for i in range(frame.shape[1])]
    return list(frame.columns), list(frame.index), texts, table.extra_field_rows, table.sheets


def same_reading(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_as_text(data, True, monkeypatch) == read_as_text(data, False, monkeypatch)


_SETTINGS = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])


# The checks scan a sheet's XML in pieces of a few MiB cut after a row (a shared string): the
# workbooks here are small, so they are also scanned cut after every row or few rows.
PIECES = st.sampled_from([1, 120, 4 << 20])


@_SETTINGS
@given(
    sheet=sheets(odd_values, PLAIN_FORMATS + OTHER_FORMATS),
    writer=st.integers(0, 2),
    piece=PIECES,
)
def test_reads_every_workbook_as_openpyxl_does(
    sheet: tuple[Cells, int], writer: int, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [lambda d: d, as_shared_strings, as_excel_writes][writer](workbook(*sheet))
    with monkeypatch.context() as patch:
        patch.setattr(xlsx_fast, "_PIECE", piece)
        same_reading(data, monkeypatch)


@_SETTINGS
@given(sheet=sheets(plain_values, PLAIN_FORMATS), writer=st.integers(0, 2), piece=PIECES)
def test_plain_workbooks_are_read_fast_and_alike(
    sheet: tuple[Cells, int], writer: int, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [lambda d: d, as_shared_strings, as_excel_writes][writer](workbook(*sheet))
    with monkeypatch.context() as patch:
        patch.setattr(xlsx_fast, "_PIECE", piece)
        assert sheet_rows_fast(data) is not None
        same_reading(data, monkeypatch)


@given(
    rows=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"</row>", b"")), max_size=12),
    piece=st.integers(1, 200),
)
def test_a_sheet_is_scanned_in_pieces_cut_after_a_row(rows: list[bytes], piece: int) -> None:
    """The pieces put together are the XML, and every piece but the last ends a row and is at
    least a piece long: no pattern of the checks can match across a cut."""
    xml = b"<sheetData>" + b"".join(b"<row>" + row + b"</row>" for row in rows) + b"</sheetData>"
    original = xlsx_fast._PIECE
    try:
        xlsx_fast._PIECE = piece
        pieces = [bytes(p) for p in xlsx_fast._pieces(xml, b"</row>")]
    finally:
        xlsx_fast._PIECE = original
    assert b"".join(pieces) == xml
    for one in pieces[:-1]:
        assert one.endswith(b"</row>") and len(one) >= piece + len(b"</row>")
    assert all(pieces)


# Rows and cells as the reference reads them, one regex match each.
_ROW_TAG = re.compile(rb'<row r="(\d+)"[^>/]*/>|<row r="(\d+)"[^>/]*>(.*?)</row>')
_PLACE = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')


def bounds_by_regex(body: bytes) -> tuple[int, int, int] | None:
    """The cells, the last cell's row and the last column; None when rows do not increase, a
    cell names another row than its row's, or a row's cells are not in column order."""
    rows: list[int] = []
    cells: list[tuple[int, int]] = []
    for row in _ROW_TAG.finditer(body):
        number = int(row.group(1) or row.group(2))
        if rows and number <= rows[-1]:
            return None
        rows.append(number)
        places = [
            (int(r), column_number(c.decode())) for c, r in _PLACE.findall(row.group(3) or b"")
        ]
        if any(r != number for r, _ in places):
            return None
        if any(b[1] <= a[1] for a, b in pairwise(places)):
            return None
        cells += places
    if not cells:
        return 0, 0, 0
    return len(cells), cells[-1][0], max(c for _, c in cells)


_LETTERS = st.sampled_from(["A", "B", "C", "Z", "AA", "AB", "XFD", "ZZZ"])
_ROW_NUMBER = st.integers(1, 9_999_999)  # (a cell's row, mostly its row's)


@st.composite
def _row_bodies(draw: st.DrawFn) -> bytes:
    """Rows in the forms the fast reader takes, numbered mostly in order, their cells mostly
    in their row and in column order: so that both answers come up."""
    number = 0
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        if number >= 9_999_999:
            break
        number = draw(_mostly_after(number, 500, 9_999_999))
        cells = []
        column = 0
        for _ in range(draw(st.integers(0, 4))):
            if column >= 18_278:
                break
            column = draw(_mostly_after(column, 30, 18_278))
            letters = draw(st.one_of(st.just(_column_letters(column)), _LETTERS))
            row = draw(st.one_of(st.just(number), st.just(number), _ROW_NUMBER))
            cells.append(b'<c r="%s%d" t="n"><v>1</v></c>' % (letters.encode(), row))
        rows.append(
            b'<row r="%d">' % number + b"".join(cells) + b"</row>"
            if cells
            else b'<row r="%d"/>' % number
        )
    return b"".join(rows)


def _mostly_after(last: int, step: int, highest: int) -> st.SearchStrategy[int]:
    """The next number: the one after ``last``, a little after it, or any at all."""
    return st.one_of(
        st.just(last + 1), st.integers(last + 1, min(last + step, highest)), st.integers(1, highest)
    )


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@settings(max_examples=300, deadline=None)
@given(body=_row_bodies(), piece=st.integers(1, 60))
def test_cell_bounds_are_the_regexs(body: bytes, piece: int) -> None:
    """The numpy count of the cells, their last row and column, and the order checks are what
    a regex reading of every row and cell gives, wherever the pieces are cut."""
    assert xlsx_fast._ROWS.fullmatch(body)
    expected = bounds_by_regex(body)
    event("no bounds" if expected is None else "bounds")
    original = xlsx_fast._PIECE
    try:
        xlsx_fast._PIECE = piece
        assert xlsx_fast._cell_bounds(xlsx_fast._pieces(body, b"</row>")) == expected
    finally:
        xlsx_fast._PIECE = original


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (b"A1", (1, 1, 1)),
        (b"XFD1048576", (1, 1_048_576, 16_384)),
        (b"ZZZ9999999", (1, 9_999_999, 18_278)),
        (b"AB10", (1, 10, 28)),
    ],
)
def test_cell_bounds_by_hand(ref: bytes, expected: tuple[int, int, int]) -> None:
    row = re.search(rb"\d+", ref).group()  # type: ignore[union-attr]
    body = (
        b'<row r="1"><c r="A1"/></row><row r="'
        + row
        + b'"><c r="'
        + ref
        + b'" t="n"><v>1</v></c></row>'
    )
    if row == b"1":
        body = b'<row r="1"><c r="' + ref + b'" t="n"><v>1</v></c></row>'
    cells = 1 if row == b"1" else 2
    bounds = xlsx_fast._cell_bounds(xlsx_fast._pieces(body, b"</row>"))
    assert bounds == (cells, expected[1], expected[2])


@pytest.mark.parametrize("piece", [1, 4 << 20], ids=["a-piece-a-row", "one-piece"])
@pytest.mark.parametrize(
    "second", [b'<row r="2"/>', b'<row r="1"/>', b'<row r="2"><c r="A2"/></row>']
)
def test_a_row_number_that_does_not_go_up_has_no_bounds(second: bytes, piece: int) -> None:
    body = b'<row r="2"><c r="A2"/></row>' + second
    original = xlsx_fast._PIECE
    try:
        xlsx_fast._PIECE = piece
        assert xlsx_fast._cell_bounds(xlsx_fast._pieces(body, b"</row>")) is None
    finally:
        xlsx_fast._PIECE = original


def _sheet(body: bytes, prolog: bytes = b"") -> bytes:
    return (
        prolog + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>" + body + b"</sheetData></worksheet>"
    )


_PLAIN_CELL = b'<row r="2"><c r="A2" s="1" t="n"><v>45000</v></c></row>'
_EXCEL_ROW = b'<row r="2" spans="1:2" x14ac:dyDescent="0.25"><c r="A2" s="1"><v>4</v></c></row>'
_ROOT = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_X14AC_ROOT = _ROOT.replace(
    b">", b' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
)
_PRESERVED = (
    b'<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve"> a </t></is></c></row>'
)


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        (_PLAIN_CELL, True),
        (_EXCEL_ROW, False),  # (x14ac: not declared: openpyxl refuses the sheet)
        (b'<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2" t="s"><v>0</v></c></row>', True),
        (
            b'<row r="2"><c r="A2" t="inlineStr" /><c r="B2" t="b"><v>1</v></c></row><row r="3"/>',
            True,
        ),
        (_PRESERVED, True),
        (b'<row r="2"><c r="A2" t="n" s="1"><v>4</v></c></row>', False),
        (b'<row r="2"><c r="A2" s="01"><v>4</v></c></row>', False),
        (b'<row r="2"><c r="A2" s = "1"><v>4</v></c></row>', False),
        (b'<row r="2"><c r="A2" s=\'1\'><v>4</v></c></row>', False),
        (b'<row r="2"><c r="A2" s="1" s="2"><v>4</v></c></row>', False),
        (b'<row r="2"><c r="A2" t = "e"><v>#N/A</v></c></row>', False),
        (b'<row r="2"><c r="A2" t="d"><v>2024-01-31</v></c></row>', False),
        (b'<row r="2"><c r="A2" t="str"><f>"a"</f><v>a</v></c></row>', False),
        (b'<row r="2"><c r="A2"><v >12345678901234567</v></c></row>', False),
        (b'<row r="2"><c r="A2"><v>12345678901234567</v></c></row>', False),
        (b'<row r="2"><c r="A2"><v>7</v><v>9</v></c></row>', False),
        (b'<row r="2"><c r="A2"><v>7</v><f>3+4</f></c></row>', False),
        (b'<row r="2"><c r="A2"><is><t>P1</t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="is"><v>7</v></c></row>', False),
        (b'<row r="2"><c r="A2" t="s"><v>-1</v></c></row>', False),
        (b'<row r="2"><c r="A2" t="s"><v>1.0</v></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t><t>Z</t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t>dob&#32;</t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[dob ]]></t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t>P_x000D_1</t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t>P1 </t></is></c></row>', False),
        (b'<row r="2"><c r="A2" t="inlineStr"><is><t>P1</x></is></c></row>', False),
        (b'<row r="2" spans="1:1" spans="1:1"><c r="A2"/></row>', False),
        (b'<row r="2"><c r="A3"/></row>', False),
        (b'<row r="3"><c r="A3"/></row><row r="2"><c r="A2"/></row>', False),
        (b'<row r="2"><c r="B2"/><c r="A2"/></row>', False),
        (b'<row r="2"><c r="A2"/><c r="A2"/></row>', False),
        (b'<row><c r="A2"/></row>', False),
        (b'<row r="2">\n<c r="A2"/></row>', False),
    ],
)
def test_the_sheet_forms_the_fast_reader_takes(body: bytes, taken: bool) -> None:
    """What a reading of the XML's variants found calamine and openpyxl to read apart is left
    to openpyxl; the forms Excel, openpyxl and LibreOffice write are taken."""
    assert xlsx_fast._sheet_is_safe(_sheet(body)) is taken


@pytest.mark.parametrize(
    ("sheet", "taken"),
    [
        (_sheet(_PLAIN_CELL, b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'), True),
        (
            _sheet(_PLAIN_CELL).replace(b"spreadsheetml/2006/main", b"spreadsheetml/2006/other"),
            False,
        ),
        (_sheet(_PLAIN_CELL).replace(b"<sheetData>", b'<sheetData xmlns="urn:other">'), False),
        (_sheet(b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\rb</t></is></c></row>'), False),
        (
            _sheet(_PLAIN_CELL).replace(b"</worksheet>", b"<sheetData></sheetData></worksheet>"),
            False,
        ),
        (_sheet(_EXCEL_ROW).replace(_ROOT, _X14AC_ROOT), True),
        (
            _sheet(_PLAIN_CELL).replace(
                b"</worksheet>", b'<row r="9"><c r="A9"/></row></worksheet>'
            ),
            False,
        ),
        (_sheet(_PLAIN_CELL).replace(b"</worksheet>", b"<!-- x --></worksheet>"), False),
        (
            _sheet(b"").replace(b"<sheetData></sheetData>", b"<!--<sheetData/>--><x:sheetData/>"),
            False,
        ),
        (
            _sheet(_PLAIN_CELL).replace(
                b"<sheetData>", b'<sheetData><row r="1"><c r="A1"><v>]]></v></c></row>'
            ),
            False,
        ),
        (_sheet(b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\x01b</t></is></c></row>'), False),
        (_sheet(b'<row r="2"><c r="A2" t="inlineStr"><is><t>a]]>b</t></is></c></row>'), False),
        (_sheet(_PLAIN_CELL, b"<?xml bogus?>"), False),
    ],
    ids=[
        *("excel-prolog", "other-namespace", "namespace-below", "carriage-return"),
        *("two-sheet-datas", "x14ac-declared", "row-outside", "comment", "decoy"),
        *("cdata-end-in-number", "control-character", "cdata-end-in-text", "bogus-declaration"),
    ],
)
def test_the_sheet_part_the_fast_reader_takes(sheet: bytes, taken: bool) -> None:
    assert xlsx_fast._sheet_is_safe(sheet) is taken


@pytest.mark.parametrize(
    ("edit", "made"),
    [
        (lambda xml: re.sub(rb'(<c r="A\d") (s="\d+") (t="n")', rb"\1 \3 \2", xml), b't="n" s="1"'),
        (lambda xml: xml.replace(b' s="1"', b' s="01"'), b's="01"'),
    ],
    ids=["after-its-type", "leading-zero"],
)
def test_a_cell_styled_otherwise_is_left_to_openpyxl(
    edit: Any, made: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dates scan finds a date-styled cell by its style, a plain number right after its
    # place; written otherwise, calamine would read the date of birth typed as 1882 as midnight.
    data = rewrite_zip(one_column_book([-6425, 45000], "dd/mm/yyyy"), _sheet1(edit))
    assert made in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert sheet_rows_fast(data) is None
    assert read_as_text(data, True, monkeypatch)[2] == [["1882-05-28", "2023-03-15"]]
    same_reading(data, monkeypatch)


_STRICT = b"http://purl.oclc.org/ooxml/spreadsheetml/main"
_MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SECOND_XFS = b'<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="0"/></cellXfs>'


def _in(part: str, edit: Any) -> Any:
    return lambda name, xml: edit(xml) if name == part else xml


@pytest.mark.parametrize(
    ("shared", "change"),
    [
        (
            False,
            _in(
                "xl/workbook.xml",
                lambda x: x.replace(b"<workbookPr />", b'<workbookPr date1904="False"/>'),
            ),
        ),
        (
            False,
            _in(
                "xl/workbook.xml",
                lambda x: x.replace(b"<workbookPr />", b'<workbookPr /><workbookPr date1904="1"/>'),
            ),
        ),
        (
            False,
            _in(
                "xl/styles.xml", lambda x: x.replace(b'formatCode="dd/mm/yyyy"', b'formatCode="/"')
            ),
        ),
        (
            False,
            _in(
                "xl/styles.xml", lambda x: x.replace(b"</cellXfs>", b"</cellXfs>" + _SECOND_XFS, 1)
            ),
        ),
        (True, _in("xl/sharedStrings.xml", lambda x: x.replace(_MAIN_NS, _STRICT))),
        (True, _in("xl/sharedStrings.xml", lambda x: x.replace(b"<t>dob</t>", b"<t>dob&#32;</t>"))),
        (
            True,
            _in("xl/sharedStrings.xml", lambda x: x.replace(b"<t>P1</t>", b"<t>P1</t><t>Z</t>")),
        ),
        (
            True,
            _in("xl/sharedStrings.xml", lambda x: x.replace(b"<t>P1</t>", b"<t>P_x000D&#95;1</t>")),
        ),
        (
            False,
            _in(
                "[Content_Types].xml", lambda x: x.replace(b'"/xl/workbook.xml"', b'"/xl/wb2.xml"')
            ),
        ),
        (
            False,
            _in(
                "xl/workbook.xml",
                lambda x: x.replace(
                    b"<sheets>", b'<sheet name="X" sheetId="9" r:id="rId1" /><sheets>'
                ),
            ),
        ),
        (False, _in("xl/styles.xml", lambda x: x.replace(_MAIN_NS, _STRICT, 1))),
        (
            False,
            _in("xl/styles.xml", lambda x: x.replace(b'<xf numFmtId="164"', b'<xf numFmtId="014"')),
        ),
        (False, _in("xl/worksheets/sheet1.xml", lambda x: b"<?xml bogus?>" + x)),
    ],
    ids=[
        *("date1904-False", "two-workbookPr", "format-of-a-slash", "two-cellXfs"),
        *("strings-strict-namespace", "strings-reference", "strings-two-t", "strings-escape"),
        *("workbook-elsewhere", "sheet-outside-sheets", "styles-strict", "format-014"),
        "bogus-declaration",
    ],
)
def test_workbook_parts_read_apart_are_left_to_openpyxl(shared: bool, change: Any) -> None:
    """From a reading of the XML's variants: each of these was read by calamine to other values
    than openpyxl's (or read where openpyxl refuses the workbook)."""
    book = one_column_book([-6425, 0.5, 45000], "dd/mm/yyyy")
    if shared:
        book = as_shared_strings(one_column_book(["P1", "P2"]))
    data = rewrite_zip(book, change)
    assert data != book
    assert sheet_rows_fast(data) is None  # (so the reading is openpyxl's, or its refusal)


def _renamed(data: bytes, old: str, new: str, extra: dict[str, bytes] | None = None) -> bytes:
    """The workbook with entry ``old`` stored as ``new``, and ``extra`` entries added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for entry in src.infolist():
            dst.writestr(new if entry.filename == old else entry.filename, src.read(entry))
        for name, part in (extra or {}).items():
            dst.writestr(name, part)
    return out.getvalue()


def _sheet1_of(data: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")


_DXF = b'<dxfs count="1"><dxf><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></dxf></dxfs>'
_MADE_OTHERWISE = {
    "styles-case": lambda book: _renamed(book, "xl/styles.xml", "xl/Styles.xml"),
    "sheet-twice-by-case": lambda book: _renamed(
        book, "", "", {"xl/Worksheets/sheet1.xml": _sheet1_of(book).replace(b"P1", b"XX")}
    ),
    "target-not-normal": lambda book: _renamed(
        rewrite_zip(
            book,
            _in(
                "xl/_rels/workbook.xml.rels",
                lambda x: x.replace(b'"/xl/worksheets/sheet1.xml"', b'"worksheets//sheet1.xml"'),
            ),
        ),
        "",
        "",
        {"xl/worksheets//sheet1.xml": _sheet1_of(book).replace(b"P1", b"XX")},
    ),
    "strings-by-backslash": lambda book: _renamed(
        as_shared_strings(book),
        "",
        "",
        {
            "xl\\sharedStrings.xml": b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
        },
    ),
    "second-id-on-sheet": lambda book: rewrite_zip(
        book, _in("xl/workbook.xml", lambda x: x.replace(b'r:id="rId1"', b'r:id="rId1" id="rId9"'))
    ),
    "root-attribute-twice": lambda book: rewrite_zip(
        book,
        _in(
            "xl/worksheets/sheet1.xml",
            lambda x: x.replace(b"<worksheet ", b'<worksheet a="1" a="2" '),
        ),
    ),
    "junk-after-root": lambda book: rewrite_zip(
        book, _in("xl/worksheets/sheet1.xml", lambda x: x + b"<x/>")
    ),
}


@pytest.mark.parametrize("made", _MADE_OTHERWISE.values(), ids=_MADE_OTHERWISE.keys())
def test_workbooks_a_third_reading_found_are_left_to_openpyxl(made: Any) -> None:
    """From a third reading of the XML's variants: calamine read each of these otherwise (a
    part found whatever its name's case, a target it does not normalise, the last attribute
    named id) or where openpyxl refuses it (XML not well formed)."""
    book = one_column_book(["P1", "P2"], "dd/mm/yyyy")
    data = made(book)
    assert data != book
    assert sheet_rows_fast(data) is None


def test_a_number_format_outside_num_fmts_is_no_cells_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A dxf's numFmt 164 (conditional formatting) is not the cells' format 164 to either
    # library; the checks took it for a date format and gave 30 openpyxl's 1900-01-30.
    book = one_column_book([45000.5, 30, -6425], "0.000")
    data = rewrite_zip(
        book, _in("xl/styles.xml", lambda x: x.replace(b"</cellXfs>", b"</cellXfs>" + _DXF))
    )
    assert sheet_rows_fast(data) is not None
    assert read_as_text(data, True, monkeypatch)[2] == [["45000.5", "30", "-6425"]]
    same_reading(data, monkeypatch)


@pytest.mark.parametrize(
    ("number_format", "fast"), [("[H]", False), ("[HH]", False), ("[H]:mm", True)]
)
def test_a_duration_in_capitals_alone_is_left_to_openpyxl(
    number_format: str, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # openpyxl's bracket test is case-sensitive: "[H]" alone is a number to it, a duration to
    # calamine (45000 read as "45000 days, 0:00:00"); "[H]:mm" is a duration to both
    data = one_column_book([45000, 1.5], number_format)
    assert (sheet_rows_fast(data) is not None) is fast
    same_reading(data, monkeypatch)


def test_a_huge_unique_count_never_reaches_calamine() -> None:
    # calamine reserves room for uniqueCount strings first: 99,999,999,999 aborted the process
    strings = (
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="%s">'
        b"<si><t>P1</t></si></sst>"
    )
    assert xlsx_fast._strings_are_plain(strings % b"1")
    assert not xlsx_fast._strings_are_plain(strings % b"99999999999")
    assert not xlsx_fast._strings_are_plain(strings % b"-1")
    assert not xlsx_fast._strings_are_plain(strings.replace(b" uniqueCount", b' count="1" count'))
    huge_tag = strings.replace(b" uniqueCount", b' x="' + b"a" * (2 << 20) + b'" uniqueCount')
    assert not xlsx_fast._strings_are_plain(huge_tag % b"1")


def test_an_archive_of_two_end_records_is_left_to_openpyxl() -> None:
    # Python's zipfile takes the last end record, calamine's zip crate skips one it finds
    # invalid and takes an earlier one, which can name other entries: a fourth reading made a
    # workbook the two read as different archives.
    book = one_column_book(["P1", "P2"])
    assert xlsx_fast._one_end_record(book)
    end = book.rfind(b"PK\x05\x06")
    assert not xlsx_fast._one_end_record(book + b"x")  # (the comment length no longer fits)
    assert not xlsx_fast._one_end_record(book[:end] + book[end:] + book[end:])
    assert not xlsx_fast._one_end_record(book[:end] + b"PK\x06\x06" + bytes(52) + book[end:])
    assert sheet_rows_fast(book[:end] + book[end:] + book[end:]) is None


def test_a_part_no_real_workbook_has_so_big_is_left_to_openpyxl() -> None:
    # calamine buffers _rels/.rels whole: 2 GB of white space in it aborted the process
    assert xlsx_fast._unbounded(_sized("_rels/.rels", 17 << 20))
    assert not xlsx_fast._unbounded(_sized("_rels/.rels", 1 << 10))
    assert not xlsx_fast._unbounded(_sized("xl/worksheets/sheet1.xml", 17 << 20))
    assert not xlsx_fast._unbounded(_sized("xl/media/image1.png", 17 << 20))
    # and the sheet outside its data: 17 MiB of white space before it took the checks seconds
    padded = _sheet(_PLAIN_CELL).replace(b"<sheetData>", b" " * (17 << 20) + b"<sheetData>")
    assert not xlsx_fast._sheet_is_safe(padded)
    assert xlsx_fast._sheet_is_safe(_sheet(_PLAIN_CELL).replace(b"<sheetData>", b"  <sheetData>"))


def test_parts_left_unbounded_are_parts_calamine_never_opens() -> None:
    # _unbounded leaves every name under xl/worksheets/ but the sheet itself (bounded apart) to
    # calamine unchecked, a sheet's relationships and the tables they name among them, because
    # calamine does not read them for cells. Parts that are not even XML show it: were a calamine
    # upgrade to parse them (whole, as it does _rels/.rels), this fails, and they need a bound.
    book = one_column_book(["P1", "P2"])
    rels = b"<" * 4096  # no XML parser takes this
    extra = {"xl/worksheets/_rels/sheet1.xml.rels": rels, "xl/tables/table1.xml": rels}
    with_parts = rewrite_zip(book, lambda name, part: part, extra)
    assert not xlsx_fast._unbounded(_sized("xl/worksheets/_rels/sheet1.xml.rels", 17 << 20))
    fast, plain = sheet_rows_fast(with_parts), sheet_rows_fast(book)
    assert fast is not None and plain is not None
    assert repr(fast) == repr(plain)  # (the same sheets, header, rows and cells)
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(with_parts)).get_sheet_by_index(0)
    assert sheet.to_python() == [["dob"], ["P1"], ["P2"]]


def _sized(name: str, size: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name)
    entry.file_size = size
    return entry


@pytest.mark.parametrize("second", [2024, dt.date(2024, 1, 31)], ids=["number", "date"])
def test_a_header_of_a_number_or_date_is_left_to_openpyxl(
    second: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # calamine names the column "2024.0" or "2024-01-31", openpyxl "2024" or a midnight datetime
    book = Workbook()
    book.active.append(["id", second])
    book.active.append(["P1", "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    assert sheet_rows_fast(buffer.getvalue()) is None
    same_reading(buffer.getvalue(), monkeypatch)


def one_column_book(values: list[Any], number_format: str = "General") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["dob"])
    for value in values:
        sheet.append([value])
        sheet.cell(row=sheet.max_row, column=1).number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_dates_calamine_reads_otherwise_are_openpyxls(monkeypatch: pytest.MonkeyPatch) -> None:
    # A date of birth typed as 1882 (a negative serial: 6,425 days before day 0, 30 December
    # 1899), one before March 1900 (Excel counts a 29 February 1900, so day 30 is 30 January)
    # and a number no date can be: calamine reads the first as midnight and the last as a
    # number; the fast reader gives openpyxl's values for them.
    data = one_column_book([-6425, 30, 45000, 99_999_999], "dd/mm/yyyy")
    assert sheet_rows_fast(data) is not None
    _, numbers, texts, _, _ = read_as_text(data, True, monkeypatch)
    assert numbers == [2, 3, 4, 5]
    assert texts == [["1882-05-28", "1900-01-30", "2023-03-15", "#VALUE!"]]
    same_reading(data, monkeypatch)


def test_error_cells_and_escapes_are_left_to_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = one_column_book(["#N/A", "x"])
    escaped = one_column_book(["a_x000D_b"])
    for data in (errors, escaped):
        assert sheet_rows_fast(data) is None
    assert read_as_text(errors, True, monkeypatch)[2] == [["#N/A", "x"]]
    assert read_as_text(escaped, True, monkeypatch)[2] == [["a_x000D_b"]]


@pytest.mark.parametrize(
    "number",
    [
        1234567890123456789,
        9007199254740993,  # 2**53 + 1, sixteen digits: calamine's float would be 2**53
    ],
)
def test_whole_numbers_of_sixteen_digits_are_left_to_openpyxl(number: int) -> None:
    data = rewrite_zip(
        one_column_book([1]),
        lambda name, part: part.replace(b"<v>1</v>", b"<v>%d</v>" % number),
    )
    assert sheet_rows_fast(data) is None
    assert reader._read_xlsx(data).frame.iloc[0, 0] == number  # openpyxl keeps it whole


def test_a_wide_sheet_within_bounds_is_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    # A value in the last column of row 3: 3 x 16,384 cells is a grid calamine can build.
    data = rewrite_zip(
        one_column_book(["P1", "P2"]),
        _sheet1(
            lambda xml: xml.replace(
                b"</row></sheetData>",
                b'<c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>',
            )
        ),
    )
    assert sheet_rows_fast(data) is not None
    assert read_as_text(data, True, monkeypatch)[3] == (3,)  # a value past the header
    same_reading(data, monkeypatch)


def _sheet1(edit: Any) -> Any:
    def change(name: str, part: bytes) -> bytes:
        return edit(part) if name == "xl/worksheets/sheet1.xml" else part

    return change


@pytest.mark.parametrize(
    "far_cell",
    [b"XFD1048576", b"A1048576", b"ZZ500000"],
)
def test_a_sparse_sheet_never_reaches_calamine(far_cell: bytes) -> None:
    # calamine builds the grid from A1 to the last cell: XFD1048576 is 550 GB, and Rust aborts
    # the process. The fast reader counts the cells first and leaves such a sheet to openpyxl.
    cell = b'<c r="' + far_cell + b'" t="inlineStr"><is><t>x</t></is></c>'
    row = re.match(rb"[A-Z]+(\d+)", far_cell).group(1)  # type: ignore[union-attr]
    data = rewrite_zip(
        one_column_book(["P1", "P2"]),
        _sheet1(
            lambda xml: xml.replace(
                b"</sheetData>", b'<row r="' + row + b'">' + cell + b"</row></sheetData>"
            )
        ),
    )
    assert sheet_rows_fast(data) is None


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda xml: re.sub(rb' r="[A-Z]+\d+"', b"", xml), id="cells-without-places"),
        pytest.param(
            lambda xml: xml.replace(b"<c ", b"<x:c ").replace(b"</c>", b"</x:c>"),
            id="namespace-prefix",
        ),
        pytest.param(lambda xml: xml.replace(b"<c r=", b"<c\nr="), id="newline-in-cell"),
    ],
)
def test_cells_calamine_would_place_otherwise_are_left_to_openpyxl(edit: Any) -> None:
    data = rewrite_zip(one_column_book(["P1", "P2"]), _sheet1(edit))
    assert sheet_rows_fast(data) is None


def test_a_1904_workbook_is_left_to_openpyxl() -> None:
    data = rewrite_zip(
        one_column_book([45000], "dd/mm/yyyy"),
        lambda name, part: (
            part.replace(b"<workbookPr", b'<workbookPr date1904="1"')
            if name == "xl/workbook.xml"
            else part
        ),
    )
    assert b"date1904" in zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml")
    assert sheet_rows_fast(data) is None


def test_the_fast_reader_reads_the_first_sheet_and_counts_them() -> None:
    book = Workbook()
    book.active.append(["person_id"])
    book.active.append(["P1"])
    book.create_sheet("Notes").append(["other"])
    buffer = io.BytesIO()
    book.save(buffer)
    fast = sheet_rows_fast(buffer.getvalue())
    assert fast is not None
    sheets, (header, numbers, body, extra) = fast
    assert (sheets, header, numbers, body, extra) == (2, ["person_id"], [2], [("P1",)], [])


def test_rich_text_shared_strings_are_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    # Excel keeps a cell's text with formatting inside it (a bold surname) as runs.
    data = rewrite_zip(
        as_shared_strings(one_column_book(["P1", "P2"])),
        lambda name, part: part.replace(
            b"<si><t>P2</t></si>",
            b'<si><r><t>Jo</t></r><r><rPr><b/></rPr><t xml:space="preserve">hn  Smith</t></r></si>',
        ),
    )
    assert sheet_rows_fast(data) is not None
    assert read_as_text(data, True, monkeypatch)[2] == [["P1", "John  Smith"]]
    same_reading(data, monkeypatch)


def test_the_header_ends_at_its_last_filled_cell(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Excel writes an empty cell for a formatted column (C1 here); a value under it has no
    # header, in both readers and in `nis columns`.
    from extracts.headers import _xlsx_headers

    book = Workbook()
    sheet = book.active
    sheet.append(["person_id", "family_id"])
    sheet["C1"].number_format = "0.00"
    sheet.append(["P1", "F1", "stray"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    data = path.read_bytes()
    assert b'<c r="C1" s="1"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    for fast in (True, False):
        header, numbers, _, extra, _ = read_as_text(data, fast, monkeypatch)
        assert (header, numbers, extra) == (["person_id", "family_id"], [2], (2,))
    assert _xlsx_headers(path) == ["person_id", "family_id"]


def test_a_sheet_too_big_to_check_in_memory_is_left_to_openpyxl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import extracts.xlsx_fast as fast

    data = one_column_book(["P1", "P2"])
    assert sheet_rows_fast(data) is not None
    sheet_size = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml").file_size
    monkeypatch.setattr(fast, "_MAX_PART", sheet_size - 1)
    assert sheet_rows_fast(data) is None
    assert read_as_text(data, True, monkeypatch)[2] == [["P1", "P2"]]


def test_a_workbook_redefining_a_built_in_format_is_left_to_openpyxl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Format 14 is a date in both libraries' built-in tables; this workbook says it is "0.00".
    def redefine(name: str, part: bytes) -> bytes:
        if name != "xl/styles.xml":
            return part
        part = part.replace(b'formatCode="dd/mm/yyyy"', b'formatCode="0.00"')
        return part.replace(b'numFmtId="164"', b'numFmtId="14"')

    data = rewrite_zip(one_column_book([45000], "dd/mm/yyyy"), redefine)
    styles = zipfile.ZipFile(io.BytesIO(data)).read("xl/styles.xml")
    assert b'<numFmt numFmtId="14" formatCode="0.00"' in styles and b'numFmtId="164"' not in styles
    assert sheet_rows_fast(data) is None
    same_reading(data, monkeypatch)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # text with white space at its ends and no xml:space="preserve": calamine trims it
        (b"<t>P1</t>", b"<t> P1 </t>"),
        # inline rich text
        (b"<is><t>P1</t></is>", b"<is><r><t>P</t></r><r><t>1</t></r></is>"),
        # a formula's cached text
        (
            b'<c r="A3" t="inlineStr"><is><t>P1</t></is></c>',
            b'<c r="A3" t="str"><f>"P"&amp;1</f><v>P1</v></c>',
        ),
        # a carriage return the XML holds raw
        (b"<t>P1</t>", b'<t xml:space="preserve">P\r1</t>'),
        # an ISO date cell
        (
            b'<c r="A3" t="inlineStr"><is><t>P1</t></is></c>',
            b'<c r="A3" t="d"><v>2024-01-31</v></c>',
        ),
    ],
    ids=["untrimmed", "inline-rich-text", "formula-text", "raw-carriage-return", "iso-date"],
)
@pytest.mark.parametrize("piece", [1, 4 << 20], ids=["a-piece-a-row", "one-piece"])
def test_cells_calamine_reads_otherwise_are_left_to_openpyxl(
    old: bytes, new: bytes, piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_fast, "_PIECE", piece)
    book = one_column_book(["P0", "P1", "P2"])  # the cell changed is in the sheet's third row
    data = rewrite_zip(book, _sheet1(lambda xml: xml.replace(old, new)))
    assert new in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert sheet_rows_fast(data) is None
    same_reading(data, monkeypatch)


@pytest.mark.parametrize("part", ["xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
def test_a_part_the_checks_cannot_read_is_left_to_openpyxl(part: str) -> None:
    # openpyxl then reads the workbook or names what is wrong with it, as before.
    data = rewrite_zip(
        one_column_book(["P1"]), lambda name, body: b"<not xml" if name == part else body
    )
    assert sheet_rows_fast(data) is None


@pytest.mark.parametrize(
    "values",
    [
        [60, 61],  # Excel's 29 February 1900, and the day after it
        [45000.5, 41441.94472816551],  # times of day: the second rounds to .513 s or .514 s
        [2_000_000_000],  # a date-styled number calamine's Rust code has panicked on
    ],
    ids=["phantom-leap-day", "time-of-day", "a-billion"],
)
def test_date_styled_numbers_calamine_reads_otherwise_read_as_openpyxl_reads(
    values: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    same_reading(one_column_book(values, "dd/mm/yyyy"), monkeypatch)


def test_a_default_style_that_is_a_date_is_left_to_openpyxl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every cell without a style of its own is then a date: a time of day among them would be
    # rounded by calamine its own way, and the scan of styled cells never sees them.
    def default_is_a_date(name: str, part: bytes) -> bytes:
        if name != "xl/styles.xml":
            return part
        return re.sub(
            rb'(<cellXfs count="\d+">)<xf numFmtId="0"',
            rb'\1<xf numFmtId="14" applyNumberFormat="1"',
            part,
            count=1,
        )

    data = rewrite_zip(one_column_book([45000.5, 45001]), default_is_a_date)
    assert b'numFmtId="14" applyNumberFormat="1"' in zipfile.ZipFile(io.BytesIO(data)).read(
        "xl/styles.xml"
    )
    assert sheet_rows_fast(data) is None
    same_reading(data, monkeypatch)
