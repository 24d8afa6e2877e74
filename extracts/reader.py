"""Read the ten case extracts from a folder of files or a SQL database.

Every reader ends in the same place: a :class:`RawExtract` of text with the contract's column
names. Anything that makes an extract unusable raises :class:`FatalInputError` naming the file
or table, never a value from it.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from extracts.csv_file import read_csv_records, read_utf8_records
from extracts.guards import (
    FileRefused,
    binary_kind,
    check_parquet,
    check_text_header,
    check_xlsx,
)
from extracts.source import ExtractSource
from extracts.text import TextDecodeError, clean_text, column_to_text, decode_csv_bytes
from extracts.xlsx_fast import Rows, first_sheet_hidden, rows_of, sheet_rows_fast
from extracts.xlsx_formulas import formula_without_result
from schemas.columns import NOT_TO_GO_UNREAD, match_headers, normalise_header, suggest
from schemas.models import EXTRACT_NAMES, MODELS
from schemas.raw import RawExtract, number_rows
from schemas.rules import RULES, FatalInputError

FILE_SUFFIXES = (".csv", ".xlsx", ".parquet")
# Extracts that may not be empty: without families or people there is nothing to submit.
MUST_HAVE_ROWS = ("families", "people")


def read_extracts(source: ExtractSource) -> dict[str, RawExtract]:
    """Read all ten extracts; the first fatal problem stops the read."""
    return {name: read_extract(source, name) for name in EXTRACT_NAMES}


def read_extract(source: ExtractSource, name: str) -> RawExtract:
    column_map = source.column_map.get(name, {})
    if source.url is not None:
        from extracts.sql import SqlSource, read_sql_extract

        sql_source = SqlSource(
            url=source.url,
            tables=dict(source.tables),
            queries=dict(source.queries),
            password=source.password,
        )
        label, frame, digest = read_sql_extract(sql_source, name)
        table = Table(frame)
    else:
        if source.folder is None:
            raise FatalInputError(RULES["F001"], name, "no source folder or database URL is set")
        label, table, digest = _read_file_extract(Path(source.folder), name)
    try:
        raw = _conform(name, label, table, digest, dict(column_map))
    except FatalInputError:
        raise
    except Exception as exc:  # a cell no text rendering takes (a driver's odd type): the source's
        raise FatalInputError(RULES["F002"], label, _safe_reason(exc)) from None
    if raw.rows == 0 and name in MUST_HAVE_ROWS:
        # A submission from no families or no people would be "finished" and empty.
        raise FatalInputError(RULES["F007"], label)
    return raw


def find_extract_file(folder: Path, name: str) -> Path:
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.is_file() else "does not exist"
        raise FatalInputError(RULES["F001"], str(folder), f"source folder {why}")
    named = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in FILE_SUFFIXES and p.stem.strip().casefold() == name
    )
    matches = [p for p in named if p.is_file()]
    if not matches and named:
        # A folder, a pipe or a device by the extract's name (or a link to one): not a file.
        what = (
            "a link to something that does not exist"
            if not named[0].exists()
            else "a folder, a pipe or a device, not a file"
        )
        raise FatalInputError(RULES["F002"], named[0].name, what)
    if not matches:
        detail = f"no {name}.csv, {name}.xlsx or {name}.parquet in the folder"
        # The extract saved in a format not read (.xls, .xlsm, .txt, .ods): name it.
        other = sorted(
            p.name for p in folder.iterdir() if p.stem.strip().casefold() == name and p.is_file()
        )
        if other:
            detail += (
                f" ({', '.join(other)} is there: save it as .csv (CSV UTF-8) or .xlsx, without "
                "macros)"
            )
        raise FatalInputError(RULES["F001"], str(folder / f"{name}.csv"), detail)
    if len(matches) > 1:
        raise FatalInputError(RULES["F004"], str(folder), ", ".join(p.name for p in matches))
    return matches[0]


@dataclass(frozen=True)
class Table:
    """What a file reader hands on: cells of any type, headers as written, indexed by source row
    number; and the rows that had more fields than the header."""

    frame: pd.DataFrame
    extra_field_rows: tuple[int, ...] = ()
    sheets: int = 1  # a workbook's sheets (the first is read)


def _read_file_extract(folder: Path, name: str) -> tuple[str, Table, str]:
    path = find_extract_file(folder, name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FatalInputError(RULES["F002"], path.name, exc.strerror or "cannot open") from None
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = _read_csv(data)
        elif suffix == ".xlsx":
            table = _read_xlsx(data)
        else:
            table = _read_parquet(data)
    except FatalInputError as exc:
        raise FatalInputError(exc.rule, path.name, exc.detail) from None
    except (FileRefused, TextDecodeError) as exc:
        raise FatalInputError(RULES["F002"], path.name, str(exc)) from None
    except MemoryError:
        raise FatalInputError(RULES["F002"], path.name, "too large to read in memory") from None
    except Exception as exc:  # any library's "cannot parse" is the user's file, not our bug
        raise FatalInputError(RULES["F002"], path.name, _safe_reason(exc)) from None
    return path.name, table, digest


def _safe_reason(exc: Exception) -> str:
    # Library messages can quote cell contents; keep only the exception kind and any line number.
    text = str(exc)
    for marker in ("line ", "row "):
        at = text.find(marker)
        if at >= 0:
            number = "".join(
                ch for ch in text[at + len(marker) : at + len(marker) + 12] if ch.isdigit()
            )
            if number:
                return f"{type(exc).__name__} near {marker}{number}"
    return type(exc).__name__


def _read_csv(data: bytes) -> Table:
    if data.endswith(b"\x1a"):
        # DOS's end-of-file mark (Ctrl-Z), which old exporters still write last: not a row.
        data = data[:-1]
    kind = binary_kind(data)
    if kind is not None:
        raise FileRefused(f"not CSV text: it is {kind}")
    check_text_header(data)
    records = read_utf8_records(data)
    if records is None:
        records = read_csv_records(decode_csv_bytes(data))
    return Table(records.frame, records.extra_field_rows)


def quiet_openpyxl() -> None:
    """Silence openpyxl's warnings before a workbook is read. One quotes a cell's value on the
    terminal ("the serial value 12345678 is outside the limits for dates"), which may be a
    person's date of birth; the cell is read as an error value and reported by its row and column
    like any bad cell. A standing filter, not catch_warnings: extracts are read in threads, and
    that context is process-wide."""
    warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")


def _read_xlsx(data: bytes) -> Table:
    check_xlsx(data)
    if first_sheet_hidden(data):
        # Whoever checks the workbook sees only the sheets after it (old data left hidden, say).
        raise FileRefused(
            "its first sheet, the one read, is hidden: unhide it and check it holds the extract, "
            "or move the sheet that does to the first place"
        )
    fast = sheet_rows_fast(data)
    if fast is not None and fast[1][0] is not None:
        sheets, (header, numbers, columns, extra) = fast
    else:
        # The fast way takes no sheet holding a formula without its result; this one checks.
        unsaved = formula_without_result(data)
        if unsaved is not None:
            raise FileRefused(
                f"cell {unsaved} of the first sheet holds a formula whose result was never "
                "saved, as when a program wrote the workbook and no spreadsheet saved it: open "
                "it in Excel and save it, or export values rather than formulas"
            )
        sheets, (header, numbers, columns, extra) = _openpyxl_sheet_rows(data)
    if header is None:  # (openpyxl's way has named what is on the other sheets)
        raise FileRefused("the first sheet is empty")
    index = pd.Index(numbers, dtype="int64")
    frame = pd.DataFrame(
        {i: _sheet_column(column, index) for i, column in enumerate(columns)}, index=index
    ).set_axis(header, axis=1)
    return Table(frame, tuple(extra), sheets)


def _sheet_column(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A column of text cells as text (Arrow checks every cell is text or empty, and the
    rendering takes it as it is); any other column as the values the cells hold, as objects (a
    column of datetimes would otherwise become a datetime column, and lose the time of day a
    date cell should not hold)."""
    if len(values):
        try:
            text = pa.array(values, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        else:
            return pd.Series(pd.array(text, dtype="str"), index=index)
    return pd.Series(values, index=index, dtype=object)


def _openpyxl_sheet_rows(data: bytes) -> tuple[int, Rows]:
    from openpyxl import load_workbook

    quiet_openpyxl()
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the size the file declares, and some exporters declare it wrong
        # (A1, or fewer rows than written): rows past it would vanish without a word.
        sheet.reset_dimensions()
        rows = rows_of(sheet.iter_rows(values_only=True))
        if rows[0] is None:
            raise FileRefused(_empty_first_sheet(workbook.worksheets))
        return len(workbook.worksheets), rows
    finally:
        workbook.close()


_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _other_separator(headers: pd.Index) -> str | None:
    """What a header row read as too few columns is separated by instead of commas (named, never
    the header itself, which may be a first row of data)."""
    for mark, name in _SEPARATORS.items():
        if any(mark in str(header) for header in headers):
            return name
    return None


def _empty_first_sheet(sheets: list[Any]) -> str:
    for position, sheet in enumerate(sheets[1:], start=2):
        sheet.reset_dimensions()
        for row in sheet.iter_rows(max_row=50, values_only=True):
            if row.count(None) != len(row):
                return (
                    f"the first sheet is empty; the data seems to be on sheet {position}: "
                    "extracts are read from the first sheet, so move it there"
                )
    return "the first sheet is empty"


def _read_parquet(data: bytes) -> Table:
    import pyarrow.parquet as pq

    check_parquet(data)
    names = [str(name) for name in pq.read_schema(io.BytesIO(data)).names]
    repeated = sorted(name for name, n in Counter(names).items() if n > 1)
    if repeated:  # (before the read, which refuses them without a name)
        raise FileRefused(f"column {', '.join(repeated)} appears twice")
    table = pq.read_table(io.BytesIO(data))
    frame = _single_values(table).to_pandas()
    return Table(number_rows(frame))


def _single_values(table: Any) -> Any:
    """The table with a plain value in every cell: a column of lists, structs or maps is refused
    naming the column; a column of bytes is read as UTF-8 text, as a CSV's bytes are (pandas
    would spell them ``b'...'``, and that would be sent)."""
    import pyarrow as pa

    names = [str(name) for name in table.column_names]
    for position, (name, column) in enumerate(zip(names, table.columns, strict=True)):
        kind, plain = column.type, column
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
            plain = column.cast(kind)
        if pa.types.is_nested(kind):
            raise FileRefused(
                f"column {name} holds {kind} values, not one value a cell: export it as text"
            )
        if pa.types.is_fixed_size_binary(kind):
            kind = pa.binary()
            plain = plain.cast(kind)
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            text = pa.large_string() if pa.types.is_large_binary(kind) else pa.string()
            try:
                plain = plain.cast(text)
            except pa.ArrowInvalid:
                raise FileRefused(f"column {name} holds bytes that are not UTF-8 text") from None
            # Only a changed column is replaced: the file's pandas metadata (its index) stays.
            table = table.set_column(position, table.schema.field(position).name, plain)
    return table


def _nameless_columns_with_values(frame: pd.DataFrame) -> tuple[str, ...]:
    """Columns with no header that hold a value, named by position ("column 6 (no header)"):
    dropped as unknown columns are, and reported as they are (W205), never silently. A nameless
    column that is empty throughout (a trailing comma on every line, a formatted sheet column)
    is nothing to report."""
    labels = []
    for position, header in enumerate(frame.columns):
        if normalise_header(header):  # (a header of invisible characters only is none)
            continue
        if clean_text(column_to_text(frame.iloc[:, position])).notna().any():
            labels.append(f"column {position + 1} (no header)")
    return tuple(labels)


def _conform(
    name: str, source: str, table: Table, digest: str, column_map: dict[str, str]
) -> RawExtract:
    """Rename, check required columns, drop unknown ones, and render every cell as text."""
    frame = table.frame
    match = match_headers(name, list(frame.columns), column_map)
    nameless = _nameless_columns_with_values(frame)
    if nameless:
        match = replace(match, unknown=match.unknown + nameless)
    if match.repeated:
        raise FatalInputError(
            RULES["F002"], source, f"column {', '.join(match.repeated)} appears twice"
        )
    if match.missing_required:
        detail = ", ".join(match.missing_required)
        for header in match.unknown:
            guess = suggest(name, header)
            if guess in NOT_TO_GO_UNREAD and guess in match.missing_required:
                detail += (
                    f'; {header!r} is most likely it: add "{header}" = "{guess}" under '
                    f"[column_map.{name}], or take that column out of the extract if it is not "
                    "(read as empty, every opt-out would be lost)"
                )
                break
        named = sum(1 for header in frame.columns if str(header).strip())
        if named <= 2 and (table.extra_field_rows or named < len(frame.columns)):
            # A report title above the header row: one or two cells, wider rows below.
            detail += (
                f"; the first row has {named} cell{'s' if named != 1 else ''} filled and the rows "
                "below have more: is there a title above the header row? The header must be "
                "the first row"
            )
        separator = _other_separator(frame.columns)
        if separator is not None:
            # Excel's "CSV" in some locales, or "Text (Tab delimited)": every header is in one.
            detail += (
                f"; the header holds {separator}: the file must be separated by commas (in "
                "Excel, save it as CSV UTF-8 (Comma delimited))"
            )
        if table.sheets > 1:  # a cover or notes sheet first, the data behind it
            detail += (
                f"; only the first of its {table.sheets} sheets is read: if the data is on "
                "another, move it to the first"
            )
        raise FatalInputError(RULES["F003"], source, detail)
    by_header = {header: column for column, header in match.found.items()}
    positions = [i for i, header in enumerate(frame.columns) if str(header).strip() in by_header]
    picked = frame.iloc[:, positions]
    picked = picked.set_axis([by_header[str(h).strip()] for h in picked.columns], axis=1)
    keep = [c for c in MODELS[name].to_schema().columns if c in match.found]
    text = pd.DataFrame({c: clean_text(column_to_text(picked[c])) for c in keep}, index=frame.index)
    # Rows with nothing in them (trailing blank lines, blank sheet rows) are not records; a row
    # with more fields than the header is one, whatever its first fields hold.
    long_rows = text.index.isin(table.extra_field_rows)
    if len(text.columns):
        text = text.loc[text.notna().any(axis=1).to_numpy(dtype=bool) | long_rows]
    return RawExtract(
        name=name,
        source=source,
        frame=text,
        sha256=digest,
        headers=match,
        extra_field_rows=tuple(r for r in table.extra_field_rows if r in text.index),
    )
