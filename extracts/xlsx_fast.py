"""Reading a workbook's first sheet with calamine (Rust) where it reads what openpyxl reads.

openpyxl parses a sheet cell by cell in Python: a 20,000-family set of xlsx extracts took 44 s
to read against half a second as CSV (issue 13). calamine reads the same sheets about ten
times faster, but it is not openpyxl, and an extract must read the same whichever library read
it. So calamine is used only for a workbook whose every part is one the two are known to agree
on (tests/test_xlsx_fast.py holds them to the same rows on workbooks hypothesis makes), and
everything else goes openpyxl's way as before:

- cells that calamine reads otherwise: error values (openpyxl gives ``#N/A``, calamine nothing),
  ISO date cells, formula text results, ``_x000D_`` escapes (calamine decodes them, openpyxl
  in inline strings does not), raw carriage returns (XML parsers differ on them), inline rich
  text, text with white space at an end not marked to be kept (calamine trims it), and whole
  numbers of 16 digits or more (openpyxl keeps them exact, calamine as floats);
- number formats other than plain numbers, plain dates and times and ``[h]:mm:ss`` durations
  (the two libraries decide "is this a date" each its own way), the 1904 date system, and a
  date-styled number over a billion (calamine's Rust code has panicked on such numbers);
- a sheet whose rows and cells are not all in the forms Excel, openpyxl and LibreOffice write
  (``_ROWS``, ``_SHARED_STRINGS``: each cell placed by ``r="B2"``, its style and type plain and
  in that order, one ``<v>`` or one inline ``<t>``, no character references; rows numbered and
  in order, cells in column order), or whose first sheet is not a worksheet; a sheet or
  shared-strings part over a gibibyte of XML (the checks hold it in memory; openpyxl streams
  it).

A date-styled number that is not a whole day from 1 March 1900 to 31 December 9999 (a time of
day, which the two round to the millisecond apart; a date of birth typed as 1882; Excel's
29 February 1900) is given openpyxl's own value, made by openpyxl's conversion.

calamine also builds the whole rectangle from A1 to the last cell in memory: one cell written at
XFD1048576 asks for 550 GB, and Rust aborts the process (no exception, no message). The cells'
positions are read from the XML first, and a sheet past Excel's limits, or far larger than the
cells it holds, is left to openpyxl, which streams it (and refuses a row past Excel's last).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree

import numpy as np
from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

from extracts.guards import EXCEL_MAX_COLUMNS, EXCEL_MAX_ROWS, FileRefused, column_number
from extracts.xlsx_formulas import unsaved_formula

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_SHARED_STRINGS_TYPE = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
)

# Text with white space at an end and no xml:space="preserve": calamine trims it, openpyxl not.
_TRIMMED = re.compile(rb"<t>(?:\s|[^<]*\s</t>)")
_ESCAPE = re.compile(rb"_x[0-9A-Fa-f]{4}_")  # an escaped character: calamine decodes it

# The forms of a sheet's rows and cells the fast reader takes: what Excel, openpyxl and
# LibreOffice write. A list of what the two libraries read apart leaked (readings of the XML's
# variants found dozens more: attributes in other orders or spellings, `<v >`, character
# references, several `<t>` in one string, rows out of order...; docs/decisions.md), so the
# sheet's data must be made of these forms only, each matched whole; anything else goes
# openpyxl's way.
_NUMBER = rb"-?\d{1,15}(?:\.\d+)?(?:[Ee][+-]?\d{1,3})?"  # (16 digits: calamine reads a float)
# (no character references, no CDATA, no control character XML forbids)
_PLAIN = rb"[^<&\x00-\x08\x0b\x0c\x0e-\x1f]"
_TEXT = _PLAIN + rb"*+(?:&(?:amp|lt|gt|quot|apos);" + _PLAIN + rb"*+)*+"
_VALUE = rb'"[^"<&\x00-\x08\x0b\x0c\x0e-\x1f]*+"'  # an attribute's
_T = rb'(?:<t(?: xml:space="preserve")?>' + _TEXT + rb"</t>|<t/>)"
_FORMULA = (  # (its cached value is read)
    rb"(?:<f(?: [a-zA-Z]++=" + _VALUE + rb")*+(?:>" + _TEXT + rb"</f>|/>))?"
)
_CELL = (  # (the commonest forms first: 0.5 s less for six million cells)
    rb'<c r="[A-Z]{1,3}[1-9]\d{0,6}"(?: s="(?:0|[1-9]\d{0,5})")?'
    rb'(?:(?: t="n")?>(?:' + _FORMULA + rb"<v>" + _NUMBER + rb"</v>)?</c>"
    rb'| t="inlineStr"><is>' + _T + rb"</is></c>"
    rb'| t="s"><v>\d{1,9}</v></c>'
    rb'| t="b">' + _FORMULA + rb"<v>[01]</v></c>"
    rb'|(?: t="(?:n|s|b|inlineStr)")? ?/>)'  # an empty cell
)
_ROW_ATTRIBUTES = (  # each at most once, in the schema's order
    *(b"spans", b"s", b"customFormat", b"ht", b"hidden", b"customHeight", b"outlineLevel"),
    *(b"collapsed", b"thickTop", b"thickBot", b"ph"),
)


def _rows(attributes: tuple[bytes, ...]) -> re.Pattern[bytes]:
    return re.compile(
        rb'(?:<row r="[1-9]\d{0,6}"'
        + b"".join(rb"(?: " + name + b"=" + _VALUE + rb")?" for name in attributes)
        + rb"(?: ?/>|>(?:"
        + _CELL
        + rb")*+</row>))*+"
    )


_ROWS = _rows(_ROW_ATTRIBUTES)
# Excel's row height attribute of Office 2010, where the sheet declares its prefix
_ROWS_X14AC = _rows((*_ROW_ATTRIBUTES, b"x14ac:dyDescent"))
# a run's properties: empty elements of at most two attributes, not the same one twice
_RUN_PROPERTIES = (
    rb"<rPr>(?:<[a-zA-Z]++(?: ([a-zA-Z]++)="
    + _VALUE
    + rb"(?: (?!\1=)[a-zA-Z]++="
    + _VALUE
    + rb")?)? ?/>)*+</rPr>"
)
_RICH_RUN = rb"<r>(?:" + _RUN_PROPERTIES + rb")?" + _T + rb"</r>"
_SHARED_STRINGS = re.compile(rb"(?:<si>(?:" + _T + rb"|(?:" + _RICH_RUN + rb")++)</si>)*+")
_MAIN_NAMESPACE = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_PROLOG = re.compile(
    rb'(?:<\?xml version="1\.0"(?: encoding="(?:UTF-8|utf-8)")?(?: standalone="(?:yes|no)")? ?\?>)?'
    rb"\s*+<(worksheet|sst) " + _MAIN_NAMESPACE + rb"[\s/>]"
)
# XML forbids these; openpyxl's parser refuses them where the checks' forms would not see them
# (two patterns, each with a literal start: one alternation of them scans byte by byte)
_NOT_XML = (re.compile(rb"\]\]>"), re.compile(rb"\xef\xbf[\xbe\xbf]"))
_X14AC = b'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'

_CELL_START = b'<c r="'
_PAD = 24  # bytes after a piece: more than the checks read past a row's or a cell's start

# Built-in number formats (ECMA-376 18.8.30) both libraries read as dates or times, and the one
# both read as a duration. Other built-in ids below 164 that openpyxl knows are numbers to both.
_BUILTIN_DATES = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47})
_BUILTIN_DURATION = 46
_BUILTIN_NUMBERS = frozenset({0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 37, 38, 39, 40, 48, 49})
# Custom formats read alike: plain numbers (or text), plain dates and times with an optional
# locale tag and text section, and [h]:mm:ss durations. Anything else goes openpyxl's way.
_PLAIN_NUMBER_FORMAT = re.compile(r"(?:General|@|[0#?,.% ]+|0(?:\.0+)?E\+0+)")
_PLAIN_DATE_FORMAT = re.compile(r"(?:\[\$-[0-9A-Fa-f]{1,8}\])?[dmyhsDMYHS/\-.:, ]+(?:;@)?")
_DATE_LETTER = re.compile(r"[dmyhsDMYHS]")  # ("/" or "-" alone is no date to either)
# ("[H]" alone is no date to openpyxl, whose bracket test is case-sensitive; "[H]:mm" is one)
_PLAIN_DURATION_FORMAT = re.compile(r"\[h{1,2}\]|\[[hH]{1,2}\]:mm(?::ss)?")
# Whole-day date cells are read alike from 1 March 1900 (serial 61; before it, the two handle
# Excel's 29 February 1900 apart) to 31 December 9999.
_FIRST_SAFE_DATE, _LAST_DATE = 61.0, 2_958_465.0
# The checks hold a part's XML in memory (and calamine the whole file): a part bigger than this
# (a sheet of Excel's full million rows is about half of it) is left to openpyxl, which streams.
_MAX_PART = 2**30
# calamine's Rust code has panicked on a date-styled number whose milliseconds overflow (about
# 1e11 days; the pinned python-calamine reads 1e13 without one): far below that, such a sheet is
# left to openpyxl, whichever version is installed.
_CALAMINE_PANICS = 1e9

# The header (None for an empty sheet), the sheet row numbers of the records, the records' cells
# column by column (object arrays, empty cells None) and the rows with values past the header.
Rows = tuple[list[str] | None, list[int], list[np.ndarray], list[int]]


def sheet_rows_fast(data: bytes) -> tuple[int, Rows] | None:
    """The first sheet's rows as :func:`rows_of` gives them from openpyxl's cells, and the
    number of sheets, read with calamine; None when the workbook holds anything the two might
    read apart, or anything calamine cannot read within bounded memory."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:  # an install without it: openpyxl reads everything
        return None
    try:
        checked = _checked(data)
    except Exception:  # whatever the checks cannot read, openpyxl reads or names
        return None
    if checked is None:
        return None
    names, overrides = checked
    cells = _calamine_cells(data, names)
    if cells is None:
        return None
    try:
        for (row, column), value in overrides.items():
            cells[row][column] = value
    except IndexError:  # a cell calamine did not place where the sheet says
        return None
    if not cells:
        return len(names), (None, [], [], [])
    # A header cell that is a number or a date: calamine gives 2024.0 where openpyxl gives 2024,
    # a date where openpyxl gives a midnight datetime, and the column's name is its text.
    header = next((row for row in cells if any(value != "" for value in row)), [])
    if any(not isinstance(value, str) for value in header):
        return None
    width = len(cells[0])
    if any(len(row) != width for row in cells):  # (calamine's rows are all as wide)
        return len(names), rows_of(cells)
    grid = np.empty((len(cells), width), dtype=object)
    grid[:] = cells
    del cells
    return len(names), grid_rows(grid)


