"""The xlsx writer (exports/excel.py) on its own: pinned bytes, the zip's fixed metadata, the
optional autofilter, bounded memory, cleanup, and no use of openpyxl's private internals.

Golden hashes
-------------
``GOLDEN`` pins the SHA-256 of files built from fixed synthetic inputs, so that a change to the
writer (or an openpyxl / zlib upgrade) that changes the saved bytes is noticed: the manifest
publishes these hashes and promises the same inputs give the same bytes.

- ``writer``: a workbook built here through excel's functions only; it changes only when the
  writer does.
- ``submission`` / ``random60`` / ``report``: the submission workbook and the validation report
  from tests/exports_builders.py. These also change when their content does (the data dictionary
  from schemas.outputs, the rule catalogue's messages, the builders), not only the writer.

To refresh them deliberately: find out why the bytes changed (the failure message gives the new
hash; unzip both files and diff the parts), make sure the other exports tests still pass and the
file opens in Excel or LibreOffice, then replace the hash here in the same commit as the change
and say why in its message. ``CONTENT`` pins the same files' uncompressed parts and zip metadata:
when only a ``GOLDEN`` hash fails, the parts are the same and only the compression differs (a
different zlib).
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import io
import os
import re
import stat
import tempfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from exports_builders import (
    LA,
    PERIOD,
    random_tables,
    sample_counts,
    sample_findings,
    sample_tables,
    statistics_of,
)

from exports import excel, zip_writer
from exports.tables import prepare_tables
from exports.validation_report import write_validation_report
from exports.workbook import write_prepared_workbook

ROOT = Path(__file__).resolve().parents[1]

# zlib the GOLDEN hashes were recorded with; compressed bytes may differ under another zlib.
GOLDEN_ZLIB = "1.2.13"
GOLDEN = {
    "writer": "0360d5ac6d96df6e84104dd9548ff4e8f2717e151c5ffe3ad7aae6362e850f19",
    "submission": "8a5482e3c03b67d02c36bc5f2a369280be8527884804cb3e12cbe05bcf10ee7f",
    "random60": "01ba532376bf21eee1b982cf59a8a269c4ce5aee0b1538769f9101ba655d80a6",
    "report": "47db4a9ecb5c71e8f3902af183a50a60ffc8fda91b56c8f6eb54dd499fb20c8e",
}
CONTENT = {
    "writer": "c22515567596c777f19fb75aad07658fd3df3c6d7984146f00a9c3ffe49ad81e",
    "submission": "a69e0ac26a01dc97bb90fc63a78da8b488e5026c621e97c7b129fc86cb628ffc",
    "random60": "39f22e13f7f6c872880f3920bcc4289cf7b9a525050caad24b1f6ecbef54c2ef",
    "report": "1cfdfe1839ecb3290da2160715aaf30d607e30e92120f10762efb4715f16ad65",
}


def writer_frame() -> pd.DataFrame:
    """Every kind of cell the table writer makes, with the awkward values."""
    return pd.DataFrame(
        {
            "text": pd.Series(
                ["plain", "=SUM(A1)", "#N/A", " pad ", "a&b<c>", "bell\x07", "Zoë", None],
                dtype="str",
            ),
            "count": pd.Series([1, 0, -3, None, 10**12, 7, 8, 9], dtype="Int64"),
            "pct": pd.Series([92.3, 100.0, None, 0.1, 1e-05, 2.5, 0.0, 33.3], dtype="Float64"),
            "flag": pd.Series([True, False, True, False, True, False, True, False]),
            "when": pd.Series(
                pd.to_datetime(
                    [
                        "2025-09-30",
                        "1900-02-28",
                        "1900-03-01",
                        None,
                        "2012-05-01",
                        "1999-12-31",
                        "2024-02-29",
                        "2000-01-01",
                    ]  # fmt: skip
                ),
                dtype="datetime64[ns]",
            ),
        }
    )


def write_writer_book(path: Path) -> None:
    """A workbook using every public function of the writer: two table sheets (one filtered) and
    a small hand-made sheet."""
    df = writer_frame()
    with excel.streaming_workbook(path) as book:
        excel.write_frame_sheet(book, "Table", df)
        ws = book.sheet("Notes", ["item", "value"], [20, 30], freeze=False)
        ws.append(["census", excel.safe_value(ws, dt.date(2025, 9, 30))])
        ws.append(["formula-like", excel.safe_value(ws, "=1+1")])
        ws.append([])
        ws.append(excel.bold_row(ws, ["a small table"]))
        excel.append_frame(ws, df.iloc[:3])
        excel.write_frame_sheet(book, "Filtered", df, autofilter=True)
        book.save(path)


def _build(name: str, folder: Path) -> Path:
    path = folder / f"{name}.xlsx"
    if name == "writer":
        write_writer_book(path)
    elif name == "report":
        write_validation_report(sample_findings(), sample_counts(), path)
    else:
        tables = sample_tables() if name == "submission" else random_tables(60, seed=4)
        prepared = prepare_tables(tables, LA, PERIOD)
        assert write_prepared_workbook(prepared, statistics_of(tables), path, LA, PERIOD) is None
    return path


def _content_digest(path: Path) -> str:
    """The zip's entries in order, with their metadata and uncompressed bytes."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            meta = (info.filename, info.date_time, info.create_system, info.external_attr)
            digest.update(repr(meta).encode() + b"\0" + z.read(info) + b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("golden")
    return {name: _build(name, folder) for name in GOLDEN}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_content(built, name):
    got = _content_digest(built[name])
    assert got == CONTENT[name], f"{name}: parts changed, content digest now {got} (see top)"


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_bytes(built, name):
    if zlib.ZLIB_RUNTIME_VERSION != GOLDEN_ZLIB:
        pytest.skip(f"hashes recorded with zlib {GOLDEN_ZLIB}, running {zlib.ZLIB_RUNTIME_VERSION}")
    got = hashlib.sha256(built[name].read_bytes()).hexdigest()
    assert got == GOLDEN[name], f"{name}: bytes changed, SHA-256 now {got} (see top)"


def test_building_twice_gives_the_same_bytes(tmp_path, built):
    (tmp_path / "again").mkdir()
    for name in ("writer", "report"):
        assert _build(name, tmp_path / "again").read_bytes() == built[name].read_bytes()


@pytest.mark.parametrize("name", list(GOLDEN))
def test_zip_entries_carry_fixed_metadata(built, name):
    with zipfile.ZipFile(built[name]) as z:
        infos = z.infolist()
        core = z.read("docProps/core.xml").decode()
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.create_system for i in infos} == {3}
    assert {stat.S_IMODE(i.external_attr >> 16) for i in infos} == {0o600}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    names = [i.filename for i in infos]
    assert names[:3] == ["docProps/app.xml", "docProps/core.xml", "xl/theme/theme1.xml"]
    assert names[-1] == "[Content_Types].xml"
    stamps = re.findall(r"<dcterms:(created|modified)[^>]*>([^<]*)<", core)
    assert stamps == [("created", "2000-01-01T00:00:00Z"), ("modified", "2000-01-01T00:00:00Z")]
    assert "<dc:creator>nis-pipeline</dc:creator>" in core


