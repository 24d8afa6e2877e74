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
  date-styled number of a billion or more (calamine's Rust code panics on it);
- a sheet whose cells' positions are not all written in the cell (``r="B2"``), or use a
  namespace prefix, or whose cells' styles are not plain numbers right after their positions
  (where the dates check looks for them), or whose first sheet is not a worksheet; a sheet or shared-strings part
  over a gibibyte of XML (the checks hold it in memory; openpyxl streams it).

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

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"

# Text with white space at an end and no xml:space="preserve": calamine trims it, openpyxl not.
_TRIMMED = re.compile(rb"<t>(?:\s|[^<]*\s</t>)|<t (?!xml:space=\"preserve\">)")
# Anything in a sheet that the two libraries read apart (see the module's docstring). Literal
# strings and patterns that start with one: each is a fast scan of the sheet's XML.
_SHEET_UNSAFE_TEXT = (b't="e"', b't="d"', b't="str"', b"\r")
_SHEET_UNSAFE = (
    re.compile(rb":(?:sheetData|row|c|v|is|t|f|r)[\s>/]"),  # a namespace prefix on the cells
    re.compile(rb"_x[0-9A-Fa-f]{4}_"),  # an escaped character
    re.compile(rb"<r[\s>]"),  # inline rich text
    # a cell whose place is not the first thing written in it (calamine would count it)
    re.compile(rb'<c(?! r=")[\s>/]'),
    _TRIMMED,
    # A value openpyxl and calamine might read to different numbers: more than 15 digits before
    # the point (openpyxl reads a whole number exactly, calamine as the nearest float), or not a
    # plain number at all.
    re.compile(rb"<v>(?!-?\d{1,15}(?:\.\d+)?(?:[Ee][+-]?\d{1,3})?</v>)"),
)
_STRINGS_UNSAFE = (
    re.compile(rb"_x[0-9A-Fa-f]{4}_|\r|:(?:si|t|r)[\s>/]|<rPh[\s>]"),
    _TRIMMED,
)
# A cell's place: 1 to 3 capital letters, 1 to 7 digits and the closing quote.
_CELL_START = b'<c r="'
_REF_WIDTH = 3 + 7 + 1
_PAD = 16  # bytes after a piece: the most the checks read past a place or a style's start

# Built-in number formats (ECMA-376 18.8.30) both libraries read as dates or times, and the one
# both read as a duration. Other built-in ids below 164 that openpyxl knows are numbers to both.
_BUILTIN_DATES = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47})
_BUILTIN_DURATION = 46
_BUILTIN_NUMBERS = frozenset({0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 37, 38, 39, 40, 48, 49})
# Custom formats read alike: plain numbers (or text), plain dates and times with an optional
# locale tag and text section, and [h]:mm:ss durations. Anything else goes openpyxl's way.
_PLAIN_NUMBER_FORMAT = re.compile(r"(?:General|@|[0#?,.% ]+|0(?:\.0+)?E\+0+)")
_PLAIN_DATE_FORMAT = re.compile(r"(?:\[\$-[0-9A-Fa-f]{1,8}\])?[dmyhsDMYHS/\-.:, ]+(?:;@)?")
_PLAIN_DURATION_FORMAT = re.compile(r"\[[hH]{1,2}\](?::mm(?::ss)?)?")
# Whole-day date cells are read alike from 1 March 1900 (serial 61; before it, the two handle
# Excel's 29 February 1900 apart) to 31 December 9999.
_FIRST_SAFE_DATE, _LAST_DATE = 61.0, 2_958_465.0
# The checks hold a part's XML in memory (and calamine the whole file): a part bigger than this
# (a sheet of Excel's full million rows is about half of it) is left to openpyxl, which streams.
_MAX_PART = 2**30
# calamine's Rust code panics on a date-styled number whose milliseconds overflow (about 1e11
# days); far below that, such a sheet is left to openpyxl.
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
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
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
        if strings in parts and _unsafe_strings(archive.read(strings)):
            return None
        xml = archive.read(first_part)
    if not _sheet_is_safe(xml):
        return None
    overrides = _dates_openpyxl_reads_alone(xml, *styles)
    return None if overrides is None else (names, overrides)