def _checked(data: bytes) -> tuple[list[str], dict[tuple[int, int], Any]] | None:
    """The workbook's sheet names and openpyxl's values for the date cells calamine reads
    otherwise, when every part is one the two read alike; None otherwise."""
    if not _one_end_record(data):
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if not _names_are_plain(archive.namelist()):
            return None
        if any(_unbounded(entry) for entry in archive.infolist()):
            return None
        sheets = _worksheet_parts(archive)
        if sheets is None:
            return None
        names, first_part = sheets
        styles = _date_styles(archive)
        if styles is None:
            return None
        strings = "xl/sharedStrings.xml"
        parts = [first_part, strings] if strings in archive.namelist() else [first_part]
        if any(archive.getinfo(part).file_size > _MAX_PART for part in parts):
            return None
        if strings in parts and not _strings_are_plain(archive.read(strings)):
            return None
        xml = archive.read(first_part)
    if unsaved_formula(xml) is not None:
        return None  # (refused on openpyxl's way, naming the cell: extracts.xlsx_formulas)
    if not _sheet_is_safe(xml):
        return None
    overrides = _dates_openpyxl_reads_alone(xml, *styles)
    return None if overrides is None else (names, overrides)


def _one_end_record(data: bytes) -> bool:
    """Whether the archive has one end record, at its very end, of disk 0, and no ZIP64 one:
    Python's zipfile takes the last end record it finds, calamine's zip crate skips one it
    finds invalid and takes an earlier one, which can name other entries altogether."""
    at = data.rfind(_END_RECORD)
    if at < 0 or data.find(_END_RECORD) != at or _ZIP64_END in data:
        return False
    comment = int.from_bytes(data[at + 20 : at + 22], "little")
    return data[at + 4 : at + 8] == b"\0\0\0\0" and at + 22 + comment == len(data)


