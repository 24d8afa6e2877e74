"""The audit log ``OUT/audit.jsonl`` (spec section 8): one JSON object per line, appended when a
command ends, whatever the outcome, so that a council can prove what it ran and what it wrote.

A line holds when, who, which command on which census date(s) and council, the Prefect flow run
(when there was one), the outcome and exit code, the SHA-256 of every input extract, the name and
SHA-256 of every file written, and counts. Never a value from the data: no name, date of birth,
identifier, not even a family or person id. Free text is not recorded at all (an exception's
message can quote a value), only its type.

Appends are safe between processes: the file is opened with ``O_APPEND`` and each record is one
``os.write`` of one whole line, under an exclusive ``flock`` so that even a short write (a full
disk, a signal) is completed before anyone else writes. A line left incomplete by a crash is
ended before the next record, so it never swallows the next one. Earlier lines are never
rewritten. The file is 0600 and OUT is created 0700 when missing.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from exports.files import FILE_MODE, make_private_dir, sha256_file
from transforms.periods import INVALID_CENSUS, census_shape

try:  # POSIX: the account of a user id; elsewhere the login name is the best there is
    import pwd
except ImportError:  # pragma: no cover
    pwd = None  # type: ignore[assignment]

try:  # POSIX; elsewhere O_APPEND alone keeps whole lines apart
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

AUDIT_NAME = "audit.jsonl"

# Outcome of a command by exit code (a command may give a more precise one per period).
OUTCOMES = {0: "ok", 1: "failed", 2: "fatal"}


@dataclass
class AuditRecord:
    """What a command learned while it ran; filled in as it goes, appended when it ends."""

    command: str
    census: str | None = None  # one census date, or a range "C1/C2" (ISO 8601 interval)
    la_code: str | None = None
    flow_run_id: str | None = None
    outcome: str | None = None  # default: from the exit code (OUTCOMES), "crashed" on a bug
    exit_code: int | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)  # extract, source, sha256
    outputs: list[dict[str, Any]] = field(default_factory=list)  # name (under OUT), sha256
    counts: dict[str, int] = field(default_factory=dict)
    # Command-specific facts (periods of a backfill, folders a purge removed, where the key came
    # from ...): names, dates, codes and counts only.
    details: dict[str, Any] = field(default_factory=dict)

    def set_inputs(self, extract_counts: pd.DataFrame | list[Mapping[str, Any]]) -> None:
        """The input extracts (name, source file or table, SHA-256) from validation's counts or a
        manifest's ``input_extracts``; also adds up rows read, quarantined and warned."""
        rows = (
            extract_counts.to_dict("records")
            if isinstance(extract_counts, pd.DataFrame)
            else list(extract_counts)
        )
        self.inputs = [
            {"extract": str(r["extract"]), "source": str(r["source"]), "sha256": str(r["sha256"])}
            for r in rows
        ]
        for key, name in (
            ("rows_read", "rows_read"),
            ("quarantined", "rows_quarantined"),
            ("warned", "rows_warned"),
        ):
            values = [r.get(key) for r in rows]
            known = [int(v) for v in values if v is not None]
            if values and len(known) == len(values):
                self.counts[name] = sum(known)

    def add_output(
        self, out_root: Path, path: Path, sha256: str | None = None, **extra: Any
    ) -> None:
        """A file written under ``out_root``, named by its path under it."""
        digest = sha256 if sha256 is not None else sha256_file(path)
        self.outputs.append({"name": output_name(out_root, path), "sha256": digest, **extra})


def output_name(out_root: Path, path: Path) -> str:
    """``path`` relative to ``out_root`` when it is under it (``E08000012/2025-03-31/x.csv``),
    else as given."""
    # The last component is not resolved: a symbolic link is named as the link, not its target.
    where = Path(path).parent.resolve() / Path(path).name
    try:
        return where.relative_to(Path(out_root).resolve()).as_posix()
    except ValueError:
        return str(path)


def os_user() -> str:
    """The operating-system user running the command: the account of the process's user id.
    Not ``getpass.getuser()``, which takes LOGNAME or USER first: anyone can set those to
    another person's name for one command, and the audit log would believe it."""
    if pwd is not None:
        uid = os.getuid()
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:  # no passwd entry for this user id (some containers)
            return f"uid:{uid}"
    try:  # pragma: no cover - no user ids (Windows)
        return getpass.getuser()
    except Exception:  # pragma: no cover
        return "unknown"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def census_field(census: str | None) -> str | None:
    """The census as the line records it: a date, or a range of two (an ISO 8601 interval),
    each side kept only in a census date's shape (``transforms.periods.census_shape``); the
    scheduled run's "latest" (its date not yet known) as it is."""
    if census is None:
        return None
    parts = [p.strip() for p in census.split("/")]
    if len(parts) > 2:
        return INVALID_CENSUS
    return "/".join(p if p == "latest" else census_shape(p) for p in parts)


def audit_entry(record: AuditRecord, time: str, user: str) -> dict[str, Any]:
    """The JSON object of one line: fixed keys first, always present (null when unknown)."""
    code = record.exit_code
    outcome = record.outcome or OUTCOMES.get(code if code is not None else -1, "unknown")
    entry: dict[str, Any] = {
        "time": time,
        "user": user,
        "command": record.command,
        "census": census_field(record.census),
        "la_code": record.la_code,
        "flow_run_id": record.flow_run_id,
        "outcome": outcome,
        "exit_code": code,
        "inputs": record.inputs,
        "outputs": record.outputs,
        "counts": record.counts,
    }
    for key in sorted(record.details):
        if key not in entry:
            entry[key] = record.details[key]
    return entry


def audit_line(entry: Mapping[str, Any]) -> bytes:
    """One line of UTF-8 JSON ending in ``\\n`` (json escapes any line break inside a value)."""
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)
    return (text + "\n").encode("utf-8")


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte: a short write (a signal, a nearly full disk) is continued, never left
    as a cut line."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - os.write raises rather than return 0 on a file
            raise OSError("the audit log accepted no bytes")
        view = view[written:]


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def append_audit(
    out_root: Path, record: AuditRecord, *, time: str | None = None, user: str | None = None
) -> dict[str, Any]:
    """Append ``record`` as one line to ``out_root/audit.jsonl``; returns the object written.

    Raises OSError when the log cannot be written (the caller reports it: an unrecorded run is
    not a silent success).
    """
    if Path(out_root).is_symlink():
        # Never written through: a link could send the log (and what it proves) anywhere.
        raise OSError(errno.ELOOP, "the output folder is a symbolic link")
    entry = audit_entry(record, time or utc_now(), user or os_user())
    line = audit_line(entry)
    make_private_dir(Path(out_root))
    path = Path(out_root) / AUDIT_NAME
    # Read access only to look at the last byte; never through a symbolic link.
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        with contextlib.suppress(PermissionError):  # another owner's log: leave its mode
            os.fchmod(fd, FILE_MODE)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if not _ends_with_newline(fd):
            line = b"\n" + line  # a line cut by a crash stays as it is, but on its own
        _write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock
    return entry