def _pieces(xml: bytes, closing: bytes) -> list[memoryview]:
    """``xml`` cut after a ``closing`` tag (a row's, a shared string's) every few MiB. No pattern
    here matches across such a cut, so scanning the pieces finds what scanning the whole finds;
    and a scan of one piece holds the GIL for milliseconds, where one of a sheet's hundreds of
    MiB held it for a second or more: the command's own thread (its imports, Prefect's API
    calls, a Ctrl-C's clean-up) waited on it."""
    view = memoryview(xml)
    pieces: list[memoryview] = []
    start = 0
    while start < len(xml):
        cut = xml.find(closing, start + _PIECE)
        end = len(xml) if cut < 0 else cut + len(closing)
        pieces.append(view[start:end])
        start = end
    return pieces


_PIECE = 4 << 20


def _search_any(patterns: tuple[re.Pattern[bytes], ...], pieces: list[memoryview]) -> bool:
    return any(pattern.search(piece) for piece in pieces for pattern in patterns)


def _unsafe_strings(shared: bytes) -> bool:
    return _search_any(_STRINGS_UNSAFE, _pieces(shared, b"</si>"))


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


def _worksheet_parts(archive: zipfile.ZipFile) -> tuple[list[str], str] | None:
    """The sheets' names in the workbook's order and the first one's part, when every sheet is
    a worksheet (openpyxl reads the first worksheet, calamine the first sheet of any kind) and
    the workbook counts days from 1900."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    properties = workbook.find(f"{_MAIN}workbookPr")
    if properties is not None and properties.get("date1904", "0").lower() not in ("0", "false"):
        return None
    targets = {
        rel.get("Id"): (rel.get("Type"), rel.get("Target", ""))
        for rel in rels.iter(f"{_RELS}Relationship")
    }
    names: list[str] = []
    parts: list[str] = []
    for sheet in workbook.iter(f"{_MAIN}sheet"):
        kind, target = targets.get(sheet.get(f"{_DOC_RELS}id"), (None, ""))
        if kind != _WORKSHEET:
            return None
        names.append(sheet.get("name", ""))
        path = target[1:] if target.startswith("/") else posixpath.join("xl", target)
        parts.append(posixpath.normpath(path))
    if not parts or parts[0] not in archive.namelist():
        return None
    return names, parts[0]


def _date_styles(archive: zipfile.ZipFile) -> tuple[frozenset[int], frozenset[int]] | None:
    """The cell styles whose number format makes a number a date or a time, and those that make
    it a duration; None when a style's format is one the two libraries might classify apart."""
    try:
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    except KeyError:
        return frozenset(), frozenset()  # no styles: every number is General
    except ElementTree.ParseError:
        return None
    custom = {
        fmt.get("numFmtId", ""): fmt.get("formatCode", "") for fmt in styles.iter(f"{_MAIN}numFmt")
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


def _format_kind(format_id: str, custom: dict[str, str]) -> str | None:
    if format_id in custom:
        if not format_id.isdigit() or int(format_id) < 164:
            return None  # a workbook redefining a built-in format: read each its own way
        code = custom[format_id]
        if _PLAIN_NUMBER_FORMAT.fullmatch(code):
            return "number"
        if _PLAIN_DATE_FORMAT.fullmatch(code):
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
    if any(text in xml for text in _SHEET_UNSAFE_TEXT):
        return False
    pieces = _pieces(xml, b"</row>")
    if _search_any(_SHEET_UNSAFE, pieces):
        return False
    bounds = _cell_bounds(pieces)
    if bounds is None:  # a place that is not a plain cell reference
        return False
    cells, last_row, last_column = bounds
    if not cells:
        return True
    if last_row > EXCEL_MAX_ROWS or last_column > EXCEL_MAX_COLUMNS:
        return False
    return last_row * last_column <= max(4 * cells, 1_000_000)


def _cell_bounds(pieces: list[memoryview]) -> tuple[int, int, int] | None:
    """The number of cells, and the last row and column their places name; None when a cell's
    place (after ``<c r="``) is not a plain reference, or a cell's style is not the first thing
    after its place. Done with numpy on each piece's bytes: a regex returning every cell's place
    to Python took 2.4 of the 5.8 s the checks of an 85,000-family attendance sheet (six million
    cells) took."""
    cells = 0
    last_row, last_letters = b"", b""
    positions = np.arange(_REF_WIDTH)
    for piece in pieces:
        # padded so that a place cut short at the end reads as one that is not plain
        data = np.concatenate((np.frombuffer(piece, np.uint8), np.zeros(_PAD, np.uint8)))
        tags = np.flatnonzero(data[: len(piece)] == _CELL_START[0])
        starts = tags
        for offset, byte in enumerate(_CELL_START[1:], start=1):
            starts = starts[data[starts + offset] == byte]
        if not len(starts):
            continue
        refs = data[(starts + len(_CELL_START))[:, None] + positions]
        letters = np.argmin((refs >= ord("A")) & (refs <= ord("Z")), axis=1)  # first non-letter
        after_letters = positions >= letters[:, None]
        end = np.argmax(after_letters & ((refs < ord("0")) | (refs > ord("9"))), axis=1)
        digits = end - letters
        closed = refs[np.arange(len(refs)), end] == ord('"')
        if not (closed & (letters >= 1) & (letters <= 3) & (digits >= 1) & (digits <= 7)).all():
            return None
        if not _styles_follow_places(
            data, len(piece), tags, starts, starts + len(_CELL_START) + end
        ):
            return None
        cells += len(starts)
        # The row's digits and the column's letters right-aligned in 8 and 4 bytes, filled with
        # "0" and with nothing: as big-endian integers they are in the order of their numbers.
        digits_only = np.where(positions < letters[:, None], ord("0"), refs)
        last_row = max(last_row, _largest(digits_only, end, 8, ord("0")), key=_as_number)
        last_letters = max(last_letters, _largest(refs, letters, 4, 0), key=_as_number)
    if not cells:
        return 0, 0, 0
    return cells, int(last_row), column_number(last_letters.lstrip(b"\0").decode("ascii"))


def _styles_follow_places(
    data: np.ndarray, size: int, tags: np.ndarray, cells: np.ndarray, places_end: np.ndarray
) -> bool:
    """Whether every style attribute (``s="``) in a cell's tag comes right after its place, as
    Excel and openpyxl write it: the dates scan finds a date-styled cell by its style there, and
    would pass over one written ``<c r="A2" t="n" s="1">`` (calamine reads a date of birth typed
    as 1882 in it as midnight, openpyxl as the date)."""
    styles = np.flatnonzero(data[:size] == ord("s"))
    styles = styles[(styles > 0) & (data[styles + 1] == ord("=")) & (data[styles + 2] == ord('"'))]
    styles = styles[np.isin(data[styles - 1], _XML_SPACE)]
    if not len(styles):
        return True
    # the tag each is in: the last "<" before it (text holds no raw "<")
    opened = np.searchsorted(tags, styles) - 1
    cell_tags = np.zeros(len(tags), bool)
    cell_tags[np.searchsorted(tags, cells)] = True
    styles = styles[(opened >= 0) & cell_tags[np.clip(opened, 0, None)]]
    place_end = places_end[np.searchsorted(cells, styles) - 1]  # of the cell each is in
    if not ((styles == place_end + 2).all() and (data[styles - 1] == ord(" ")).all()):
        return False
    # and the style a plain number: openpyxl reads s="01" or s=" 1" as style 1, calamine not
    value = data[(styles + 3)[:, None] + np.arange(_STYLE_WIDTH)]
    digits = np.argmax((value < ord("0")) | (value > ord("9")), axis=1)
    closed = value[np.arange(len(value)), digits] == ord('"')
    return bool((closed & (digits >= 1) & ((value[:, 0] != ord("0")) | (digits == 1))).all())


_STYLE_WIDTH = 7  # up to six digits (a workbook has at most 64,000 styles) and the quote


_XML_SPACE = np.frombuffer(b" \t\n\r\f\v", np.uint8)


def _largest(refs: np.ndarray, end: np.ndarray, width: int, fill: int) -> bytes:
    """The largest of the ``width`` bytes before each place's ``end`` (``fill`` before its
    first byte), as big-endian integers."""
    padded = np.empty((len(refs), width + refs.shape[1]), np.uint8)
    padded[:, :width] = fill
    padded[:, width:] = refs
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)
    aligned = np.ascontiguousarray(windows[np.arange(len(refs)), end])
    packed = aligned.view(">u8" if width == 8 else ">u4").ravel()
    return aligned[int(np.argmax(packed))].tobytes()


def _as_number(aligned: bytes) -> int:
    return int.from_bytes(aligned.rjust(8, b"\0"), "big")


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
