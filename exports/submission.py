"""Writing a submission folder ``OUT/{la_code}/{census}/`` safely (spec sections 5 and 6).

The folder holds the files of section 5 and the changes file of section 6 (internal, like the
validation report); the manifest marks both internal files so.

- All files are built in a private sibling folder ``OUT/{la_code}/.{census}.partial-<random>``,
  each written atomically and fsynced, the manifest last; the folder is then renamed onto
  ``{census}`` in one step. A reader never sees a half-written submission: a census folder with a
  ``manifest.json`` is finished.
- A finished submission is never overwritten: the run stops with :class:`SubmissionExistsError`
  unless ``replace`` is given, and then the old folder is renamed ``{census}.replaced-<n>`` beside
  the new one (n = 1, 2, ... in the order they were replaced), never deleted.
- A census folder without a manifest is not a finished submission: it is the validation report of
  a run that failed its threshold (see :func:`write_failed_run_report`), or of research extracts
  made before the first run. A successful run takes its place; the old report is dropped, since the
  new folder holds a newer one. Anything else found in such a folder is kept, moved aside like a
  replaced submission.
- Research extracts (``research_*.csv``, spec section 7) belong to the census folder, not to the
  submission: whenever a run moves a new submission into place, those in the old folder are
  carried into the new one, never dropped or left behind.
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

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from exports.census_files import carry_research_files, is_research_file
from exports.csv_files import write_table_csv
from exports.files import fsync_dir, make_private_dir
from exports.manifest import (
    MANIFEST_NAME,
    PreviousReference,
    build_manifest,
    file_entry,
    write_manifest,
)
from exports.paths import check_output_folders, explain_os_errors, open_lock
from exports.priority import in_background
from exports.statistics import write_statistics_csv
from exports.tables import PreparedTables, prepare_changes, prepare_tables
from exports.validation_report import (
    ReportContext,
    findings_sheet_rows,
    write_validation_report,
)
from exports.workbook import write_prepared_workbook
from schemas.codes import LA_CODE_PATTERN
from schemas.errors import PipelineError, UserInputError
from transforms.periods import Period
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
    changes: str
    manifest: str


@dataclass(frozen=True)
class SubmissionResult:
    folder: Path
    files: list[str]  # names of the files written, in spec order, manifest last
    manifest: dict[str, Any]
    workbook_skipped_reason: str | None
    kept_aside: Path | None = None  # where the folder that was in the way went, to be said


def submission_files(la_code: str, period: Period) -> SubmissionFiles:
    """The file names of spec sections 5 and 6."""
    c = period.label
    return SubmissionFiles(
        individuals=f"nis_{la_code}_{c}_individuals.csv",
        fpd=f"nis_{la_code}_{c}_fpd.csv",
        workbook=f"nis_{la_code}_{c}.xlsx",
        statistics=f"statistics_{la_code}_{c}.csv",
        validation_report=REPORT_NAME,
        changes=f"changes_{la_code}_{c}.csv",
        manifest=MANIFEST_NAME,
    )


def submission_folder(out_root: Path, la_code: str, period: Period) -> Path:
    _check_la_code(la_code)
    return Path(out_root) / la_code / period.label


def is_finished(folder: Path) -> bool:
    return (folder / MANIFEST_NAME).is_file()


def _check_la_code(la_code: str) -> None:
    # Also keeps the folder name a plain name: no separators, no "..".
    if not re.fullmatch(LA_CODE_PATTERN, la_code):
        raise BadLaCodeError("la_code is not an ONS upper-tier authority code")


@contextmanager
def census_lock(la_dir: Path, census_iso: str) -> Iterator[None]:
    """Hold ``.{census}.lock`` in ``la_dir`` for the length of the block, or raise
    :class:`SubmissionBusyError` at once when another run holds it. The file is removed when
    the block ends, so no lock file is left behind."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = la_dir / f".{census_iso}.lock"
    while True:
        fd = open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SubmissionBusyError(
                f"another run is writing {la_dir / census_iso}; try again when it has finished"
            ) from None
        # The run before may have removed the file between our opening and our lock: a lock on
        # a file no longer at the path guards nothing, so start again on the path's own file.
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding it, so no one locks a file about to go
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
    """True when ``folder`` holds nothing but a failed run's report, research extracts (which a
    run carries over) and our own temp files."""
    return all(
        p.name == REPORT_NAME or is_research_file(p.name) or p.name.startswith(".")
        for p in folder.iterdir()
    )