def test_writer_cells_read_back(built):
    wb = openpyxl.load_workbook(built["writer"])
    assert wb.sheetnames == ["Table", "Notes", "Filtered"]
    rows = list(wb["Table"].iter_rows(values_only=True))
    assert rows[0] == ("text", "count", "pct", "flag", "when")
    assert [r[0] for r in rows[1:]] == ["plain", "=SUM(A1)", "#N/A", " pad ", "a&b<c>", "bell",
                                        "Zoë", None]  # fmt: skip
    assert [r[1] for r in rows[1:]] == [1, 0, -3, None, 10**12, 7, 8, 9]
    assert [r[2] for r in rows[1:]] == [92.3, 100.0, None, 0.1, 1e-05, 2.5, 0.0, 33.3]
    assert [r[3] for r in rows[1:]] == [1, 0, 1, 0, 1, 0, 1, 0]
    # 1900-02-28 and 1900-03-01 are serials 59 and 61: Excel counts a 29 February 1900.
    assert [r[4] for r in rows[1:]] == [
        dt.datetime(2025, 9, 30), dt.datetime(1900, 2, 28), dt.datetime(1900, 3, 1), None,
        dt.datetime(2012, 5, 1), dt.datetime(1999, 12, 31), dt.datetime(2024, 2, 29),
        dt.datetime(2000, 1, 1),
    ]  # fmt: skip
    table = wb["Table"]
    assert table["A3"].data_type == "s" and table["A4"].data_type == "s"
    assert table["E2"].number_format == "yyyy-mm-dd"
    assert table.freeze_panes == "A2" and all(c.font.b for c in table[1])
    notes = list(wb["Notes"].iter_rows(values_only=True))
    assert notes[1][:2] == ("census", dt.datetime(2025, 9, 30))
    assert notes[2][:2] == ("formula-like", "=1+1") and wb["Notes"]["B3"].data_type == "s"
    assert notes[4][0] == "a small table" and wb["Notes"]["A5"].font.b
    assert [r[0] for r in notes[5:]] == ["plain", "=SUM(A1)", "#N/A"]
    assert wb["Notes"]["A7"].data_type == "s"
    assert wb["Notes"].freeze_panes is None