_END_RECORD = b"PK\x05\x06"
_ZIP64_END = b"PK\x06\x06"


def _unbounded(entry: zipfile.ZipInfo) -> bool:
    """Whether an XML part calamine reads whole, and the checks do not bound, is bigger than any
    real one (``_rels/.rels`` is under a kilobyte; a workbook's styles a few MiB): calamine
    buffered a 2 GB ``_rels/.rels`` of white space, and Rust aborted the process."""
    name = entry.filename
    if name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml":
        return False  # (the first sheet and the strings are bounded by _MAX_PART)
    return name.endswith((".xml", ".rels")) and entry.file_size > _MAX_OTHER_PART


_MAX_OTHER_PART = 16 << 20
_MAX_START_TAG = 1 << 20


def _names_are_plain(names: list[str]) -> bool:
    """Whether no entry's name holds a backslash, no two have one name apart from case, and the
    parts the checks read are under their exact names if at all: calamine finds a part by its name
    whatever the case (the last such entry), openpyxl and the checks by its exact name."""
    if any("\\" in name for name in names):
        return False  # (calamine reads "xl\\sharedStrings.xml" as "xl/sharedStrings.xml")
    folded = {name.casefold(): name for name in names}
    if len(folded) != len(names):
        return False
    return all(folded.get(part.casefold(), part) == part for part in _KNOWN_PARTS)


