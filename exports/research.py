"""Writing the pseudonymised research extract ``OUT/{la_code}/{census}/research_{la}_{census}.csv``
(spec section 7).

- The table is checked before a byte is written: exactly the research columns in order, the
  research schema, this LA and census date only, one row per person pseudonym, and none of the
  identifying columns (:data:`schemas.outputs.RESEARCH_FORBIDDEN_COLUMNS`). Messages name columns
  and checks, never values.
- The file is written under the census folder's lock (the one ``nis run`` takes), as a complete
  staged copy that is then renamed into place; CSV rules as for the submission files; mode 0600.
- It is never silently overwritten: the same bytes again leave the file as it is ("unchanged");
  different bytes keep the old file beside it as ``research_{la}_{census}.replaced-<n>.csv``.
- It lives in the census folder but is not part of the submission: the manifest does not list it
  (so a transfer package never holds it, and the freshness check ignores it), and a run that moves
  a new submission into the folder carries it over (see
  :func:`exports.census_files.carry_research_files`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pandera.errors

from exports.census_files import research_file_name
from exports.csv_files import write_table_csv
from exports.files import fsync_dir, make_private_dir, sha256_file
from exports.paths import OutputPathError, check_output_folders
from exports.submission import census_lock, submission_folder
from exports.tables import schema_failures
from schemas.outputs import RESEARCH_COLUMNS, RESEARCH_FORBIDDEN_COLUMNS, ResearchRecord
from transforms.periods import Period


class ResearchTableError(ValueError):
    """The research table breaks section 7; the message names columns and checks, never a value."""


class ResearchFolderError(RuntimeError):
    """The census folder cannot take the research extract (it is not a plain folder)."""


@dataclass(frozen=True)
class ResearchWritten:
    path: Path
    sha256: str
    rows: int
    status: str  # "written" (new), "unchanged" (same bytes already there) or "replaced"
    kept_aside: Path | None = None  # where the previous, different file went


def prepare_research(table: pd.DataFrame, la_code: str, census: date) -> pd.DataFrame:
    """The research table as it is written, or :class:`ResearchTableError`."""
    forbidden = [c for c in table.columns if c in RESEARCH_FORBIDDEN_COLUMNS]
    if forbidden:
        raise ResearchTableError(f"research table holds identifying columns: {forbidden}")
    if list(table.columns) != RESEARCH_COLUMNS:
        extra = [c for c in table.columns if c not in RESEARCH_COLUMNS]
        missing = [c for c in RESEARCH_COLUMNS if c not in table.columns]
        raise ResearchTableError(
            "research table columns differ from section 7: "
            f"outside it {extra}, missing {missing}, or not in its order"
        )
    out = table.reset_index(drop=True)
    try:
        ResearchRecord.validate(out, lazy=True)
    except pandera.errors.SchemaErrors as error:
        raise ResearchTableError(
            f"research table breaks its schema: {schema_failures(error)}"
        ) from None
    if not (out["la_code"] == la_code).all():
        raise ResearchTableError("research table holds rows of another la_code")
    if not (out["census_date"] == pd.Timestamp(census)).all():
        raise ResearchTableError("research table holds rows of another census date")
    # Pseudonyms are unique (the schema says so), so this order is total.
    return out.sort_values("person_pseudonym", kind="stable").reset_index(drop=True)


def _next_aside(folder: Path, la_code: str, census: date) -> Path:
    stem = f"research_{la_code}_{census.isoformat()}"
    pattern = re.compile(re.escape(stem) + r"\.replaced-(\d+)\.csv")
    taken = [int(m.group(1)) for p in folder.iterdir() if (m := pattern.fullmatch(p.name))]
    return folder / f"{stem}.replaced-{max(taken, default=0) + 1}.csv"


def write_research(
    out_root: Path, la_code: str, census: date, table: pd.DataFrame
) -> ResearchWritten:
    """Write the research extract of ``census`` into ``out_root/la_code/census/`` (see the module
    notes). Raises :class:`ResearchTableError` before anything is written when the table breaks
    section 7, :class:`exports.paths.OutputPathError` when a folder on the way is a link or a file,
    :class:`exports.submission.SubmissionBusyError` when a run holds the folder."""
    folder = submission_folder(out_root, la_code, Period(census))
    prepared = prepare_research(table, la_code, census)
    la_dir = folder.parent
    # As for a run: a council or census folder that is a link (it would put the extract wherever
    # it points) or a file is refused before anything is made, exit 2 (OutputPathError).
    check_output_folders(out_root, la_dir, folder)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"the census folder {folder} is a file, not a folder")
    make_private_dir(la_dir)
    with census_lock(la_dir, folder.name):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise ResearchFolderError(f"{folder} is not a folder; the research extract needs one")
        make_private_dir(folder)
        name = research_file_name(la_code, census)
        final = folder / name
        staged = folder / f".{name}.staged"
        write_table_csv(prepared, staged)  # itself atomic: complete or absent
        digest = sha256_file(staged)
        aside: Path | None = None
        if final.exists():
            if sha256_file(final) == digest:
                staged.unlink()
                return ResearchWritten(final, digest, len(prepared), "unchanged")
            aside = _next_aside(folder, la_code, census)
            os.rename(final, aside)
        os.rename(staged, final)
        fsync_dir(folder)
    status = "written" if aside is None else "replaced"
    return ResearchWritten(final, digest, len(prepared), status, aside)
