"""Is a period's finished submission already made from the inputs at hand?

A finished folder's ``manifest.json`` lists each input extract's SHA-256 (``input_extracts``).
When every one equals the hash of the extract just read, and the contract version is the same,
and the manifest names the same previous submission (census date and individuals SHA-256) as the
one now in place, writing the period again would give the same files, changes file included, so
the run skips it and reports it as up to date. The settings that shape the files besides the
inputs (the column map, a configured extract date) are compared too, by the digest the manifest
records (``settings_sha256``).

A finished submission is up to date only while its files are the ones its manifest lists (each
file's SHA-256). One deleted, truncated or edited since is *altered* (:func:`altered_files`): the
run does not skip it and does not overwrite it either; it stops (exit 1) naming the altered
files and asking for --replace, which writes the period again and keeps the altered folder
beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exports.files import sha256_file
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
    folder: Path,
    input_hashes: Mapping[str, str],
    previous: PreviousReference | None = None,
    settings_sha256: str | None = None,
) -> tuple[str, ...] | None:
    """The file names of ``folder``'s finished submission when it was made from exactly
    ``input_hashes``, compared with ``previous`` (the previous census date's finished
    submission now in place, None when there is none), and its files are still the ones its
    manifest lists; None when there is no finished submission, it cannot be read, any input or
    the previous submission differs, or a file was altered since."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    if stale_reason(manifest, input_hashes, previous, settings_sha256) is not None:
        return None
    if altered_files(folder, manifest):
        return None
    return (*(name for name, _ in _listed_files(manifest)), MANIFEST_NAME)


def stale_reason(
    manifest: Mapping[str, Any],
    input_hashes: Mapping[str, str],
    previous: PreviousReference | None = None,
    settings_sha256: str | None = None,
) -> str | None:
    """Why the submission of ``manifest`` is not what a run would write now (the same inputs,
    previous submission and settings give the same files), in words for the person who must
    decide whether to replace it; None when nothing differs. Names extracts and census dates
    only."""
    # A submission made under another version of the contract is not up to date, whatever its
    # inputs: the same extracts would now give other files.
    version = manifest.get("contract_version")
    if version != CONTRACT_VERSION:
        return f"made under version {version} of the contract (now {CONTRACT_VERSION})"
    made_from = manifest_input_hashes(manifest)
    if not input_hashes or made_from != dict(input_hashes):
        names = sorted(
            name
            for name in set(made_from) | set(input_hashes)
            if made_from.get(name) != input_hashes.get(name)
        )
        return f"made from other extracts ({', '.join(names) or 'none recorded'})"
    # Its changes file compares with the previous submission: one replaced since then (or written
    # since, where there was none) makes it stale.
    recorded = manifest.get("previous")
    if recorded != (None if previous is None else previous.as_json()):
        if not isinstance(recorded, Mapping):
            if previous is None:  # a manifest edited by hand: its record cannot be read
                return "compared with a previous submission its manifest does not name"
            return (
                "compared with no previous submission, and the one of "
                f"{previous.census.isoformat()} has been written since"
            )
        census = recorded.get("census_date")
        if previous is None:
            return (
                f"compared with the submission of {census}, which is no longer in the output "
                "folder (purged or moved)"
            )
        return f"compared with the submission of {census} as it was then; it has been replaced"
    # Settings that shape the files besides the inputs (the column map, a set extract date):
    # changed since, the same inputs would give other files.
    if settings_sha256 is not None and manifest.get("settings_sha256") != settings_sha256:
        return "made with other settings (the column map, or a set extract date)"
    return None


def altered_files(folder: Path, manifest: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The files a finished submission's manifest lists that are no longer as it was written:
    missing, or with other bytes (their SHA-256 differs). Empty when all match, or when the
    folder holds no readable manifest (then it is no finished submission to compare)."""
    if manifest is None:
        manifest = read_manifest(folder)
        if manifest is None:
            return ()
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        return (MANIFEST_NAME,)  # a manifest listing no files was not written by a finished run
    altered = []
    for name, digest in _listed_files(manifest):
        path = folder / name
        # A name that is not a plain file name of the folder was not written by this pipeline.
        plain = Path(name).name == name and path.is_file() and not path.is_symlink()
        if not plain or sha256_file(path) != digest:
            altered.append(name)
    return tuple(altered)


def _listed_files(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    files = manifest.get("files")
    if not isinstance(files, list):
        return []
    return [
        (str(f["name"]), str(f.get("sha256")))
        for f in files
        if isinstance(f, Mapping) and isinstance(f.get("name"), str)
    ]
