"""Retention: what ``nis purge --before D`` removes from OUT (spec section 8).

For every census date C before D, in each LA folder ``OUT/{la_code}/``, the files and folders the
pipeline makes for C, and nothing else:

- ``{C}/`` the census folder (submission, reports, research extracts, ``transfer/`` packages);
- ``{C}.replaced-<n>/`` folders kept beside it when a submission was replaced;
- ``{C}.failed-validation_report.xlsx``, the report of a failed rerun beside a finished folder;
- leftovers of C's runs: ``.{C}.partial-*`` folders, the ``.{C}.lock`` file and half-written
  temporary files ``.{C}.failed-validation_report.xlsx.*.tmp``;
- ``.{C}.purging-*`` folders: what a purge was removing when it was stopped.

A folder is first renamed out of the way (``.{C}.purging-{name}``: one step, so it is gone from
its name whole) and then removed, so a purge stopped part way (Ctrl-C, a full disk, a crash)
leaves no half-removed census folder that a run could take for the previous submission; the
next purge removes what it left.

Anything else (another name, a date that is not a census date, ``audit.jsonl``, any file outside
an LA folder) is never touched. A symbolic link is never followed and never removed: a linked LA
folder or census folder is reported as skipped, and links inside a removed folder are unlinked,
never deleted through (``shutil.rmtree`` removes a link, not what it points to).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from pathlib import Path

from exports.paths import reason
from exports.submission import REPORT_NAME, SubmissionBusyError, census_lock
from schemas.codes import LA_CODE_PATTERN
from transforms.periods import is_census

_DATE = r"(?P<census>\d{4}-\d{2}-\d{2})"
# What a purge renames a folder to before it removes it (``_remove``).
_PURGING = re.compile(rf"\.{_DATE}\.purging-.+")
# The names the pipeline gives to what it writes for a census date, and nothing else.
_CENSUS_NAMES = (
    re.compile(rf"{_DATE}"),
    re.compile(rf"{_DATE}\.replaced-\d+"),
    re.compile(rf"{_DATE}\.failed-{re.escape(REPORT_NAME)}"),
    re.compile(rf"\.{_DATE}\.partial-.+"),
    re.compile(rf"\.{_DATE}\.lock"),
    re.compile(rf"\.{_DATE}\.failed-{re.escape(REPORT_NAME)}\..+\.tmp"),
    _PURGING,
)


def census_of(name: str) -> date | None:
    """The census date a name in an LA folder belongs to, or None when it is not one the
    pipeline makes."""
    for pattern in _CENSUS_NAMES:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match.group("census"))
        except ValueError:
            return None
        return day if is_census(day) else None
    return None


@dataclass(frozen=True)
class PurgeItem:
    path: Path
    la_code: str
    census: date


@dataclass(frozen=True)
class PurgePlan:
    items: list[PurgeItem]  # by LA, census date, name
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # path, why it was left


@dataclass(frozen=True)
class PurgeResult:
    removed: list[PurgeItem]
    failed: list[tuple[Path, str]]  # path, why it could not be removed


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def plan_purge(out_root: Path, before: date, la_codes: Sequence[str] | None = None) -> PurgePlan:
    """What a purge of census dates before ``before`` removes under ``out_root``, for the LA
    folders ``la_codes`` (default: every LA folder there). Reads only; removes nothing."""
    root = Path(out_root)
    skipped: list[tuple[Path, str]] = []
    if not root.is_dir():
        return PurgePlan([], skipped)
    if la_codes is None:
        names = sorted(p.name for p in root.iterdir() if re.fullmatch(LA_CODE_PATTERN, p.name))
    else:
        names = sorted(set(la_codes))
    items: list[PurgeItem] = []
    for la in names:
        la_dir = root / la
        if la_dir.is_symlink():
            skipped.append((la_dir, "a symbolic link: not followed"))
            continue
        if not la_dir.is_dir() or not _inside(la_dir, root):
            continue
        for entry in sorted(la_dir.iterdir(), key=lambda p: p.name):
            census = census_of(entry.name)
            if census is None or census >= before:
                continue
            if entry.is_symlink():
                skipped.append((entry, "a symbolic link: not followed, not removed"))
                continue
            items.append(PurgeItem(entry, la, census))
    items.sort(key=lambda i: (i.la_code, i.census, i.path.name))
    return PurgePlan(items, skipped)


def _remove(item: PurgeItem) -> None:
    path = item.path
    if path.is_symlink():  # appeared since the plan: never delete through it
        raise OSError("it is now a symbolic link")
    if path.is_dir():
        doomed = path
        if not _PURGING.fullmatch(path.name):
            doomed = path.with_name(f".{item.census.isoformat()}.purging-{path.name}")
            path.rename(doomed)  # gone from its name whole, before anything in it is removed
        shutil.rmtree(doomed)
    elif path.exists():
        path.unlink()


def purge(out_root: Path, plan: PurgePlan) -> PurgeResult:
    """Remove what ``plan`` lists, one census date at a time under that census's lock (a run
    writing the same census makes the purge leave it, reported as failed)."""
    root = Path(out_root)
    removed: list[PurgeItem] = []
    failed: list[tuple[Path, str]] = []
    by_census = groupby(plan.items, key=lambda i: (i.la_code, i.census))
    for (la, census), group in by_census:
        items = list(group)
        la_dir = root / la
        if (la_dir / f".{census.isoformat()}.lock").is_symlink():  # taking it would follow it
            failed.extend((i.path, "its lock file is a symbolic link") for i in items)
            continue
        try:
            # The lock removes its file when released: none is left, even where taking it made it.
            with census_lock(la_dir, census.isoformat()):
                for item in items:
                    if not _inside(item.path.parent, root):
                        failed.append((item.path, "outside the output folder"))
                        continue
                    try:
                        _remove(item)
                    except OSError as exc:
                        failed.append((item.path, exc.strerror or str(exc)))
                    else:
                        removed.append(item)
        except SubmissionBusyError:
            failed.extend((i.path, "a run is writing this census date") for i in items)
        except OSError as exc:
            # The LA folder refused the lock file (read-only, another user's, a full disk):
            # what was not removed is named with the reason, like a path that refused removal,
            # rather than ending the purge on an exception.
            done = {i.path for i in removed} | {p for p, _ in failed}
            failed.extend((i.path, reason(exc)) for i in items if i.path not in done)
    return PurgeResult(removed, failed)