_KNOWN_PARTS = (
    *("[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"),
    "xl/sharedStrings.xml",
)


def _pieces(xml: bytes, closing: bytes, start: int = 0, end: int | None = None) -> list[memoryview]:
    """``xml`` (from ``start`` to ``end``) cut after a ``closing`` tag (a row's, a shared
    string's) every few MiB. No pattern here matches across such a cut, so scanning the pieces
    finds what scanning the whole finds; and a scan of one piece holds the GIL for milliseconds,
    where one of a sheet's hundreds of MiB held it for a second or more: the command's own
    thread (its imports, Prefect's API calls, a Ctrl-C's clean-up) waited on it."""
    view = memoryview(xml)
    end = len(xml) if end is None else end
    pieces: list[memoryview] = []
    while start < end:
        cut = xml.find(closing, start + _PIECE, end)
        stop = end if cut < 0 else cut + len(closing)
        pieces.append(view[start:stop])
        start = stop
    return pieces


_PIECE = 4 << 20


def _search_any(patterns: tuple[re.Pattern[bytes], ...], pieces: list[memoryview]) -> bool:
    return any(pattern.search(piece) for piece in pieces for pattern in patterns)


def _strings_are_plain(shared: bytes) -> bool:
    """Whether the shared strings are all in the forms the two libraries read alike."""
    start = _root_end(shared, b"sst")
    end = shared.rfind(b"</sst>")
    if start is None or end < start or shared[end + len(b"</sst>") :].strip():
        return False
    if start > _MAX_START_TAG:
        return False  # (no real one is; a huge one took the checks seconds and gigabytes)
    try:  # the root's start tag, with its attributes (a duplicate one is not XML)
        root = ElementTree.fromstring(shared[:start] + b"</sst>")
    except ElementTree.ParseError:
        return False
    # calamine reserves room for uniqueCount strings before reading any: a huge one aborts the
    # process. A string takes at least 13 bytes (<si><t/></si>), so a true count fits the part.
    unique = root.get("uniqueCount", "0")
    if not unique.isdigit() or int(unique) > len(shared) // 13 + 1:
        return False
    pieces = _pieces(shared, b"</si>", start, end)
    if not all(_SHARED_STRINGS.fullmatch(piece) for piece in pieces):
        return False
    return not _search_any((_ESCAPE, _TRIMMED, *_NOT_XML), pieces)


def _root_end(xml: bytes, root: bytes) -> int | None:
    """Where the part's root element's start tag ends, when the root is ``root`` in the main
    namespace and the part holds no raw carriage return past its prolog (Excel ends the XML
    declaration with one; in the data, XML parsers differ on them); None otherwise."""
    prolog = _PROLOG.match(xml)
    if prolog is None or prolog.group(1) != root or xml.find(b"\r", prolog.start(1)) >= 0:
        return None
    end = xml.find(b">", prolog.end() - 1)
    return None if end < 0 or xml[end - 1 : end] == b"/" else end + 1