def _move_into_place(partial: Path, target: Path, replace: bool) -> Path | None:
    """Rename ``partial`` onto ``target``; returns where an old folder went, if it was kept.

    Research extracts in the old folder are carried into the new one: they are made by their
    own command for the census, not by the run. The old folder is renamed aside before anything
    moves out of it, so a run killed part-way leaves each file either in the census folder or in
    ``{census}.replaced-<n>``, never only in a private folder a later run removes.
    """
    la_dir = target.parent
    aside: Path | None = None
    drop_aside = False
    if target.exists() or target.is_symlink():
        _refuse_finished(target, replace)
        drop_aside = (
            not is_finished(target)
            and target.is_dir()
            and not target.is_symlink()
            and _only_failed_report(target)
        )
        aside = _next_aside(la_dir, target.name)
        os.rename(target, aside)
    os.rename(partial, target)
    fsync_dir(la_dir)
    if aside is not None:
        carry_research_files(aside, target)
        left = [p.name for p in aside.iterdir()] if drop_aside else []
        if drop_aside and all(name == REPORT_NAME or name.startswith(".") for name in left):
            # Only a failed run's report is left: the new folder carries a newer one.
            shutil.rmtree(aside)
            fsync_dir(la_dir)
            aside = None
    return aside


def _write_table_csvs(
    folder: Path, names: SubmissionFiles, prepared: PreparedTables
) -> list[dict[str, Any]]:
    """The two table CSVs and their manifest entries (hashed here too, off the main thread), in
    the time the workbook's biggest sheet leaves (``exports.priority``)."""
    in_background()
    write_table_csv(prepared.individuals, folder / names.individuals)
    write_table_csv(prepared.fpd, folder / names.fpd)
    return [
        file_entry(folder / names.individuals, len(prepared.individuals)),
        file_entry(folder / names.fpd, len(prepared.fpd)),
    ]


def _write_report(
    path: Path,
    findings: pd.DataFrame,
    extract_counts: pd.DataFrame,
    report_context: ReportContext | None,
) -> dict[str, Any]:
    """The validation report and its manifest entry (run in the CSV thread, after the CSVs)."""
    write_validation_report(findings, extract_counts, path, report_context)
    shown = findings_sheet_rows(len(findings))
    return file_entry(path, shown, {"Findings": shown}, internal=True)


def _write_files(
    folder: Path,
    la_code: str,
    period: Period,
    prepared: PreparedTables,
    statistics: pd.DataFrame,
    findings: pd.DataFrame,
    extract_counts: pd.DataFrame,
    changes: pd.DataFrame,
    previous: PreviousReference | None,
    report_context: ReportContext | None,
    settings_sha256: str | None,
) -> tuple[list[str], dict[str, Any], str | None]:
    names = submission_files(la_code, period)
    entries: list[dict[str, Any]] = []
    not_written: list[dict[str, str]] = []

    # The two table CSVs, then the validation report, are written in a second thread while the
    # workbook is written: they spend most of their time in Arrow kernels and zlib, which
    # release the GIL, so on a machine with two cores they overlap, and the report no longer
    # waits for the workbook's biggest sheet. Leaving the block waits for the thread, whatever
    # happened, so nothing writes into the folder once this function has returned.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nis-csv") as pool:
        tables_written = pool.submit(_write_table_csvs, folder, names, prepared)
        report_written = pool.submit(
            _write_report,
            folder / names.validation_report,
            findings,
            extract_counts,
            report_context,
        )
        reason = write_prepared_workbook(
            prepared, statistics, folder / names.workbook, la_code, period
        )
        entries += tables_written.result()
        report_entry = report_written.result()

    if reason is None:
        sheets = {"Individuals": len(prepared.individuals), "FPD": len(prepared.fpd)}
        entries.append(file_entry(folder / names.workbook, sum(sheets.values()), sheets))
    else:
        not_written.append({"name": names.workbook, "reason": reason})

    stat_rows = write_statistics_csv(statistics, folder / names.statistics)
    entries.append(file_entry(folder / names.statistics, stat_rows))
    entries.append(report_entry)

    write_table_csv(changes, folder / names.changes)
    entries.append(file_entry(folder / names.changes, len(changes), internal=True))

    manifest = build_manifest(
        la_code,
        period,
        entries,
        extract_counts,
        prepared.opted_out,
        not_written,
        previous=previous,
        changes=changes,
        settings_sha256=settings_sha256,
    )
    write_manifest(manifest, folder / names.manifest)  # last: its presence marks a finished folder
    return [e["name"] for e in entries] + [names.manifest], manifest, reason


