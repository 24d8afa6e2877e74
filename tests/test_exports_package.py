"""The transfer package (spec section 6): exactly the files meant for submission, the same bytes
for the same submission, encrypted to an age recipient with no clear copy left, and refused for a
missing, failed or altered submission."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
from exports_builders import (
    CENSUS,
    LA,
    random_tables,
    sample_counts,
    sample_findings,
    sample_tables,
    statistics_of,
)
from pyrage import decrypt, x25519

from exports import excel
from exports.package import (
    PackageRefused,
    build_package,
    only_la_code,
    parse_recipient,
)
from exports.paths import OutputPathError
from exports.previous import read_previous
from exports.submission import write_failed_run_report, write_submission
from transforms.changes import no_changes
from transforms.periods import Period

C = CENSUS.isoformat()
SENT = [
    f"nis_{LA}_{C}_individuals.csv",
    f"nis_{LA}_{C}_fpd.csv",
    f"nis_{LA}_{C}.xlsx",
    f"statistics_{LA}_{C}.csv",
    "manifest.json",
]
ZIP = f"nis_{LA}_{C}.zip"


def _submit(out: Path, tables=None, replace: bool = False) -> Path:
    tables = sample_tables() if tables is None else tables
    return write_submission(
        out,
        LA,
        Period(CENSUS),
        tables,
        statistics_of(tables),
        sample_findings(),
        sample_counts(),
        replace=replace,
        changes=no_changes(),
        previous=None,
    ).folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _submit(tmp_path / "out")


def _transfer(folder: Path) -> list[str]:
    """What the transfer folder holds (nothing when it was never made)."""
    transfer = folder / "transfer"
    return sorted(os.listdir(transfer)) if transfer.exists() else []


def test_the_package_holds_exactly_the_files_for_submission(folder: Path) -> None:
    result = build_package(folder.parents[1], LA, CENSUS)
    assert result.path == folder / "transfer" / ZIP
    assert not result.encrypted
    assert _transfer(folder) == [ZIP]
    with zipfile.ZipFile(result.path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == SENT
        for info in infos:
            assert archive.read(info) == (folder / info.filename).read_bytes()
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100600
            # The workbook is a zip already: stored, the rest deflated.
            stored = info.filename.endswith(".xlsx")
            assert info.compress_type == (zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    # validation_report.xlsx and the changes file stay home
    assert {"validation_report.xlsx", f"changes_{LA}_{C}.csv"} <= set(os.listdir(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    recorded = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert [name for name, _ in result.files] == SENT
    for name, digest in result.files[:-1]:
        assert recorded[name] == digest
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "transfer").stat().st_mode) == 0o700


def test_identical_submissions_give_identical_zip_bytes(tmp_path: Path) -> None:
    tables = random_tables(60, seed=3)
    a = build_package(_submit(tmp_path / "a", tables).parents[1], LA, CENSUS)
    b = build_package(_submit(tmp_path / "b", tables).parents[1], LA, CENSUS)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.sha256 == b.sha256
    # Built again, the same bytes replace the package.
    again = build_package(tmp_path / "a", LA, CENSUS)
    assert again.path.read_bytes() == b.path.read_bytes()
    # Another submission, another package.
    other = build_package(_submit(tmp_path / "c", random_tables(60, seed=4)).parents[1], LA, CENSUS)
    assert other.sha256 != a.sha256


def test_the_encrypted_package_decrypts_to_the_same_zip_and_no_clear_copy_is_left(
    tmp_path: Path,
) -> None:
    identity = x25519.Identity.generate()
    clear = build_package(_submit(tmp_path / "a").parents[1], LA, CENSUS).path.read_bytes()
    folder = _submit(tmp_path / "b")
    build_package(folder.parents[1], LA, CENSUS)  # a clear package made earlier ...
    result = build_package(folder.parents[1], LA, CENSUS, str(identity.to_public()))
    assert result.encrypted and result.path == folder / "transfer" / f"{ZIP}.age"
    assert _transfer(folder) == [f"{ZIP}.age"]  # ... is gone, and no temporary file is left
    sealed = result.path.read_bytes()
    assert sealed.startswith(b"age-encryption.org/v1\n")
    assert b"PK\x03\x04" not in sealed and b"Lovelace" not in sealed
    assert decrypt(sealed, [identity]) == clear
    with pytest.raises(Exception):  # noqa: B017 - any key but the recipient's fails
        decrypt(sealed, [x25519.Identity.generate()])


@pytest.mark.skipif(shutil.which("age") is None, reason="the age command is not installed")
def test_the_standard_age_tool_decrypts_the_package(tmp_path: Path) -> None:
    identity = x25519.Identity.generate()
    key = tmp_path / "key.txt"
    key.write_text(f"{identity}\n", encoding="utf-8")
    folder = _submit(tmp_path / "out")
    clear = build_package(folder.parents[1], LA, CENSUS).path.read_bytes()
    sealed = build_package(folder.parents[1], LA, CENSUS, str(identity.to_public())).path
    done = subprocess.run(
        ["age", "-d", "-i", str(key), str(sealed)], capture_output=True, check=True
    )
    assert done.stdout == clear


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("age1notakey", "not a valid age public key"),
        ("ssh-ed25519 AAAA", "must be an age public key"),
        ("", "must be an age public key"),
        ("AGE-SECRET-KEY-1QQQ", "secret key"),
    ],
)
def test_a_bad_recipient_is_refused_before_anything_is_written(
    folder: Path, key: str, reason: str
) -> None:
    with pytest.raises(PackageRefused, match=reason) as error:
        build_package(folder.parents[1], LA, CENSUS, key)
    assert "\n" not in str(error.value)
    assert not (folder / "transfer").exists()
    with pytest.raises(PackageRefused):
        parse_recipient(key)


def test_a_census_folder_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackageRefused, match="does not exist") as error:
        build_package(tmp_path, LA, CENSUS)
    assert str(tmp_path / LA / C) in str(error.value)


def test_a_file_where_the_census_folder_goes_is_named_as_a_file(tmp_path: Path) -> None:
    """It was called a folder that 'does not exist', which sends a person looking elsewhere."""
    (tmp_path / LA).mkdir()
    (tmp_path / LA / C).write_text("not a folder")
    with pytest.raises(PackageRefused, match="is a file, not a folder") as error:
        build_package(tmp_path, LA, CENSUS)
    assert str(tmp_path / LA / C) in str(error.value)
    assert (tmp_path / LA / C).read_text() == "not a folder"


def test_a_failed_run_folder_is_refused(tmp_path: Path) -> None:
    write_failed_run_report(tmp_path, LA, Period(CENSUS), sample_findings(), sample_counts())
    with pytest.raises(PackageRefused, match="no manifest.json: its run failed"):
        build_package(tmp_path, LA, CENSUS)
    assert not (tmp_path / LA / C / "transfer").exists()


@pytest.mark.parametrize("name", [SENT[0], SENT[2], f"changes_{LA}_{C}.csv"])
def test_an_altered_file_is_refused_naming_it(folder: Path, name: str) -> None:
    path = folder / name
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(PackageRefused, match="altered") as error:
        build_package(folder.parents[1], LA, CENSUS)
    assert str(error.value).startswith(name + " in ")
    assert _transfer(folder) == []  # no half zip, no temporary file


def test_an_altered_file_is_refused_for_an_encrypted_package_too(folder: Path) -> None:
    (folder / SENT[1]).write_text("family_id\n", encoding="utf-8")
    key = str(x25519.Identity.generate().to_public())
    with pytest.raises(PackageRefused, match=f"{SENT[1]} in .* altered"):
        build_package(folder.parents[1], LA, CENSUS, key)
    assert _transfer(folder) == []


def test_a_missing_file_is_refused_naming_it(folder: Path) -> None:
    (folder / "validation_report.xlsx").unlink()
    with pytest.raises(PackageRefused, match="validation_report.xlsx is missing"):
        build_package(folder.parents[1], LA, CENSUS)


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["name"] = "../../secret.csv"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageRefused, match="malformed file entry"):
        build_package(folder.parents[1], LA, CENSUS)


@pytest.mark.parametrize("name", [".hidden.csv", "manifest.json"])
def test_a_manifest_listing_a_hidden_file_or_itself_is_refused(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    if name != "manifest.json":
        (folder / name).write_text("x")
    manifest["files"].append({"name": name, "sha256": "0" * 64})
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageRefused, match="malformed file entry"):
        build_package(folder.parents[1], LA, CENSUS)


def test_a_manifest_of_another_census_date_is_refused(folder: Path) -> None:
    # A census folder copied or renamed by hand: its manifest says which submission it holds.
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "census_date": "2025-03-31"}))
    with pytest.raises(PackageRefused, match=f"is not the manifest of {LA} {C}"):
        build_package(folder.parents[1], LA, CENSUS)
    assert _transfer(folder) == []


def test_a_file_sent_must_be_listed_to_be_checked(folder: Path) -> None:
    # The statistics file, last of the files sent, unlisted: it could not be checked, so no
    # package is made (it would carry bytes no manifest vouches for).
    statistics = SENT[3]
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["name"] != statistics]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / statistics).write_text("edited after the run\n")
    with pytest.raises(PackageRefused, match=f"does not list {statistics}"):
        build_package(folder.parents[1], LA, CENSUS)
    assert _transfer(folder) == []


def test_a_submission_without_a_workbook_is_packaged_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel, "EXCEL_MAX_ROWS", 5)
    folder = _submit(tmp_path / "out")
    assert not (folder / SENT[2]).exists()
    result = build_package(folder.parents[1], LA, CENSUS)
    with zipfile.ZipFile(result.path) as archive:
        assert archive.namelist() == [n for n in SENT if n != SENT[2]]
    # A workbook that is neither listed nor explained is not silently left out.
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "files_not_written": []}))
    with pytest.raises(PackageRefused, match="nor says why"):
        build_package(folder.parents[1], LA, CENSUS)


def test_the_transfer_folder_does_not_make_the_submission_look_altered(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = _submit(out)
    first = build_package(out, LA, CENSUS)
    assert build_package(out, LA, CENSUS).sha256 == first.sha256  # still verifies
    # Still a finished submission the next census compares with.
    assert read_previous(out, LA, CENSUS.replace(year=2026, month=3, day=31)) is not None
    # Replaced, the old submission keeps its package beside the new one.
    _submit(out, random_tables(10, seed=1), replace=True)
    assert (out / LA / f"{C}.replaced-1" / "transfer" / ZIP).is_file()
    assert not (folder / "transfer").exists()


def test_a_package_is_the_same_bytes_whatever_the_zip_buffer(folder: Path) -> None:
    # The file on disk and the in-memory zip that gets encrypted are one and the same.
    from exports.package import _entries, _listed, _manifest, _write_zip

    manifest = _manifest(folder, LA, CENSUS)
    packed, listed = _entries(folder, LA, CENSUS, manifest), _listed(folder, manifest)
    buffer = io.BytesIO()
    _write_zip(buffer, folder, packed, listed)
    assert buffer.getvalue() == build_package(folder.parents[1], LA, CENSUS).path.read_bytes()


def test_the_one_council_under_out(tmp_path: Path) -> None:
    with pytest.raises(PackageRefused, match="does not exist"):
        only_la_code(tmp_path / "none")
    (tmp_path / "audit.jsonl").write_text("")
    (tmp_path / "notes").mkdir()
    with pytest.raises(PackageRefused, match="holds no council"):
        only_la_code(tmp_path)
    (tmp_path / LA).mkdir()
    assert only_la_code(tmp_path) == LA
    (tmp_path / "E06000001").mkdir()
    with pytest.raises(PackageRefused, match="2 councils .*--config"):
        only_la_code(tmp_path)


@pytest.mark.parametrize("linked", ["la", "census", "transfer"])
def test_nothing_is_written_through_a_symbolic_link(tmp_path: Path, linked: str) -> None:
    """README: nothing is written through a symbolic link. A council, census or transfer folder
    that is a link would put the package (the children's data) wherever it points."""
    elsewhere = tmp_path / "elsewhere"
    out = tmp_path / "out"
    real = _submit(tmp_path / "real")  # a finished submission, reached through the link
    if linked == "la":
        out.mkdir()
        (out / LA).symlink_to(real.parent)
    elif linked == "census":
        (out / LA).mkdir(parents=True)
        (out / LA / C).symlink_to(real)
    else:
        out = real.parents[1]
        elsewhere.mkdir()
        (real / "transfer").symlink_to(elsewhere)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    with pytest.raises(OutputPathError, match="is a symbolic link"):
        build_package(out, LA, CENSUS)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
