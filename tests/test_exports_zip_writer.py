"""exports.zip_writer writes, byte for byte, what zipfile writes for the same members: the
differential test against the standard library, on hand-picked and generated members."""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports import zip_writer
from exports.zip_writer import DeflatedZip, Deflater, deflate_bytes

DATE = (1980, 1, 1, 0, 0, 0)


def _zipfile_bytes(members: list[tuple[str, bytes]], date=DATE) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o600 << 16
            info.file_size = len(data)
            with archive.open(info, "w") as member:
                member.write(data)
    return out.getvalue()


def _ours(members: list[tuple[str, bytes]], date=DATE, pieces: int = 1) -> bytes:
    out = io.BytesIO()
    archive = DeflatedZip(out, date, 0o600)
    for name, data in members:
        deflater = Deflater(io.BytesIO())
        step = max(1, len(data) // pieces)
        for start in range(0, len(data), step):
            deflater.write(data[start : start + step])
        archive.add(name, deflater.finish())
    archive.close()
    return out.getvalue()


def test_a_workbook_like_archive_is_byte_identical() -> None:
    rows = b"".join(
        b'<row r="%d"><c r="A%d" t="n"><v>%d</v></c></row>' % (i, i, i) for i in range(1, 20000)
    )
    members = [
        ("[Content_Types].xml", b"<Types/>"),
        ("docProps/core.xml", b"<cp:coreProperties/>" * 3),
        (
            "xl/worksheets/sheet1.xml",
            b"<worksheet><sheetData>" + rows + b"</sheetData></worksheet>",
        ),
        ("xl/empty.xml", b""),
        ("xl/\u00e9t\u00e9.xml", "caf\u00e9".encode()),  # a non-ASCII name: UTF-8 flag
    ]
    expected = _zipfile_bytes(members)
    assert _ours(members) == expected
    assert _ours(members, pieces=7) == expected  # fed in pieces: the same deflate stream
    with zipfile.ZipFile(io.BytesIO(expected)) as archive:
        assert archive.testzip() is None


def test_a_member_deflated_into_a_file_is_copied_from_it(tmp_path: Path) -> None:
    data = b"0123456789abcdef" * 50_000
    path = tmp_path / "member.deflate"
    with open(path, "wb") as out:
        deflater = Deflater(out)
        deflater.write(data)
        member = deflater.finish(path)
    assert member.stream == path and member.size == len(data)
    assert zlib.decompress(path.read_bytes(), -15) == data
    out = io.BytesIO()
    archive = DeflatedZip(out, DATE, 0o600)
    archive.add("big.xml", member)
    archive.add("small.xml", deflate_bytes(b"<x/>"))
    archive.close()
    assert out.getvalue() == _zipfile_bytes([("big.xml", data), ("small.xml", b"<x/>")])


def test_zip64_headers_come_under_zipfile_s_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    # zipfile's threshold lowered in both writers, so small members take the ZIP64 paths: a
    # member whose size * 1.05 passes it (local header), one above it (central directory too),
    # and headers beyond it (offset field, ZIP64 end records).
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
    monkeypatch.setattr(zip_writer, "ZIP64_LIMIT", 1000)
    members = [
        ("a.xml", b"x" * 500),
        ("b.xml", bytes(range(256)) * 4),  # 1,024 bytes, and it barely deflates
        ("c.xml", b"y" * 980),  # 980 * 1.05 > 1,000: ZIP64 in its local header only
        ("d.xml", b"<z/>"),
    ]
    assert _ours(members) == _zipfile_bytes(members)


@pytest.mark.parametrize("beyond", [-1, 0, 1])
def test_a_header_at_the_zip64_limit_takes_zipfile_s_side_of_it(
    monkeypatch: pytest.MonkeyPatch, beyond: int
) -> None:
    # The second member's header starts exactly at the limit, one byte short of it or one past
    # it: zipfile gives it an offset field only past it. The first member barely deflates, so
    # its own size * 1.05 stays under the limit and only the offset is at stake.
    first = ("a.xml", random.Random(7).randbytes(600))
    members = [first, ("b.xml", b"<z/>")]
    with zipfile.ZipFile(io.BytesIO(_zipfile_bytes(members))) as archive:
        at = archive.getinfo("b.xml").header_offset
    assert len(first[1]) * 1.05 <= at - 1
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", at - beyond)
    monkeypatch.setattr(zip_writer, "ZIP64_LIMIT", at - beyond)
    assert _ours(members) == _zipfile_bytes(members)


def test_more_members_than_the_end_record_counts_take_the_zip64_end_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    monkeypatch.setattr(zip_writer, "_FILECOUNT_LIMIT", 2)
    members = [(f"{name}.xml", b"<x/>") for name in "abc"]
    ours = _ours(members)
    assert ours == _zipfile_bytes(members)
    assert b"PK\x06\x06" in ours  # the ZIP64 end record is there


@settings(max_examples=40, deadline=None)
@given(
    members=st.lists(
        st.tuples(
            st.text(
                st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1, max_size=12
            ),
            st.binary(max_size=3000),
        ),
        max_size=5,
        unique_by=lambda m: m[0],
    ),
    date=st.tuples(
        st.integers(1980, 2107),
        st.integers(1, 12),
        st.integers(1, 28),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
    ),
    pieces=st.integers(1, 9),
)
def test_any_members_are_byte_identical(members, date, pieces) -> None:
    assert _ours(members, date, pieces) == _zipfile_bytes(members, date)