def _calamine_cells(data: bytes, names: list[str]) -> list[list[Any]] | None:
    """The first sheet's grid from A1 as calamine reads it; None when it cannot, or when its
    sheets are not the ones the workbook's parts name."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if [sheet.name for sheet in book.sheets_metadata] != names:
            return None
        return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except BaseException as exc:
        # Whatever calamine cannot read, openpyxl reads or names; a panic in its Rust code
        # comes as pyo3's PanicException, which is a BaseException. An interrupt goes on.
        if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":
            return None
        raise


def rows_of(rows: Any) -> Rows:
    """The first non-empty row as the header (to its last filled cell), then every non-empty
    row with its sheet row number, cut to the header's width (rows with values past it are
    listed). An empty text cell is an empty cell: openpyxl gives None for one and calamine "",
    and Excel shows both alike. Rows are counted as they come, and a row number past Excel's
    last stops the read at once (openpyxl yields every empty row up to the last one: a sheet
    with one row numbered in the millions would otherwise take minutes and gigabytes)."""
    header: list[str] | None = None
    width = 0
    numbers: list[int] = []
    body: list[tuple[Any, ...]] = []
    extra: list[int] = []
    for number, given in enumerate(rows, start=1):
        if number > EXCEL_MAX_ROWS:
            raise FileRefused(f"the first sheet has rows past Excel's last row {EXCEL_MAX_ROWS:,}")
        row = filled(given)
        if row is None:
            continue
        if header is None:
            header = header_of(row)
            width = len(header)
            continue
        if len(row) > width and row[width:].count(None) != len(row) - width:
            extra.append(number)
        numbers.append(number)
        body.append(row[:width] + (None,) * (width - len(row)))
    cells = np.empty((len(body), width), dtype=object)
    if body:
        cells[:] = body
    return header, numbers, [cells[:, j] for j in range(width)], extra


def grid_rows(grid: np.ndarray) -> Rows:
    """:func:`rows_of` for a sheet that calamine gives as a grid from A1 (every row as wide
    as the sheet, empty cells ""), done on the whole grid at once."""
    empty = grid == ""
    filled_rows = np.flatnonzero(~empty.all(axis=1))
    if not len(filled_rows):
        return None, [], [], []
    first, data = filled_rows[0], filled_rows[1:]
    header = header_of(
        tuple(None if e else v for v, e in zip(grid[first], empty[first], strict=True))
    )
    width = len(header)
    extra = data[(~empty[data, width:]).any(axis=1)]
    body = grid[data, :width]
    body[empty[data, :width]] = None
    return header, (data + 1).tolist(), [body[:, j] for j in range(width)], (extra + 1).tolist()


def filled(row: Sequence[Any]) -> tuple[Any, ...] | None:
    """A sheet row with its empty text cells as empty cells; None when nothing is in it."""
    cells = tuple(None if value == "" else value for value in row)
    return None if cells.count(None) == len(cells) else cells


def header_of(row: tuple[Any, ...]) -> list[str]:
    """A filled row's cells as column names, to its last filled cell: openpyxl ends a row at
    its last written cell (an empty one Excel writes for a formatted column included), calamine
    at the sheet's last column; a value under no header is a value past the header."""
    last = max(i for i, value in enumerate(row) if value is not None)
    return ["" if h is None else str(h) for h in row[: last + 1]]


def first_sheet_hidden(data: bytes) -> bool:
    """Whether the workbook's first sheet, the one read, is hidden (or very hidden): a person
    checking the file sees the sheets after it. False when the workbook cannot say (the
    readers then say what is wrong with it)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError):
        return False
    first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    return first is not None and first.get("state", "visible") in ("hidden", "veryHidden")


def first_worksheet_part(archive: zipfile.ZipFile) -> str | None:
    """The part of the workbook's first sheet, when the workbook places its sheets plainly (see
    :func:`_worksheet_parts`); None otherwise."""
    try:
        sheets = _worksheet_parts(archive)
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None
    return None if sheets is None else sheets[1]


def _worksheet_parts(archive: zipfile.ZipFile) -> tuple[list[str], str] | None:
    """The sheets' names in the workbook's order and the first one's part, when every sheet is
    a worksheet (openpyxl reads the first worksheet, calamine the first sheet of any kind) and
    the workbook counts days from 1900."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    if not _in_main_namespace(workbook, "workbook", {"workbookPr", "sheets", "sheet"}):
        return None
    # (openpyxl reads the last workbookPr, and only "0", "false" or "f" as false)
    properties = workbook.findall(f"{_MAIN}workbookPr")
    if len(properties) > 1:
        return None
    if properties and properties[0].get("date1904", "0") not in ("0", "false"):
        return None
    targets = {
        rel.get("Id"): (rel.get("Type"), rel.get("Target", ""))
        for rel in rels.iter(f"{_RELS}Relationship")
    }
    # The checks read the shared strings where Excel puts them; any other place, openpyxl's way.
    if any(
        kind == _SHARED_STRINGS_TYPE and _part(target) != "xl/sharedStrings.xml"
        for kind, target in targets.values()
    ):
        return None
    # (openpyxl reads the sheets listed in <sheets>, calamine any <sheet>)
    listed = workbook.findall(f"{_MAIN}sheets/{_MAIN}sheet")
    if len(listed) != len(list(workbook.iter(f"{_MAIN}sheet"))):
        return None
    names: list[str] = []
    parts: list[str] = []
    for sheet in listed:
        # (calamine takes the last attribute named "id" in any namespace)
        if not set(sheet.attrib) <= _SHEET_ATTRIBUTES:
            return None
        kind, target = targets.get(sheet.get(f"{_DOC_RELS}id"), (None, ""))
        part = _part(target)
        if kind != _WORKSHEET or part is None:
            return None
        names.append(sheet.get("name", ""))
        parts.append(part)
    if not parts or any(part not in archive.namelist() for part in parts):
        return None  # (openpyxl skips a sheet whose part is missing)
    if not _content_types_are_plain(archive):
        return None
    return names, parts[0]


_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WORKBOOK_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
)
_STRINGS_CONTENT_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


