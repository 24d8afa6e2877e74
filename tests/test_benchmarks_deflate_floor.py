"""benchmarks/deflate_floor.py: it measures the deflate of exactly the stored bytes, and says so
when a workbook was not deflated at zlib's default level (its floor would then be another's)."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _floor_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deflate_floor", ROOT / "benchmarks" / "deflate_floor.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = _floor_module()

# Sheet-like XML: compressible, but not so regular that every level gives the same bytes.
XML = b"".join(
    b'<row r="%d"><c t="inlineStr"><is><t>P%07d</t></is></c><c><v>%d</v></c></row>'
    % (i, (i * 7919) % 1_000_003, (i * 104729) % 997)
    for i in range(20_000)
)


def _archive(path: Path, level: int | None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", XML)
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("stored.bin", b"not deflated", compress_type=zipfile.ZIP_STORED)
    return path


def test_default_level_members_are_measured(tmp_path: Path) -> None:
    seconds, size = floor.deflate_seconds(_archive(tmp_path / "a.xlsx", None))
    assert size == len(XML) + len(b"<Types/>")  # the stored member is not counted
    assert seconds > 0


def test_another_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="sheet1.xml is not zlib's default deflate"):
        floor.deflate_seconds(_archive(tmp_path / "b.xlsx", 1))


def test_the_workbook_writer_deflates_at_the_default_level(tmp_path: Path) -> None:
    from exports.zip_writer import DeflatedZip, deflate_bytes

    path = tmp_path / "c.xlsx"
    with open(path, "wb") as out:
        archive = DeflatedZip(out, (1980, 1, 1, 0, 0, 0), 0o600)
        archive.add("xl/worksheets/sheet1.xml", deflate_bytes(XML))
        archive.close()
    assert floor.deflate_seconds(path)[1] == len(XML)


def test_prints_the_floor_against_three_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    la = tmp_path / "E08000012"
    for census in ("2025-09-30", "2026-03-31"):
        (la / census).mkdir(parents=True)
        _archive(la / census / f"nis_E08000012_{census}.xlsx", None)
    (la / "2026-03-31.replaced-1").mkdir()  # not a period of its own
    ticks = iter(range(100))  # each deflate of a member takes one tick, a quarter second
    monkeypatch.setattr(floor.time, "process_time", lambda: next(ticks) / 4)
    monkeypatch.setattr(
        sys, "argv", ["deflate_floor", str(la), "--run-seconds", "2", "--cores", "2"]
    )
    floor.main()
    out = capsys.readouterr().out
    # Two members deflated per workbook, two workbooks: 1.0 CPU-second, 0.5 s on two cores.
    assert "2025-09-30" in out and "2026-03-31" in out and "replaced" not in out
    assert "2 periods: 1.0 CPU-seconds of deflate, at least 0.5 s of wall time on 2 cores" in out
    assert "3 x one run = 6.0 s: the deflate floor takes 8% of it and leaves 5.5 s" in out