def test_autofilter_is_off_unless_asked_and_covers_the_spliced_rows(built):
    wb = openpyxl.load_workbook(built["writer"])
    assert wb["Table"].auto_filter.ref is None
    assert wb["Filtered"].auto_filter.ref == "A1:E9"  # header + the 8 spliced rows
    with zipfile.ZipFile(built["writer"]) as z:
        filtered = z.read("xl/worksheets/sheet3.xml").decode()
        workbook = z.read("xl/workbook.xml").decode()
    # Excel wants the filter after the rows, and the hidden name that marks its range.
    assert filtered.index("</sheetData>") < filtered.index('<autoFilter ref="A1:E9"')
    assert "'Filtered'!$A$1:$E$9" in workbook or "Filtered!$A$1:$E$9" in workbook
    # The submission workbook has none; the validation report filters its findings only.
    with zipfile.ZipFile(built["submission"]) as z:
        parts = [p for p in z.namelist() if p.startswith("xl/worksheets/")]
        assert not any(b"autoFilter" in z.read(p) for p in parts)
        assert b"_FilterDatabase" not in z.read("xl/workbook.xml")
    report = openpyxl.load_workbook(built["report"])
    assert report["Summary"].auto_filter.ref is None
    findings = report["Findings"]
    assert findings.auto_filter.ref == f"A1:H{findings.max_row}" and findings.max_row > 2


def test_autofilter_on_an_empty_table_covers_the_header(tmp_path):
    path = tmp_path / "empty.xlsx"
    with excel.streaming_workbook(path) as book:
        book.table_sheet("Empty", writer_frame().iloc[:0], autofilter=True)
        book.save(path)
    ws = openpyxl.load_workbook(path)["Empty"]
    assert ws.auto_filter.ref == "A1:E1"
    assert list(ws.iter_rows(values_only=True)) == [("text", "count", "pct", "flag", "when")]


def _package(workbook_xml: str, rels_xml: str) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("xl/workbook.xml", workbook_xml)
        z.writestr("xl/_rels/workbook.xml.rels", rels_xml)
    return zipfile.ZipFile(buffer)


def test_sheet_parts_follow_the_workbook_relationships():
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    r = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    workbook = (
        f'<workbook xmlns="{main}" xmlns:r="{r}"><sheets>'
        '<sheet name="B &amp; C" sheetId="1" r:id="rId7"/>'
        '<sheet name="A" sheetId="2" r:id="rId2"/></sheets></workbook>'
    )
    rels = (
        f'<Relationships xmlns="{pkg}">'
        '<Relationship Id="rId2" Target="/xl/worksheets/sheet9.xml" Type="x"/>'
        '<Relationship Id="rId7" Target="worksheets/../worksheets/sheet1.xml" Type="x"/>'
        "</Relationships>"
    )
    assert excel.sheet_parts(_package(workbook, rels)) == {
        "B & C": "xl/worksheets/sheet1.xml",
        "A": "xl/worksheets/sheet9.xml",
    }


