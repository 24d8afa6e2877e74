"""Writing a submission folder ``OUT/{la_code}/{census}/`` safely (spec section 5).

- All files are built in a private sibling folder ``OUT/{la_code}/.{census}.partial-<random>``,
  each written atomically and fsynced, the manifest last; the folder is then renamed onto
  ``{census}`` in one step. A reader never sees a half-written submission: a census folder with a
  ``manifest.json`` is finished.
- A finished submission is never overwritten: the run stops with :class:`SubmissionExistsError`
  unless ``replace`` is given, and then the old folder is renamed ``{census}.replaced-<n>`` beside
  the new one (n = 1, 2, ... in the order they were replaced), never deleted.
- A census folder without a manifest is not a finished submission: it is the validation report of
  a run that failed its threshold (see :func:`write_failed_run_report`). A successful run takes its
  place; the old report is dropped, since the new folder holds a newer one. Anything else found in
  such a folder is kept, moved aside like a replaced submission.
- A run killed part-way leaves only a ``.{census}.partial-*`` folder (private, never mistaken for a
  submission); the next run for that census removes it. Runs for the same LA and census take an
  exclusive lock (``.{census}.lock``), so one never removes another's partial folder.
- Folders are 0700, files 0600. Nothing is written through a symbolic link (the output, LA and
  census folders and the lock file are refused when they are links), and a write the machine
  refuses (a full disk, a read-only folder) ends with :class:`exports.paths.WriteFailed`, one
  line naming the folder and the reason, with the partial folder removed (``exports.paths``).

Failed runs (exit 1) write only ``validation_report.xlsx``, into ``OUT/{la_code}/{census}/`` when
no finished submission is there, else beside it as ``{census}.failed-validation_report.xlsx``, so a
failed rerun never touches a finished submission.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from exports.csv_files import write_table_csv
from exports.files import fsync_dir, make_private_dir
from exports.manifest import MANIFEST_NAME, build_manifest, file_entry, write_manifest
from exports.paths import check_output_folders, explain_os_errors, open_lock
from exports.statistics import write_statistics_csv
from exports.tables import PreparedTables, prepare_tables
from exports.validation_report import findings_sheet_rows, write_validation_report
from exports.workbook import write_prepared_workbook
from schemas.codes import LA_CODE_PATTERN
from schemas.errors import PipelineError, UserInputError
from transforms.submission import SubmissionTables

try:  # POSIX; elsewhere runs are not protected from each other
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

REPORT_NAME = "validation_report.xlsx"


class SubmissionExistsError(FileExistsError):
    """The census folder already holds a finished submission and replacing was not asked for."""


class SubmissionBusyError(PipelineError, RuntimeError):
    """Another run is writing the same LA and census date."""


class BadLaCodeError(UserInputError, ValueError):
    """An LA code that is not one: it would name a folder outside OUT (``/``, ``..``)."""


@dataclass(frozen=True)
class SubmissionFiles:
    individuals: str
    fpd: str
    workbook: str
    statistics: str
    validation_report: str
    manifest: str


@dataclass(frozen=True)
class SubmissionResult:
    folder: Path
    files: list[str]  # names of the files written, in spec order, manifest last
    manifest: dict[str, Any]
    workbook_skipped_reason: str | None


def submission_files(la_code: str, census: date) -> SubmissionFiles:
    """The file names of spec section 5."""
    c = census.isoformat()
    return SubmissionFiles(
        individuals=f"nis_{la_code}_{c}_individuals.csv",
        fpd=f"nis_{la_code}_{c}_fpd.csv",
        workbook=f"nis_{la_code}_{c}.xlsx",
        statistics=f"statistics_{la_code}_{c}.csv",
        validation_report=REPORT_NAME,
        manifest=MANIFEST_NAME,
    )


def submission_folder(out_root: Path, la_code: str, census: date) -> Path:
    _check_la_code(la_code)
    return Path(out_root) / la_code / census.isoformat()


def is_finished(folder: Path) -> bool:
    return (folder / MANIFEST_NAME).is_file()


def _check_la_code(la_code: str) -> None:
    # Also keeps the folder name a plain name: no separators, no "..".
    if not re.fullmatch(LA_CODE_PATTERN, la_code):
        raise BadLaCodeError("la_code is not an ONS upper-tier authority code")


@contextmanager
def _census_lock(la_dir: Path, census_iso: str) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = open_lock(la_dir / f".{census_iso}.lock")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SubmissionBusyError(
                f"another run is writing {la_dir / census_iso}; try again when it has finished"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _refuse_finished(target: Path, replace: bool) -> None:
    if is_finished(target) and not replace:
        raise SubmissionExistsError(
            f"{target} already holds a finished submission; use --replace to write a new one "
            "(the old one is kept beside it)"
        )


def _remove_partials(la_dir: Path, census_iso: str) -> None:
    """Folders left by runs that were killed part-way."""
    for leftover in la_dir.glob(f".{census_iso}.partial-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)


def _next_aside(la_dir: Path, census_iso: str) -> Path:
    pattern = re.compile(re.escape(census_iso) + r"\.replaced-(\d+)")
    taken = [int(m.group(1)) for p in la_dir.iterdir() if (m := pattern.fullmatch(p.name))]
    return la_dir / f"{census_iso}.replaced-{max(taken, default=0) + 1}"


def _only_failed_report(folder: Path) -> bool:
    """True when ``folder`` holds nothing but a failed run's report (and our own temp files)."""
    return all(p.name == REPORT_NAME or p.name.startswith(".") for p in folder.iterdir())