def _content_types_are_plain(archive: zipfile.ZipFile) -> bool:
    """Whether ``[Content_Types].xml`` names the workbook and the shared strings where the
    checks and calamine read them: openpyxl finds both by their content types."""
    try:
        types = ElementTree.fromstring(archive.read("[Content_Types].xml"))
    except (KeyError, ElementTree.ParseError):
        return False
    overrides: dict[str, list[str]] = {}
    for override in types.iter(f"{_TYPES}Override"):
        kind = override.get("ContentType", "")
        overrides.setdefault(kind, []).append(override.get("PartName", ""))
    workbooks = [name for kind in _WORKBOOK_TYPES for name in overrides.get(kind, [])]
    strings = overrides.get(_STRINGS_CONTENT_TYPE, [])
    has_strings = "xl/sharedStrings.xml" in archive.namelist()
    return workbooks == ["/xl/workbook.xml"] and strings == (
        ["/xl/sharedStrings.xml"] if has_strings else []
    )


_SHEET_ATTRIBUTES = {"name", "sheetId", "state", f"{_DOC_RELS}id"}


def _part(target: str) -> str | None:
    """The part a relationship of the workbook names; None when the target is not written in
    its normal form (``worksheets//sheet1.xml``, ``./``, ``../``): openpyxl and the checks
    normalise it, calamine reads the entry of that very name."""
    path = target[1:] if target.startswith("/") else posixpath.join("xl", target)
    return path if posixpath.normpath(path) == path else None


def _date_styles(archive: zipfile.ZipFile) -> tuple[frozenset[int], frozenset[int]] | None:
    """The cell styles whose number format makes a number a date or a time, and those that make
    it a duration; None when a style's format is one the two libraries might classify apart."""
    try:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    except KeyError:
        return frozenset(), frozenset()  # no styles: every number is General
    except ElementTree.ParseError:
        return None
    if not _in_main_namespace(styles, "styleSheet", {"numFmts", "numFmt", "cellXfs", "xf"}):
        return None
    # (of two lists, openpyxl reads the last and calamine the first)
    if len(styles.findall(f"{_MAIN}cellXfs")) > 1 or len(styles.findall(f"{_MAIN}numFmts")) > 1:
        return None
    custom = {  # (a numFmt elsewhere, in a dxf or an extension, is no cell's format)
        fmt.get("numFmtId", ""): fmt.get("formatCode", "")
        for fmt in styles.findall(f"{_MAIN}numFmts/{_MAIN}numFmt")
    }
    cell_xfs = styles.find(f"{_MAIN}cellXfs")
    dates: set[int] = set()
    durations: set[int] = set()
    for index, xf in enumerate([] if cell_xfs is None else cell_xfs.findall(f"{_MAIN}xf")):
        kind = _format_kind(xf.get("numFmtId", "0"), custom)
        if kind is None:
            return None
        if kind != "number":
            dates.add(index)
        if kind == "duration":
            durations.add(index)
    return frozenset(dates), frozenset(durations)


def _in_main_namespace(root: ElementTree.Element, tag: str, names: set[str]) -> bool:
    """Whether the part's root is ``tag`` and every element named one of ``names`` is in the
    main namespace: calamine reads these by their local names, openpyxl in that namespace."""
    if root.tag != f"{_MAIN}{tag}":
        return False
    return all(
        element.tag.startswith(_MAIN)
        for element in root.iter()
        if isinstance(element.tag, str) and element.tag.rpartition("}")[2] in names
    )


def _format_kind(format_id: str, custom: dict[str, str]) -> str | None:
    if not format_id.isdigit() or format_id != str(int(format_id)):
        return None  # (openpyxl reads "046" as format 46, calamine not)
    if format_id in custom:
        if not format_id.isdigit() or int(format_id) < 164:
            return None  # a workbook redefining a built-in format: read each its own way
        code = custom[format_id]
        if _PLAIN_NUMBER_FORMAT.fullmatch(code):
            return "number"
        if _PLAIN_DATE_FORMAT.fullmatch(code) and _DATE_LETTER.search(code):
            return "date"
        if _PLAIN_DURATION_FORMAT.fullmatch(code):
            return "duration"
        return None
    if not format_id.isdigit():
        return None
    number = int(format_id)
    if number in _BUILTIN_NUMBERS:
        return "number"
    if number in _BUILTIN_DATES:
        return "date"
    if number == _BUILTIN_DURATION:
        return "duration"
    return None