def test_scratch_is_private_and_removed_however_the_save_ends(tmp_path, monkeypatch):
    # openpyxl's own per-sheet files go to the system temp folder: watch a private one instead.
    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    out = tmp_path / "out"
    out.mkdir()
    path = out / "book.xlsx"
    big = pd.DataFrame({"name": pd.Series([f"Child{i:05d}" for i in range(3000)], dtype="str")})
    seen: dict[str, object] = {}
    add = excel.DeflatedZip.add

    def look_then_stop(archive, name, member):
        if not isinstance(member.stream, Path):
            return add(archive, name, member)
        # The table sheet, deflated into the scratch folder, is being written into the archive.
        scratch = next(p for p in out.iterdir() if p.is_dir())
        seen["scratch_mode"] = stat.S_IMODE(scratch.stat().st_mode)
        seen["bodies"] = b"".join(zlib.decompress(p.read_bytes(), -15) for p in scratch.iterdir())
        seen["openpyxl"] = b"".join(p.read_bytes() for p in system_temp.iterdir())
        raise RuntimeError("stop")

    monkeypatch.setattr(excel.DeflatedZip, "add", look_then_stop)
    with pytest.raises(RuntimeError, match="stop"), excel.streaming_workbook(path) as book:
        book.table_sheet("People", big)
        ws = book.sheet("Summary", ["item"], [10])
        ws.append(["rows", 3000])
        book.save(path)
    assert seen["scratch_mode"] == 0o700
    assert b"Child02999" in seen["bodies"]  # the rows go through the scratch folder...
    assert b"Child" not in seen["openpyxl"]  # ...never through openpyxl's files
    assert os.listdir(out) == [] and os.listdir(system_temp) == []

    monkeypatch.setattr(excel.DeflatedZip, "add", add)
    with excel.streaming_workbook(path) as book:
        book.table_sheet("People", big)
        book.save(path)
    assert os.listdir(out) == ["book.xlsx"] and os.listdir(system_temp) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _memory_frame(n: int) -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame(
        {
            "id": pd.Series(i).astype("str").radd("P"),
            "name": pd.Series(np.where(i % 7 == 0, None, "Ann & <Co>"), dtype="str"),
            "n": pd.Series(i % 13, dtype="Int64"),
            "pct": pd.Series((i % 1000) / 10.0, dtype="Float64"),
            "when": pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(i % 900, "D")),
        }
    )


def _peak_bytes(n: int, folder: Path) -> tuple[int, int]:
    """Peak Python heap and peak Arrow memory while writing a table of ``n`` rows."""
    df = _memory_frame(n)  # the input itself is not the writer's to count
    path = folder / f"rows-{n}.xlsx"
    default = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(default)
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        with excel.streaming_workbook(path) as book:
            book.table_sheet("Rows", df)
            book.save(path)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(default)
    with zipfile.ZipFile(path) as z:
        assert z.read("xl/worksheets/sheet1.xml").count(b"<row ") == n + 1
    return python_peak, pool.max_memory()


def test_peak_memory_does_not_grow_with_rows(tmp_path, monkeypatch):
    # Small chunks and copy buffer keep the test fast under tracemalloc. At the real sizes
    # (50,000-row chunks, 1 MiB copy buffer) the same frame measured (2 cores, one-off,
    # _peak_bytes): 50,000 rows 25.8 MiB Python heap / 26.0 MiB Arrow; 200,000 rows 26.6 / 26.8
    # MiB; 800,000 rows 26.7 / 26.8 MiB. The peak follows the chunk size and the number of
    # columns, not the rows.
    monkeypatch.setattr(excel, "_CHUNK_ROWS", 500)
    monkeypatch.setattr(zip_writer, "_COPY_BUFFER", 64 * 1024)
    # Both tables span more chunks than can be in flight at once (made ahead, being made, being
    # deflated), so both can reach the same peak; how close each run comes to it depends on
    # thread timing (up to 256 KiB of Python heap and half a megabyte of Arrow memory apart under
    # load), so the lowest peak of the large table is held to the highest of the small one.
    small = [_peak_bytes(4_000, tmp_path) for _ in range(3)]
    large = [_peak_bytes(40_000, tmp_path) for _ in range(2)]  # ten times the rows
    # Growing with the rows would be megabytes: 40,000 rows are 4.8 MB of XML, and a copy of
    # one column's values or lengths as long as the table (the column widths once made one)
    # is 0.6 MiB of Arrow memory more at 40,000 rows than at 4,000.
    for kind in (0, 1):  # the Python heap, then Arrow's memory
        lowest_large = min(peaks[kind] for peaks in large)
        highest_small = max(peaks[kind] for peaks in small)
        assert lowest_large <= 1.2 * highest_small + 256 * 1024, (small, large)