def _move_into_place(partial: Path, target: Path, replace: bool) -> Path | None:
    """Rename ``partial`` onto ``target``; returns where an old finished folder went, if any."""
    la_dir = target.parent
    aside: Path | None = None
    if target.exists() or target.is_symlink():
        _refuse_finished(target, replace)
        if not is_finished(target) and target.is_dir() and _only_failed_report(target):
            shutil.rmtree(target)
        else:
            aside = _next_aside(la_dir, target.name)
            os.rename(target, aside)
    os.rename(partial, target)
    fsync_dir(la_dir)
    return aside


def _write_files(
    folder: Path,
    la_code: str,
    census: date,
    prepared: PreparedTables,
    statistics: pd.DataFrame,
    findings: pd.DataFrame,
    extract_counts: pd.DataFrame,
) -> tuple[list[str], dict[str, Any], str | None]:
    names = submission_files(la_code, census)
    entries: list[dict[str, Any]] = []
    not_written: list[dict[str, str]] = []

    write_table_csv(prepared.individuals, folder / names.individuals)
    entries.append(file_entry(folder / names.individuals, len(prepared.individuals)))
    write_table_csv(prepared.fpd, folder / names.fpd)
    entries.append(file_entry(folder / names.fpd, len(prepared.fpd)))

    reason = write_prepared_workbook(prepared, statistics, folder / names.workbook, la_code, census)
    if reason is None:
        sheets = {"Individuals": len(prepared.individuals), "FPD": len(prepared.fpd)}
        entries.append(file_entry(folder / names.workbook, sum(sheets.values()), sheets))
    else:
        not_written.append({"name": names.workbook, "reason": reason})

    stat_rows = write_statistics_csv(statistics, folder / names.statistics)
    entries.append(file_entry(folder / names.statistics, stat_rows))

    write_validation_report(findings, extract_counts, folder / names.validation_report)
    shown = findings_sheet_rows(len(findings))
    entries.append(file_entry(folder / names.validation_report, shown, {"Findings": shown}))

    manifest = build_manifest(
        la_code, census, entries, extract_counts, prepared.opted_out, not_written
    )
    write_manifest(manifest, folder / names.manifest)  # last: its presence marks a finished folder
    return [e["name"] for e in entries] + [names.manifest], manifest, reason


def _census_folder(out_root: Path, la_code: str, census: date, *args: Any, **kwargs: Any) -> Path:
    return Path(out_root) / la_code / census.isoformat()


@explain_os_errors(_census_folder)
def write_submission(
    out_root: Path,
    la_code: str,
    census: date,
    tables: SubmissionTables,
    statistics: pd.DataFrame,
    findings: pd.DataFrame,
    extract_counts: pd.DataFrame,
    replace: bool = False,
) -> SubmissionResult:
    """Write the submission of ``census`` into ``out_root/la_code/census/`` (see module notes).

    Raises :class:`SubmissionExistsError` when a finished submission is there and ``replace`` is
    false, before anything is written; :class:`exports.tables.SubmissionTableError` when a table
    breaks the output contract.
    """
    target = submission_folder(out_root, la_code, census)
    la_dir = target.parent
    check_output_folders(out_root, la_dir, target)
    _refuse_finished(target, replace)
    prepared = prepare_tables(tables, la_code, census)
    make_private_dir(la_dir)
    with _census_lock(la_dir, target.name):
        check_output_folders(out_root, la_dir, target)  # again, now that no other run moves them
        _refuse_finished(target, replace)
        _remove_partials(la_dir, target.name)
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=la_dir))
        try:
            files, manifest, reason = _write_files(
                partial, la_code, census, prepared, statistics, findings, extract_counts
            )
            fsync_dir(partial)
            _move_into_place(partial, target, replace)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return SubmissionResult(
        folder=target, files=files, manifest=manifest, workbook_skipped_reason=reason
    )


@explain_os_errors(_census_folder)
def write_failed_run_report(
    out_root: Path,
    la_code: str,
    census: date,
    findings: pd.DataFrame,
    counts: pd.DataFrame,
) -> Path:
    """Write only the validation report of a run that exceeded its threshold; returns its path.

    It goes to ``OUT/{la}/{census}/validation_report.xlsx`` when that folder holds no finished
    submission (the folder then has no manifest, so it is never taken for one), else beside the
    finished folder as ``OUT/{la}/{census}.failed-validation_report.xlsx``.
    """
    target = submission_folder(out_root, la_code, census)
    la_dir = target.parent
    check_output_folders(out_root, la_dir, target)
    make_private_dir(la_dir)
    with _census_lock(la_dir, target.name):
        check_output_folders(out_root, la_dir, target)
        if is_finished(target):
            path = la_dir / f"{target.name}.failed-{REPORT_NAME}"
        else:
            make_private_dir(target)
            path = target / REPORT_NAME
        write_validation_report(findings, counts, path)
    return path