def _census_folder(out_root: Path, la_code: str, period: Period, *args: Any, **kwargs: Any) -> Path:
    return Path(out_root) / la_code / period.label


@explain_os_errors(_census_folder)
def write_submission(
    out_root: Path,
    la_code: str,
    period: Period,
    tables: SubmissionTables,
    statistics: pd.DataFrame,
    findings: pd.DataFrame,
    extract_counts: pd.DataFrame,
    replace: bool = False,
    *,
    changes: pd.DataFrame,
    previous: PreviousReference | None,
    report_context: ReportContext | None = None,
    settings_sha256: str | None = None,
) -> SubmissionResult:
    """Write the submission of ``period`` into ``out_root/la_code/{census}/`` (see module notes).

    ``changes`` is the changes table of spec section 6 (``transforms.changes.changes_since``),
    ``previous`` the submission it compares with (``exports.previous.read_previous``); with no
    previous submission, ``previous`` is None and ``changes`` has no rows (the file is a header).

    Raises :class:`SubmissionExistsError` when a finished submission is there and ``replace`` is
    false, before anything is written; :class:`exports.tables.SubmissionTableError` when a table
    breaks the output contract.
    """
    target = submission_folder(out_root, la_code, period)
    la_dir = target.parent
    check_output_folders(out_root, la_dir, target)
    _refuse_finished(target, replace)
    prepared = prepare_tables(tables, la_code, period)
    changes = prepare_changes(changes)
    if previous is None and len(changes):
        raise ValueError("changes were given without the previous submission they compare with")
    make_private_dir(la_dir)
    with census_lock(la_dir, target.name):
        check_output_folders(out_root, la_dir, target)  # again, now that no other run moves them
        _refuse_finished(target, replace)
        _remove_partials(la_dir, target.name)
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=la_dir))
        try:
            files, manifest, reason = _write_files(
                partial,
                la_code,
                period,
                prepared,
                statistics,
                findings,
                extract_counts,
                changes,
                previous,
                report_context,
                settings_sha256,
            )
            fsync_dir(partial)
            aside = _move_into_place(partial, target, replace)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return SubmissionResult(
        folder=target,
        files=files,
        manifest=manifest,
        workbook_skipped_reason=reason,
        kept_aside=aside,
    )


@explain_os_errors(_census_folder)
def write_failed_run_report(
    out_root: Path,
    la_code: str,
    period: Period,
    findings: pd.DataFrame,
    counts: pd.DataFrame,
    report_context: ReportContext | None = None,
) -> Path:
    """Write only the validation report of a run that exceeded its threshold; returns its path.

    It goes to ``OUT/{la}/{census}/validation_report.xlsx`` when that folder holds no finished
    submission (the folder then has no manifest, so it is never taken for one), else beside the
    finished folder as ``OUT/{la}/{census}.failed-validation_report.xlsx``.
    """
    target = submission_folder(out_root, la_code, period)
    la_dir = target.parent
    check_output_folders(out_root, la_dir, target)
    make_private_dir(la_dir)
    with census_lock(la_dir, target.name):
        check_output_folders(out_root, la_dir, target)
        if is_finished(target):
            path = la_dir / f"{target.name}.failed-{REPORT_NAME}"
        else:
            make_private_dir(target)
            path = target / REPORT_NAME
        write_validation_report(findings, counts, path, report_context)
    return path
