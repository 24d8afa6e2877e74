"""The transfer package (spec section 6): the files of a finished submission that may leave the
council, in one zip, optionally encrypted to the recipient's ``age`` public key.

``build_package(out_root, la_code, census, recipient=None)`` writes
``OUT/{la_code}/{census}/transfer/nis_{la_code}_{census}.zip`` (or ``.zip.age``) holding exactly,
in this order: the individuals CSV, the FPD CSV, the workbook (unless the manifest lists it under
``files_not_written``), the statistics CSV and ``manifest.json``. Never the validation report, the
changes file or anything else found in the folder: the list is fixed here, not read from the
folder or the manifest.

- It refuses (:class:`PackageRefused`, one line) a census folder that does not exist, one without
  a manifest (its run failed or never finished), and one whose files do not match the SHA-256s
  its manifest records, naming the file altered or missing. Every file the manifest lists is
  checked, the internal ones too; the packed files are hashed as they are packed, so the zip holds
  exactly the bytes that were checked.
- The same submission gives the same zip bytes: entries in a fixed order, each dated 1980-01-01
  00:00, mode 0600, made on "Unix", deflated (the workbook, already compressed, is stored). As for
  the workbook itself, the deflate stream is zlib's, so byte-identity holds between installations
  of the pinned environment.
- With a recipient, the zip is built in memory and encrypted with ``pyrage`` (the Rust ``age``
  implementation) straight into the ``.zip.age`` file: no clear copy is ever written, and a clear
  package of the same submission made earlier is removed.
- The package is written aside and renamed into place (never half a zip), mode 0600 in a 0700
  ``transfer/`` folder. It replaces an earlier package of the same name: the package is derived,
  byte for byte, from the checked submission (an encrypted one may be for another recipient).

The ``transfer/`` folder is not listed in the manifest, so it never makes a submission look
altered; a submission replaced with ``--replace`` takes its packages aside with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from exports.files import atomic_path, make_private_dir, sha256_file
from exports.manifest import MANIFEST_NAME
from exports.paths import check_not_symlink, check_output_folders
from exports.submission import submission_files
from schemas.codes import LA_CODE_PATTERN
from schemas.errors import UserInputError
from transforms.periods import Period

TRANSFER_DIR = "transfer"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
ENTRY_MODE = 0o100600  # a regular file, readable by its owner only
_UNIX = 3
_BLOCK = 1 << 20


class PackageRefused(UserInputError):
    """The package cannot be built; the message says why in one line (names, never values)."""


@dataclass(frozen=True)
class PackageResult:
    """What was written, for the command's output and the audit log."""

    path: Path
    encrypted: bool
    sha256: str  # of the file written (the zip, or the encrypted zip)
    files: tuple[tuple[str, str], ...]  # (name, sha256) of each file packed, in entry order


def package_name(la_code: str, census: date, *, encrypted: bool) -> str:
    name = f"nis_{la_code}_{census.isoformat()}.zip"
    return name + ".age" if encrypted else name


def parse_recipient(text: str) -> Any:
    """An ``age`` X25519 public key (``age1...``) as a pyrage recipient."""
    from pyrage import RecipientError, x25519

    key = text.strip()
    if key.upper().startswith("AGE-SECRET-KEY-"):
        raise PackageRefused(
            "--recipient was given a secret key: give the recipient's public key (age1...), "
            "and keep the secret key away from this machine"
        )
    if not key.lower().startswith("age1"):
        raise PackageRefused("--recipient must be an age public key, starting age1")
    try:
        return x25519.Recipient.from_str(key)
    except RecipientError:
        raise PackageRefused("--recipient is not a valid age public key (age1...)") from None


def only_la_code(out_root: Path) -> str:
    """The one council folder under ``out_root``, for a command given no ``la_code``."""
    out_root = Path(out_root)
    if not out_root.is_dir():
        raise PackageRefused(f"{out_root} does not exist")
    found = sorted(
        p.name for p in out_root.iterdir() if p.is_dir() and re.fullmatch(LA_CODE_PATTERN, p.name)
    )
    if not found:
        raise PackageRefused(f"{out_root} holds no council's submissions")
    if len(found) > 1:
        raise PackageRefused(
            f"{out_root} holds submissions of {len(found)} councils ({', '.join(found)}): "
            "pass --config with la_code naming the council"
        )
    return found[0]