# ------------------------------------------------------------------------------------------------
# No private openpyxl internals anywhere in the packages.

PACKAGES = ["nis_pipeline", "flows", "schemas", "transforms", "exports", "extracts", "synth"]
FORBIDDEN_NAMES = {"ALL_TEMP_FILES", "WorksheetWriter", "ExcelWriter"}


def _openpyxl_private_names() -> set[str]:
    """Names starting with ``_`` that openpyxl defines or uses on its objects."""
    names: set[str] = set()
    for source in Path(openpyxl.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Name):
                name = node.id
            if name and name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return names


def _dotted(node: ast.AST) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return parts[::-1]


def private_openpyxl_uses(source: str, private: set[str]) -> list[str]:
    """Each use in ``source`` of a private openpyxl module or name, or of the forbidden names."""
    found = []
    aliases = {"openpyxl"}

    def bad(part: str) -> bool:
        return (part.startswith("_") and not part.startswith("__")) or part in FORBIDDEN_NAMES

    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "openpyxl":
                    aliases.add(alias.asname or "openpyxl")
                    if any(bad(p) for p in alias.name.split(".")):
                        found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "openpyxl":
            module = node.module or ""
            for alias in node.names:
                if any(bad(p) for p in [*module.split("."), alias.name]):
                    found.append(f"{where}: from {module} import {alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{where}: {node.id}")
        elif isinstance(node, ast.Attribute):
            chain = _dotted(node)
            owner = chain[0] if chain else ""
            if chain and owner in aliases and any(bad(p) for p in chain[1:]):
                found.append(f"{where}: {'.'.join(chain)}")
            elif node.attr in private and owner not in ("self", "cls"):
                found.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Call):
            # getattr(ws, "_writer"), importlib.import_module("openpyxl.worksheet._writer")
            func = (_dotted(node.func) or [""])[-1]
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            for text in texts if func in ("getattr", "setattr", "hasattr", "import_module") else []:
                if isinstance(text, str) and (
                    text in private or (text.startswith("openpyxl") and "._" in text)
                ):
                    found.append(f"{where}: {func}({text!r})")
    return found


@pytest.fixture(scope="module")
def openpyxl_private() -> set[str]:
    return _openpyxl_private_names()


@pytest.mark.parametrize(
    "snippet",
    [
        "from openpyxl.worksheet._writer import WorksheetWriter",
        "from openpyxl.worksheet._write_only import WriteOnlyWorksheet",
        "import openpyxl.worksheet._writer as w",
        "from openpyxl.writer.excel import ExcelWriter",
        "from openpyxl.worksheet import _writer",
        "ALL_TEMP_FILES.append(name)",
        "ws._writer.write_top()",
        "x = openpyxl.worksheet._writer",
        "getattr(ws, '_writer')",
        "importlib.import_module('openpyxl.worksheet._writer')",
    ],
)
def test_the_private_name_check_catches(snippet, openpyxl_private):
    assert private_openpyxl_uses(snippet, openpyxl_private)


def test_the_private_name_check_lets_public_use_and_own_privates_pass(openpyxl_private):
    ok = (
        "from openpyxl import Workbook\nfrom openpyxl.cell import WriteOnlyCell\n"
        "import openpyxl\nwb = openpyxl.Workbook(write_only=True)\nself._writer = 1\n"
        "_BOLD = 1\nws.auto_filter.ref = 'A1:B2'\n"
    )
    assert private_openpyxl_uses(ok, openpyxl_private) == []


def test_no_package_uses_private_openpyxl_internals(openpyxl_private):
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            uses = private_openpyxl_uses(path.read_text(encoding="utf-8"), openpyxl_private)
            if uses:
                found[str(path.relative_to(ROOT))] = uses
    assert found == {}
