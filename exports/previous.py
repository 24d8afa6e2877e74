"""The finished submission of the previous census date, read back for the changes file (spec
section 6).

The previous submission is the folder ``OUT/{la_code}/{C minus six months}/`` when it holds a
``manifest.json`` (a finished submission; a folder kept aside as ``.replaced-N``, a failed run's
report-only folder or an older census date is not it). Its individuals CSV is checked against the
SHA-256 its manifest records before it is read: a file that no longer matches was altered after it
was written, and comparing with it would report changes nobody made, so the run stops with
:class:`PreviousSubmissionError` (one line naming the folder and file) instead.

Messages name folders, files and columns, never a value from the data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from exports.files import sha256_file
from exports.manifest import MANIFEST_NAME, PreviousReference
from exports.submission import is_finished, submission_files, submission_folder
from schemas.errors import PipelineError
from schemas.outputs import INDIVIDUALS_COLUMNS, PROBLEM_COLUMNS, IndividualsRecord
from transforms.periods import Period

_DATE_COLUMNS = [
    name
    for name, column in IndividualsRecord.to_schema().columns.items()
    if str(column.dtype).startswith("datetime64")
]
_FLAG_COLUMNS = list(PROBLEM_COLUMNS.values())


class PreviousSubmissionError(PipelineError):
    """The previous census date's finished submission cannot be trusted or read."""


@dataclass(frozen=True)
class PreviousSubmission:
    reference: PreviousReference  # its census date and its individuals file's SHA-256
    folder: Path
    individuals: pd.DataFrame  # in the dtypes of schemas.outputs.IndividualsRecord


def previous_folder(out_root: Path, la_code: str, census: date) -> Path:
    """Where the finished submission of the census date before ``census`` would be."""
    return submission_folder(out_root, la_code, Period(Period(census).previous_census))


def _manifest(folder: Path) -> Mapping[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise PreviousSubmissionError(
            f"the previous submission {folder} has a {MANIFEST_NAME} that cannot be read"
        ) from None
    if not isinstance(manifest, Mapping):
        raise PreviousSubmissionError(
            f"the previous submission {folder} has a {MANIFEST_NAME} that is not a manifest"
        )
    return manifest


def _recorded_sha256(folder: Path, manifest: Mapping[str, Any], name: str) -> str:
    files = manifest.get("files")
    for entry in files if isinstance(files, list) else []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            digest = entry.get("sha256")
            if isinstance(digest, str):
                return digest
    raise PreviousSubmissionError(
        f"the {MANIFEST_NAME} of the previous submission {folder} does not list {name}"
    )


def _check_identity(folder: Path, manifest: Mapping[str, Any], la_code: str, census: date) -> None:
    if manifest.get("la_code") != la_code or manifest.get("census_date") != census.isoformat():
        raise PreviousSubmissionError(
            f"the {MANIFEST_NAME} in {folder} is not that of {la_code} {census.isoformat()}"
        )


def previous_reference(out_root: Path, la_code: str, census: date) -> PreviousReference | None:
    """What a changes file written now for ``census`` would name as its previous submission, from
    that folder's manifest alone (no data file is read): None when there is no finished one.
    For the up-to-date check of a run; :func:`read_previous` verifies the file itself."""
    folder = previous_folder(out_root, la_code, census)
    if not is_finished(folder):
        return None
    before = Period(census).previous_census
    manifest = _manifest(folder)
    _check_identity(folder, manifest, la_code, before)
    name = submission_files(la_code, Period(before)).individuals
    return PreviousReference(before, _recorded_sha256(folder, manifest, name))


def read_previous(out_root: Path, la_code: str, census: date) -> PreviousSubmission | None:
    """The finished submission of the census date before ``census`` under ``out_root/la_code``,
    its individuals file verified and read back; None when there is none.

    Raises :class:`PreviousSubmissionError` when its manifest cannot be read or is another's, or
    its individuals file is missing, does not match the manifest's SHA-256 (altered) or is not an
    individuals file.
    """
    folder = previous_folder(out_root, la_code, census)
    if not is_finished(folder):
        return None
    before = Period(census).previous_census
    manifest = _manifest(folder)
    _check_identity(folder, manifest, la_code, before)
    name = submission_files(la_code, Period(before)).individuals
    recorded = _recorded_sha256(folder, manifest, name)
    path = folder / name
    if not path.is_file():
        raise PreviousSubmissionError(f"the previous submission {folder} has lost {name}")
    digest = sha256_file(path)
    if digest != recorded:
        raise PreviousSubmissionError(
            f"{name} in the previous submission {folder} does not match the SHA-256 in its "
            f"{MANIFEST_NAME}: it was altered after it was written. Restore it, or move that "
            "folder aside to compare with nothing, and run again"
        )
    return PreviousSubmission(
        reference=PreviousReference(before, digest),
        folder=folder,
        individuals=read_individuals_csv(path),
    )


def iso_dates(text: pd.Series) -> pd.Series:
    """``pd.to_datetime(text, format="%Y-%m-%d")`` as ``datetime64[ns]`` (missing stays
    missing), raising ValueError where it does. Arrow parses the usual spelling (zero-padded,
    in range) in C; anything it refuses goes through pandas, which then decides."""
    try:
        days = pa.array(text, type=pa.string(), from_pandas=True).cast(pa.date32())
        stamps = days.cast(pa.timestamp("ns"))  # refuses a day out of the ns range
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_datetime(text, format="%Y-%m-%d").astype("datetime64[ns]")
    return pd.Series(stamps.to_pandas(), index=text.index, name=text.name).astype("datetime64[ns]")


def read_individuals_csv(path: Path) -> pd.DataFrame:
    """An individuals CSV (spec section 5) back in the dtypes of ``IndividualsRecord``: text
    ``str``, dates ``datetime64[ns]``, the problem flags ``Int64``; an empty field is missing.

    Raises :class:`PreviousSubmissionError` (naming the file and column) when it is not one.
    """
    path = Path(path)
    try:
        table = pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                # Everything as text first: no type guessing, and "NA" or "null" stay names.
                column_types={c: pa.string() for c in INDIVIDUALS_COLUMNS},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (OSError, pa.ArrowInvalid):
        raise PreviousSubmissionError(f"{path.name} cannot be read as a CSV file") from None
    if table.column_names != INDIVIDUALS_COLUMNS:
        raise PreviousSubmissionError(
            f"{path.name} does not have the columns of an individuals file"
        )
    frame = table.to_pandas()
    columns: dict[str, pd.Series] = {}
    for c in INDIVIDUALS_COLUMNS:
        text = frame[c].astype("str")
        if c in _DATE_COLUMNS:
            try:
                columns[c] = iso_dates(text)
            except (ValueError, TypeError):  # their messages quote the value
                raise PreviousSubmissionError(
                    f"{path.name}: column {c} holds a value that is not an ISO date"
                ) from None
        elif c in _FLAG_COLUMNS:
            if not (text.isna() | text.isin(["0", "1"])).all():
                raise PreviousSubmissionError(f"{path.name}: column {c} holds a value not 0 or 1")
            columns[c] = (text == "1").astype("Int64").where(text.notna(), pd.NA)
        else:
            columns[c] = text
    return pd.DataFrame(columns)[INDIVIDUALS_COLUMNS]
