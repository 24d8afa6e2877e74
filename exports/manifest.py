"""``manifest.json``: what a submission folder holds and what it was made from.

Canonical JSON (keys sorted, indent 2, UTF-8, ending in ``\\n``) with no time and no machine or user
name in it, so the same inputs give the same manifest. Shape::

    {
      "contract_version": "2",
      "la_code": "E08000012",
      "census_date": "2025-09-30",
      "files": [                       # in the order of spec section 5, then the changes file
        {"name": ..., "rows": ..., "sha256": ..., "internal": false},
        # the workbook and the validation report also give "sheets": {sheet: data rows};
        # their "rows" is the data rows of the table sheets (Individuals + FPD; Findings).
        # "internal": true marks the files that stay with the council (validation_report.xlsx,
        # changes_*.csv); the transfer package never holds them.
      ],
      "files_not_written": [{"name": ..., "reason": ...}],   # e.g. the workbook above Excel's limit
      "input_extracts": [              # in contract order, as validation counted them
        {"extract", "source", "sha256", "rows_read", "quarantined", "warned"}
      ],
      "people_opted_out": 3,
      "previous": null,                # or {"census_date": ..., "individuals_sha256": ...}
      "change_counts": null            # or [{"change": "JOINED", "rows": 4}, ...]: every kind,
    }                                  # in the contract's order, zeros included

``previous`` names the finished submission the changes file compares with (spec section 6); with
none, the changes file is a header only and ``change_counts`` is null (nothing was compared,
which zero counts would hide).

Every ``sha256`` is of the file's bytes. The xlsx files are made byte-deterministic for this (fixed
document times and zip entry dates, see ``exports.excel``), so a recipient can check any file with
``sha256sum`` and two runs on the same inputs give the same hashes; the deflate stream of an xlsx
is the output of the zlib that Python links, so hashes of xlsx files are only compared between
installations of the same pinned environment. The manifest itself is not listed (it cannot hold its
own hash) and is written last: a folder with a manifest is a finished submission.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from exports.files import atomic_path, sha256_file
from exports.validation_report import sort_counts
from transforms.changes import change_counts
from transforms.periods import Period

CONTRACT_VERSION = "2"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class PreviousReference:
    """The finished submission a changes file was compared with."""

    census: date
    individuals_sha256: str

    def as_json(self) -> dict[str, str]:
        return {
            "census_date": self.census.isoformat(),
            "individuals_sha256": self.individuals_sha256,
        }


def file_entry(
    path: Path, rows: int, sheets: dict[str, int] | None = None, *, internal: bool = False
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": path.name,
        "rows": int(rows),
        "sha256": sha256_file(path),
        "internal": bool(internal),
    }
    if sheets is not None:
        entry["sheets"] = {k: int(v) for k, v in sheets.items()}
    return entry


def change_count_entries(changes: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of the changes file per kind of change: every kind, in the contract's order."""
    return [{"change": kind, "rows": rows} for kind, rows in change_counts(changes).items()]


def _plain(value: Any) -> Any:
    """A JSON value from a pandas cell: missing -> null, numpy numbers -> int."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
    return value


def input_extracts(extract_counts: pd.DataFrame) -> list[dict[str, Any]]:
    """The extract counts as manifest entries, in contract order, values as validation gave them."""
    rows = sort_counts(extract_counts)
    entries = []
    for record in rows.to_dict(orient="records"):
        entry = {str(k): _plain(v) for k, v in record.items()}
        for k in ("rows_read", "quarantined", "warned"):
            entry[k] = int(entry[k]) if entry[k] is not None else None
        entries.append(entry)
    return entries


def build_manifest(
    la_code: str,
    period: Period,
    files: list[dict[str, Any]],
    extract_counts: pd.DataFrame,
    people_opted_out: int,
    files_not_written: list[dict[str, str]] | None = None,
    *,
    previous: PreviousReference | None,
    changes: pd.DataFrame,
    settings_sha256: str | None = None,
) -> dict[str, Any]:
    """The manifest of a submission folder. ``changes`` is the changes table as written (its
    rows are counted by kind when there is a ``previous`` submission); ``settings_sha256`` is
    the digest of the settings that shape the files besides the inputs (the freshness check
    compares it)."""
    if previous is None and len(changes):
        raise ValueError("changes were given without the previous submission they compare with")
    manifest: dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "la_code": la_code,
        "census_date": period.label,
        "files": files,
        "files_not_written": files_not_written or [],
        "input_extracts": input_extracts(extract_counts),
        "people_opted_out": int(people_opted_out),
        "previous": None if previous is None else previous.as_json(),
        "change_counts": None if previous is None else change_count_entries(changes),
    }
    if settings_sha256 is not None:
        manifest["settings_sha256"] = settings_sha256
    return manifest


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a submission folder, or None when there is none or it cannot be read as a
    JSON object."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Write ``manifest`` to ``path`` atomically, mode 0600, ``\\n`` line ends."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(manifest_json(manifest).encode("utf-8"))
