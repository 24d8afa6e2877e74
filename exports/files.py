"""Private, atomic file writing shared by every exporter.

Submission files hold personal data, so everything is created readable by its owner only (files
0600, folders 0700) whatever the umask, and a file appears under its final name only once it is
complete and on disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames are durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700 folders; existing folders are left as they are,
    except that a folder this call creates is always 0700 whatever the umask."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a private temporary path beside ``path``. On success it is fsynced and renamed onto
    ``path``; on failure it is removed. ``path`` is the old file or the complete new one."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, FILE_MODE)
        yield tmp
        os.chmod(tmp, FILE_MODE)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# Big blocks: reading and hashing release the GIL, and each block takes it back once. While the
# reading threads of a run from workbooks held it for long scans of a sheet's XML, an interrupted
# run took seconds to hash its sources for the audit line in 1 MiB blocks.
_HASH_BLOCK = 16 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
