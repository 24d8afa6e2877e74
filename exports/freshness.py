"""Is a period's finished submission already made from the inputs at hand?

A finished folder's ``manifest.json`` lists each input extract's SHA-256 (``input_extracts``).
When every one equals the hash of the extract just read, and the contract version is the same,
and the manifest names the same previous submission (census date and individuals SHA-256) as the
one now in place, writing the period again would give the same files, changes file included, so
the run skips it and reports it as up to date. (Settings that change results without changing
the inputs, such as the column map, are not compared: after changing them, run with --replace.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exports.manifest import CONTRACT_VERSION, MANIFEST_NAME, PreviousReference, read_manifest


def manifest_input_hashes(manifest: Mapping[str, Any]) -> dict[str, str]:
    """extract name -> sha256 of the inputs a manifest records."""
    hashes: dict[str, str] = {}
    entries = manifest.get("input_extracts")
    if not isinstance(entries, list):
        return hashes
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        name, digest = entry.get("extract"), entry.get("sha256")
        if isinstance(name, str) and isinstance(digest, str):
            hashes[name] = digest
    return hashes


def finished_files_if_up_to_date(
    folder: Path, input_hashes: Mapping[str, str], previous: PreviousReference | None = None
) -> tuple[str, ...] | None:
    """The file names of ``folder``'s finished submission when it was made from exactly
    ``input_hashes`` and compared with ``previous`` (the previous census date's finished
    submission now in place, None when there is none); None when there is no finished
    submission, it cannot be read, or any input or the previous submission differs."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    # A submission made under another version of the contract is not up to date, whatever its
    # inputs: the same extracts would now give other files.
    if manifest.get("contract_version") != CONTRACT_VERSION:
        return None
    if not input_hashes or manifest_input_hashes(manifest) != dict(input_hashes):
        return None
    # Its changes file compares with the previous submission: one replaced since then (or written
    # since, where there was none) makes it stale.
    if manifest.get("previous") != (None if previous is None else previous.as_json()):
        return None
    files = manifest.get("files")
    names = (
        [f["name"] for f in files if isinstance(f, Mapping) and "name" in f]
        if isinstance(files, list)
        else []
    )
    return (*names, MANIFEST_NAME)
