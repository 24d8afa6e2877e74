"""The least time a backfill can take while every output byte stays the same (issue 13).

    .venv/bin/nis backfill --from 2020-09-30 --to 2026-03-31 --source /tmp/bench/e400k --out /tmp/bf
    .venv/bin/python benchmarks/deflate_floor.py /tmp/bf/E08000012 --run-seconds 31

Each period's workbook (``nis_{la}_{census}.xlsx``) holds its sheets deflated by zlib at its
default level. For every census folder under the given ``OUT/{la_code}`` this deflates each
member of the workbook again, checks the result is byte for byte what the archive holds (so the
floor is that of the very bytes written), and measures the CPU-seconds that took, one member at
a time on one core.

A backfill cannot take less wall time than its periods' deflating divided by the cores
(``--cores``, default all of this machine's): deflate is one stream per member, and the
stream's bytes depend on everything before them, so a member cannot be split across cores
without changing its bytes. With ``--run-seconds`` (one ``nis run`` of the last census date,
measured beside it), it prints how much of issue 13's target of 3 x one run that floor takes,
and what it leaves for everything else the backfill does (start-up, reading and validating,
and each period's compute, CSV and XML text, hashing and the other files).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
import zipfile
import zlib
from pathlib import Path

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header (APPNOTE 4.3.7)


def _stored_deflate(archive: Path, member: zipfile.ZipInfo) -> bytes:
    """The member's compressed bytes as the archive holds them."""
    with open(archive, "rb") as f:
        f.seek(member.header_offset)
        header = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
        name_length, extra_length = header[-2], header[-1]
        f.seek(name_length + extra_length, os.SEEK_CUR)
        return f.read(member.compress_size)


def deflate_seconds(archive: Path) -> tuple[float, int]:
    """CPU-seconds to deflate every deflated member of ``archive`` again, and its XML bytes.
    Raises SystemExit when a member's stored bytes are not zlib's default-level deflate."""
    seconds, size = 0.0, 0
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            if member.compress_type != zipfile.ZIP_DEFLATED:
                continue
            data = zf.read(member)
            start = time.process_time()
            engine = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            again = engine.compress(data) + engine.flush()
            seconds += time.process_time() - start
            size += len(data)
            if again != _stored_deflate(archive, member):
                raise SystemExit(f"{archive.name}: {member.filename} is not zlib's default deflate")
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("la_folder", type=Path, help="OUT/{la_code} of a backfill")
    parser.add_argument("--run-seconds", type=float, help="one nis run of the last census date")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    la = args.la_folder.name
    periods = sorted(p for p in args.la_folder.iterdir() if p.is_dir() and p.name[:2] == "20")
    periods = [p for p in periods if "." not in p.name]  # not .replaced-N or partial folders
    if len(periods) < 2:
        sys.exit(f"{args.la_folder} holds fewer than two census folders")
    print(f"{'census':12} {'sheet XML MB':>12} {'deflate CPU-s':>14}")
    total = 0.0
    for folder in periods:
        seconds, size = deflate_seconds(folder / f"nis_{la}_{folder.name}.xlsx")
        print(f"{folder.name:12} {size / 1e6:12.0f} {seconds:14.2f}")
        total += seconds
    floor = total / args.cores
    print(
        f"{len(periods)} periods: {total:.1f} CPU-seconds of deflate, "
        f"at least {floor:.1f} s of wall time on {args.cores} cores"
    )
    if args.run_seconds:
        allowed = 3 * args.run_seconds
        print(
            f"3 x one run = {allowed:.1f} s: the deflate floor takes {floor / allowed:.0%} of it "
            f"and leaves {allowed - floor:.1f} s for everything else"
        )


if __name__ == "__main__":
    main()