def _manifest(folder: Path, la_code: str, census: date) -> Mapping[str, Any]:
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "does not exist"
        raise PackageRefused(
            f"no submission of {la_code} for {census.isoformat()}: {folder} {state}"
        )
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise PackageRefused(
            f"{folder} has no {MANIFEST_NAME}: its run failed or did not finish, so there is "
            "no submission to package"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise PackageRefused(f"{path} cannot be read") from None
    if not isinstance(manifest, Mapping):
        raise PackageRefused(f"{path} is not a manifest")
    if manifest.get("la_code") != la_code or manifest.get("census_date") != census.isoformat():
        raise PackageRefused(f"{path} is not the manifest of {la_code} {census.isoformat()}")
    return manifest


def _listed(folder: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    """name -> recorded sha256 of every file the manifest lists."""
    files = manifest.get("files")
    if not isinstance(files, list):
        raise PackageRefused(f"the {MANIFEST_NAME} in {folder} lists no files")
    listed: dict[str, str] = {}
    for entry in files:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        digest = entry.get("sha256") if isinstance(entry, Mapping) else None
        # A listed name is a plain file name in the folder: nothing else is ever opened.
        if not (isinstance(name, str) and isinstance(digest, str)) or (
            name != Path(name).name or name.startswith(".") or name == MANIFEST_NAME
        ):
            raise PackageRefused(f"the {MANIFEST_NAME} in {folder} has a malformed file entry")
        listed[name] = digest
    return listed


def _not_written(manifest: Mapping[str, Any]) -> set[str]:
    entries = manifest.get("files_not_written")
    return {
        e["name"]
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, Mapping) and isinstance(e.get("name"), str)
    }


def _altered(folder: Path, name: str) -> PackageRefused:
    return PackageRefused(
        f"{name} in {folder} does not match the SHA-256 in its {MANIFEST_NAME}: it was altered "
        "after the submission was written, so the folder cannot be packaged"
    )


def _check_files(folder: Path, listed: Mapping[str, str], packed: list[str]) -> None:
    """Every listed file is there; the ones not packed match their hashes (the packed ones are
    hashed as they are packed)."""
    for name in listed:
        if not (folder / name).is_file():
            raise PackageRefused(
                f"{name} is missing from {folder} although its {MANIFEST_NAME} lists it"
            )
    for name, digest in listed.items():
        if name not in packed and sha256_file(folder / name) != digest:
            raise _altered(folder, name)


def _entries(folder: Path, la_code: str, census: date, manifest: Mapping[str, Any]) -> list[str]:
    """The names to pack, in package order."""
    names = submission_files(la_code, Period(census))
    listed = _listed(folder, manifest)
    packed = [names.individuals, names.fpd]
    if names.workbook in listed:
        packed.append(names.workbook)
    elif names.workbook not in _not_written(manifest):
        raise PackageRefused(
            f"the {MANIFEST_NAME} in {folder} neither lists {names.workbook} nor says why it "
            "was not written"
        )
    packed.append(names.statistics)
    for name in packed:
        if name not in listed:
            raise PackageRefused(f"the {MANIFEST_NAME} in {folder} does not list {name}")
    _check_files(folder, listed, packed)
    return packed


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = _UNIX
    info.external_attr = ENTRY_MODE << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".xlsx") else zipfile.ZIP_DEFLATED
    info.file_size = size  # zipfile decides on zip64 from this alone: same size, same bytes
    return info


def _write_zip(
    target: IO[bytes], folder: Path, packed: list[str], listed: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """Write the zip of ``packed`` (then the manifest) to ``target``; return (name, sha256)."""
    hashes: list[tuple[str, str]] = []
    with zipfile.ZipFile(target, "w") as archive:
        for name in [*packed, MANIFEST_NAME]:
            path = folder / name
            digest = hashlib.sha256()
            with open(path, "rb") as source:
                info = _zip_info(name, path.stat().st_size)
                with archive.open(info, "w") as entry:
                    while block := source.read(_BLOCK):
                        digest.update(block)
                        entry.write(block)
            if name in listed and digest.hexdigest() != listed[name]:
                raise _altered(folder, name)
            hashes.append((name, digest.hexdigest()))
    return tuple(hashes)


def build_package(
    out_root: Path, la_code: str, census: date, recipient: str | None = None
) -> PackageResult:
    """Build the transfer package of the finished submission ``out_root/la_code/census`` (see
    the module notes). Raises :class:`PackageRefused` with a one-line reason, or
    :class:`exports.paths.OutputPathError` when a folder on the way is a link or a file."""
    age_recipient = parse_recipient(recipient) if recipient is not None else None
    if not re.fullmatch(LA_CODE_PATTERN, la_code):
        raise PackageRefused(f"{la_code!r} is not an ONS upper-tier authority code")
    folder = Path(out_root) / la_code / census.isoformat()
    # Nothing is written through a link (it would put the package wherever it points): the
    # council, census and transfer folders are refused when they are links (exit 2).
    check_output_folders(Path(out_root), folder.parent, folder)
    check_not_symlink(folder / TRANSFER_DIR, "the transfer folder")
    manifest = _manifest(folder, la_code, census)
    packed = _entries(folder, la_code, census, manifest)
    listed = _listed(folder, manifest)

    transfer = folder / TRANSFER_DIR
    make_private_dir(transfer)
    clear_path = transfer / package_name(la_code, census, encrypted=False)
    if age_recipient is None:
        with atomic_path(clear_path) as tmp, open(tmp, "wb") as handle:
            files = _write_zip(handle, folder, packed, listed)
        return PackageResult(clear_path, False, sha256_file(clear_path), files)

    from pyrage import encrypt_io

    age_path = transfer / package_name(la_code, census, encrypted=True)
    buffer = io.BytesIO()  # the clear zip lives in memory only
    try:
        files = _write_zip(buffer, folder, packed, listed)
        buffer.seek(0)
        with atomic_path(age_path) as tmp, open(tmp, "wb") as handle:
            encrypt_io(buffer, handle, [age_recipient])
    finally:
        buffer.close()
    # A clear package of this submission made earlier is exactly what encryption is for.
    clear_path.unlink(missing_ok=True)
    return PackageResult(age_path, True, sha256_file(age_path), files)
