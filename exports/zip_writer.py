"""Zip archives whose members are deflated before they are written, each in any thread.

:mod:`zipfile` deflates a member as it is written, on the writing thread, one member after
another; a workbook's two big sheets then take their turns on one core. Here a member's data is
deflated first (``Deflater``: into a file or memory, on whichever thread makes the data, so two
members can be deflated at once) and the archive is then written from the deflated streams.

The bytes are exactly those of ``zipfile.ZipFile(path, "w", ZIP_DEFLATED, allowZip64=True)``
writing the same members to a seekable file through ``open(info, "w")`` (or ``writestr``), each
member's ``ZipInfo`` made as ``exports.excel`` makes them (a fixed date, Unix as the creating
system, mode 0600) and deflated at zlib's default level: the same local headers, ZIP64 extra
fields under the same conditions, central directory and end records. Deflating a stream does not
depend on how its input was cut into pieces (no flush is asked before the end), so the deflate
streams are zipfile's too. tests/test_exports_zip_writer.py compares the two byte for byte.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# zipfile's: a member above this size (or a header beyond this offset) needs ZIP64 fields, and a
# member whose uncompressed size times 1.05 exceeds it gets them in its local header.
ZIP64_LIMIT = (1 << 31) - 1
_FILECOUNT_LIMIT = (1 << 16) - 1
_DEFAULT_VERSION = 20
_ZIP64_VERSION = 45
_DEFLATED = 8
_UTF8_NAME = 0x800
_UNIX = 3
_COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class Deflated:
    """A member's data deflated: CRC-32 and sizes of the data, and where the stream is (a file,
    or the bytes themselves)."""

    crc: int
    size: int
    compressed_size: int
    stream: Path | bytes


class Deflater:
    """Deflates one member's data as it is written, as zipfile does, into ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._zlib = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self._crc = 0
        self._size = 0
        self._compressed = 0

    def write(self, data: bytes | memoryview) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._put(self._zlib.compress(data))

    def _put(self, stream: bytes) -> None:
        self._out.write(stream)
        self._compressed += len(stream)

    def finish(self, path: Path | None = None) -> Deflated:
        """End the stream: written to the file at ``path``, or (None) held in memory, where
        ``out`` must then be a ``BytesIO``."""
        self._put(self._zlib.flush())
        if path is None:
            assert isinstance(self._out, io.BytesIO)
            return Deflated(self._crc, self._size, self._compressed, self._out.getvalue())
        return Deflated(self._crc, self._size, self._compressed, path)


def deflate_bytes(data: bytes) -> Deflated:
    deflater = Deflater(io.BytesIO())
    deflater.write(data)
    return deflater.finish()


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    return hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day


@dataclass(frozen=True)
class _Written:
    name: bytes
    flags: int
    version: int
    member: Deflated
    offset: int


class DeflatedZip:
    """Writes an archive of deflated members to ``fp`` (see the module notes); ``close`` writes
    the central directory. Every member is dated ``date_time`` with mode ``mode``."""

    def __init__(
        self, fp: BinaryIO, date_time: tuple[int, int, int, int, int, int], mode: int
    ) -> None:
        self._fp = fp
        self._dos_time, self._dos_date = _dos_time(date_time)
        self._external_attr = mode << 16
        self._written: list[_Written] = []

    def add(self, name: str, member: Deflated) -> None:
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode("utf-8"), _UTF8_NAME
        offset = self._fp.tell()
        # zipfile's choice, made from the uncompressed size before the data is written.
        zip64 = member.size * 1.05 > ZIP64_LIMIT
        if not zip64 and (member.size > ZIP64_LIMIT or member.compressed_size > ZIP64_LIMIT):
            raise RuntimeError(f"{name}: too large for a zip member without ZIP64")
        extra = b""
        sizes = (member.compressed_size, member.size)
        version = _DEFAULT_VERSION
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, member.size, member.compressed_size)
            sizes = (0xFFFFFFFF, 0xFFFFFFFF)
            version = _ZIP64_VERSION
        header = struct.pack(
            "<4s2B4HL2L2H",
            b"PK\x03\x04",
            version,
            0,
            flags,
            _DEFLATED,
            self._dos_time,
            self._dos_date,
            member.crc,
            *sizes,
            len(encoded),
            len(extra),
        )
        self._fp.write(header + encoded + extra)
        if isinstance(member.stream, bytes):
            self._fp.write(member.stream)
        else:
            with open(member.stream, "rb") as stream:
                shutil.copyfileobj(stream, self._fp, _COPY_BUFFER)
        self._written.append(_Written(encoded, flags, version, member, offset))

    def close(self) -> None:
        start = self._fp.tell()
        for entry in self._written:
            member = entry.member
            fields: list[int] = []
            sizes = (member.compressed_size, member.size)
            if member.size > ZIP64_LIMIT or member.compressed_size > ZIP64_LIMIT:
                fields += [member.size, member.compressed_size]
                sizes = (0xFFFFFFFF, 0xFFFFFFFF)
            offset = entry.offset
            if offset > ZIP64_LIMIT:
                fields.append(offset)
                offset = 0xFFFFFFFF
            extra = b""
            version = entry.version
            if fields:
                extra = struct.pack("<HH" + "Q" * len(fields), 1, 8 * len(fields), *fields)
                version = _ZIP64_VERSION
            self._fp.write(
                struct.pack(
                    "<4s4B4HL2L5H2L",
                    b"PK\x01\x02",
                    version,
                    _UNIX,
                    version,
                    0,
                    entry.flags,
                    _DEFLATED,
                    self._dos_time,
                    self._dos_date,
                    member.crc,
                    *sizes,
                    len(entry.name),
                    len(extra),
                    0,
                    0,
                    0,
                    self._external_attr,
                    offset,
                )
                + entry.name
                + extra
            )
        end = self._fp.tell()
        count, size, offset = len(self._written), end - start, start
        if count > _FILECOUNT_LIMIT or offset > ZIP64_LIMIT or size > ZIP64_LIMIT:
            self._fp.write(
                struct.pack(
                    "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset
                )
            )
            self._fp.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1))
            count, size, offset = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(offset, 0xFFFFFFFF)
        self._fp.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0))
        self._fp.flush()
