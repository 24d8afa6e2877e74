"""Read the ten case extracts from a folder of files or a SQL database.

Every reader ends in the same place: a :class:`RawExtract` of text with the contract's column
names. Anything that makes an extract unusable raises :class:`FatalInputError` naming the file
or table, never a value from it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import warnings
from pathlib import Path

import pandas as pd

from extracts.source import ExtractSource
from extracts.text import column_to_text, decode_csv_bytes
from schemas.columns import match_headers
from schemas.models import EXTRACT_NAMES, MODELS
from schemas.raw import RawExtract, number_rows
from schemas.rules import RULES, FatalInputError

FILE_SUFFIXES = (".csv", ".xlsx", ".parquet")


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
    else:
        if source.folder is None:
            raise FatalInputError(RULES["F001"], name, "no source folder or database URL is set")
        label, frame, digest = _read_file_extract(Path(source.folder), name)
    return _conform(name, label, frame, digest, dict(column_map))


def find_extract_file(folder: Path, name: str) -> Path:
    if not folder.is_dir():
        raise FatalInputError(RULES["F001"], str(folder), "source folder does not exist")
    matches = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and p.stem.strip().casefold() == name
    )
    if not matches:
        raise FatalInputError(
            RULES["F001"],
            str(folder / f"{name}.csv"),
            "expected NAME.csv, NAME.xlsx or NAME.parquet",
        )
    if len(matches) > 1:
        raise FatalInputError(RULES["F004"], str(folder), ", ".join(p.name for p in matches))
    return matches[0]


def _read_file_extract(folder: Path, name: str) -> tuple[str, pd.DataFrame, str]:
    path = find_extract_file(folder, name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FatalInputError(RULES["F002"], path.name, exc.strerror or "cannot open") from None
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = _read_csv(data)
        elif suffix == ".xlsx":
            frame = _read_xlsx(data)
        else:
            frame = _read_parquet(data)
    except FatalInputError as exc:
        raise FatalInputError(exc.rule, path.name, exc.detail) from None
    except Exception as exc:  # any library's "cannot parse" is the user's file, not our bug
        raise FatalInputError(RULES["F002"], path.name, _safe_reason(exc)) from None
    return path.name, frame, digest


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


def _read_csv(data: bytes) -> pd.DataFrame:
    try:
        text = decode_csv_bytes(data)
    except UnicodeDecodeError:
        raise FatalInputError(RULES["F002"], "", "not UTF-8 or Windows-1252 text") from None
    if not text.strip():
        raise FatalInputError(RULES["F002"], "", "the file is empty")
    # Blank lines are kept while reading so the index stays the CSV line number, then dropped.
    # index_col=False: otherwise a first data row with more fields than the header makes pandas
    # take the first column as the index and shift every value one column left.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                dtype="str",
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                quoting=csv.QUOTE_MINIMAL,
                index_col=False,
            )
    except pd.errors.ParserWarning:
        # With index_col=False pandas drops the extra fields with only a warning.
        raise FatalInputError(RULES["F002"], "", "a row has more fields than the header") from None
    # The header as written: pandas renames a repeated name (date, date.1) and a blank one
    # (Unnamed: 3), which would hide a column given twice from the check in _conform.
    header = next(csv.reader(io.StringIO(text)), [])
    if len(header) == len(frame.columns):
        frame = frame.set_axis(header, axis=1)
    return number_rows(frame)


def _read_xlsx(data: bytes) -> pd.DataFrame:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the size the file declares, and some exporters declare it
        # wrong (A1, or fewer rows than written): rows past it would vanish without a word.
        sheet.reset_dimensions()
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        workbook.close()
    if not rows:
        raise FatalInputError(RULES["F002"], "", "the first sheet is empty")
    header = ["" if h is None else str(h) for h in rows[0]]
    width = len(header)
    body = [tuple(r[:width]) + (None,) * (width - len(r)) for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    return number_rows(frame)


def _read_parquet(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    frame = table.to_pandas()
    return number_rows(frame)


def _conform(
    name: str, source: str, frame: pd.DataFrame, digest: str, column_map: dict[str, str]
) -> RawExtract:
    """Rename, check required columns, drop unknown ones, and render every cell as text."""
    match = match_headers(name, list(frame.columns), column_map)
    if match.repeated:
        raise FatalInputError(
            RULES["F002"], source, f"column {', '.join(match.repeated)} appears twice"
        )
    if match.missing_required:
        raise FatalInputError(RULES["F003"], source, ", ".join(match.missing_required))
    by_header = {header: column for column, header in match.found.items()}
    positions = [i for i, header in enumerate(frame.columns) if str(header).strip() in by_header]
    picked = frame.iloc[:, positions]
    picked = picked.set_axis([by_header[str(h).strip()] for h in picked.columns], axis=1)
    keep = [c for c in MODELS[name].to_schema().columns if c in match.found]
    text = pd.DataFrame(
        {c: _clean_text(column_to_text(picked[c])) for c in keep}, index=frame.index
    )
    # Rows with nothing in them (trailing blank lines, blank sheet rows) are not records.
    text = text.loc[text.notna().any(axis=1)] if len(text.columns) else text
    return RawExtract(name=name, source=source, frame=text, sha256=digest, headers=match)


def _clean_text(values: pd.Series) -> pd.Series:
    stripped = values.astype("str").str.strip()
    return stripped.mask(stripped == "")