def _sheet_is_safe(xml: bytes) -> bool:
    """Whether the sheet's rows and cells are all in the forms the fast reader takes, in order,
    and within the grid calamine can build, and nothing else in the sheet holds rows."""
    root_end = _root_end(xml, b"worksheet")
    if root_end is None:
        return False
    begin = xml.find(b"<sheetData")
    if begin < 0:
        return False
    empty = xml.startswith(b"<sheetData/>", begin)
    if not empty and not xml.startswith(b"<sheetData>", begin):
        return False
    start = begin + len(b"<sheetData>")
    end = start if empty else xml.find(b"</sheetData>", start)
    if end < 0:
        return False
    after = begin + len(b"<sheetData/>") if empty else end + len(b"</sheetData>")
    if (begin - root_end) + (len(xml) - after) > _MAX_OTHER_PART:
        return False  # (Excel's own is kilobytes; the scans below would take seconds)
    # openpyxl reads a row wherever it is in the sheet, calamine only in its sheet data
    if _OUTSIDE_UNSAFE.search(xml, root_end, begin) or _OUTSIDE_UNSAFE.search(xml, after):
        return False
    try:  # and refuses a sheet whose XML is not well formed, which calamine reads on
        ElementTree.fromstring(xml[:begin] + b"<sheetData/>" + xml[after:])
    except ElementTree.ParseError:
        return False
    if empty:
        return True
    rows = _ROWS_X14AC if _X14AC in xml[:root_end] else _ROWS
    pieces = _pieces(xml, b"</row>", start, end)
    if not all(rows.fullmatch(piece) for piece in pieces):
        return False
    if _search_any((_ESCAPE, _TRIMMED, *_NOT_XML), pieces):
        return False
    bounds = _cell_bounds(pieces)
    if bounds is None:  # rows or cells out of order
        return False
    cells, last_row, last_column = bounds
    if not cells:
        return True
    if last_row > EXCEL_MAX_ROWS or last_column > EXCEL_MAX_COLUMNS:
        return False
    return last_row * last_column <= max(4 * cells, 1_000_000)


# What the sheet must not hold outside its sheet data (past the root's start tag): rows, cells
# or sheet data elsewhere, a comment, CDATA or DOCTYPE, a default namespace declared again, or
# what XML forbids.
_OUTSIDE_UNSAFE = re.compile(
    rb"<(?:[\w.-]+:)?(?:row|c|sheetData)[\s>/]"  # rows, cells or sheet data elsewhere
    rb"|<!|\]\]>|xmlns\s*="  # comments, CDATA, DOCTYPE; a namespace declared again
    rb"|[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]"  # what XML forbids
)


def _cell_bounds(pieces: list[memoryview]) -> tuple[int, int, int] | None:
    """The number of cells, and the last row and column their places name, of rows and cells
    in the forms of ``_ROWS``; None when the rows' numbers do not increase, a cell's place
    names another row than its row's, or a row's cells are not in column order (openpyxl places
    a row by its number and drops one that goes back, calamine places each cell by its own).
    Done with numpy on each piece's bytes: a regex returning every cell's place to Python took
    2.4 of the 5.8 s the checks of an 85,000-family attendance sheet (six million cells) took."""
    cells = 0
    last_row = last_cell_row = np.uint64(0)
    last_column = np.uint32(0)
    for piece in pieces:
        # padded, so that a number at the end of the piece can be read past
        data = np.concatenate((np.frombuffer(piece, np.uint8), np.zeros(_PAD, np.uint8)))
        tags = np.flatnonzero(data[: len(piece)] == ord("<"))
        row_starts, rows = _numbers_after(data, tags, _ROW_START, 0)
        cell_starts, cell_rows = _numbers_after(data, tags, _CELL_START, 3)
        cell_columns = _letters_after(data, cell_starts + len(_CELL_START))
        if len(rows) and (rows[0] <= last_row or (np.diff(rows.astype(np.int64)) <= 0).any()):
            return None
        if len(rows):
            last_row = rows[-1]
        if not len(cell_starts):
            continue
        row_of = np.searchsorted(row_starts, cell_starts) - 1
        if (row_of < 0).any() or (cell_rows != rows[row_of]).any():
            return None
        same_row = row_of[1:] == row_of[:-1]
        if (cell_columns[1:][same_row] <= cell_columns[:-1][same_row]).any():
            return None
        cells += len(cell_starts)
        last_cell_row = cell_rows[-1]
        last_column = max(last_column, cell_columns.max())
    if not cells:
        return 0, 0, 0
    row_number = int(int(last_cell_row).to_bytes(8, "big"))
    column = int(last_column).to_bytes(4, "big").lstrip(b"\0").decode("ascii")
    return cells, row_number, column_number(column)


_ROW_START = b'<row r="'


def _numbers_after(
    data: np.ndarray, tags: np.ndarray, opening: bytes, skip: int
) -> tuple[np.ndarray, np.ndarray]:
    """Where each ``opening`` starts, and the number that follows it (after at most ``skip``
    capital letters; ``_ROWS`` has checked its form: 1 to 7 digits, no leading zero, a quote),
    as the big-endian integer of its digits right-aligned in 8 bytes filled with "0": in the
    order of the numbers."""
    starts = tags
    for offset, byte in enumerate(opening[1:], start=1):
        starts = starts[data[starts + offset] == byte]
    window = data[(starts + len(opening))[:, None] + np.arange(skip + 8)]
    is_digit = (window >= ord("0")) & (window <= ord("9"))
    first = np.argmax(is_digit, axis=1)
    end = np.argmax(~is_digit & (np.arange(skip + 8) > first[:, None]), axis=1)
    return starts, _right_aligned(window, first, end, 8, ord("0")).view(">u8").ravel()


def _letters_after(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The column letters at each of ``at`` (1 to 3, checked by ``_ROWS``), right-aligned in 4
    bytes filled with nothing, as big-endian integers: in the order of the columns."""
    window = data[at[:, None] + np.arange(4)]
    end = np.argmax((window < ord("A")) | (window > ord("Z")), axis=1)
    return _right_aligned(window, np.zeros_like(end), end, 4, 0).view(">u4").ravel()


def _right_aligned(
    window: np.ndarray, first: np.ndarray, end: np.ndarray, width: int, fill: int
) -> np.ndarray:
    """Each row's bytes from ``first`` to before ``end``, right-aligned in ``width`` bytes and
    filled with ``fill`` before them."""
    count = len(window)
    kept = np.where(np.arange(window.shape[1]) >= first[:, None], window, fill)
    padded = np.full((count, width + window.shape[1]), fill, np.uint8)
    padded[:, width:] = kept
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    return np.ascontiguousarray(windows[np.arange(count), end])


def _dates_openpyxl_reads_alone(
    xml: bytes, dates: frozenset[int], durations: frozenset[int]
) -> dict[tuple[int, int], Any] | None:
    """openpyxl's value for each date-styled number that calamine may read otherwise (a time
    of day, a date of birth typed as 1882, a number styled as a date), by the cell's place
    (row and column from 0); None when a date-styled cell is not one this can read."""
    if not dates:
        return {}
    if 0 in dates:  # the default style a date: every unstyled cell is one
        return None
    styles = b"|".join(str(s).encode() for s in sorted(dates))
    # A number cell holding a whole day from 100 to 999,999 (1900 to 4637) is read alike and
    # needs nothing: nearly every date cell. It is passed over in the scan, so that only the
    # others come back to Python (an 85,000-family attendance sheet: a million date cells).
    styled = re.compile(
        rb'<c r="([A-Z]{1,3})(\d{1,7})" s="('
        + styles
        + rb')"(?!(?: t="n")?><v>[1-9]\d{2,5}</v>)( t="\w+")?([^>]*)>(?:<v>([^<]*)</v>)?'
    )
    found = [cell for piece in _pieces(xml, b"</row>") for cell in styled.findall(piece)]
    places: list[tuple[bytes, bytes, bytes]] = []
    values: list[bytes] = []
    for letters, row, style, kind, rest, value in found:
        if rest == b"/" and kind in (b"", b' t="n"'):
            continue  # an empty cell
        if rest or kind not in (b"", b' t="n"', b' t="s"', b' t="inlineStr"', b' t="b"'):
            return None
        if kind in (b"", b' t="n"'):
            if not value:
                return None
            places.append((letters, row, style))
            values.append(value)
    if not values:
        return {}
    serials = np.array(values).astype(np.float64)
    if (np.abs(serials) > _CALAMINE_PANICS).any():
        return None
    # calamine and openpyxl round a time of day to the millisecond each its own way: only
    # whole days are left to calamine.
    whole = serials == np.floor(serials)
    safe = whole & (serials >= _FIRST_SAFE_DATE) & (serials <= _LAST_DATE)
    overrides: dict[tuple[int, int], Any] = {}
    for at in np.flatnonzero(~safe):
        letters, row, style = places[at]
        place = (int(row) - 1, column_number(letters.decode("ascii")) - 1)
        overrides[place] = _openpyxl_date(values[at].decode("ascii"), int(style) in durations)
    return overrides


def _openpyxl_date(text: str, duration: bool) -> Any:
    """What openpyxl's reader makes of a number in a date-styled cell (its own conversion, and
    its "#VALUE!" for a number no date can be)."""
    number: float = float(text) if any(c in text for c in ".Ee") else int(text)
    try:
        return from_excel(number, WINDOWS_EPOCH, timedelta=duration)
    except (OverflowError, ValueError):
        return "#VALUE!"
