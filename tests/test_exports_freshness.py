"""When a backfill may skip a period: only a finished submission made from the same input hashes
under the same contract version, compared with the same previous submission, and whose files are
still the ones its manifest lists, is up to date; one whose files were deleted, truncated or
edited since is altered."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from exports.freshness import altered_files, finished_files_if_up_to_date, stale_reason
from exports.manifest import CONTRACT_VERSION, PreviousReference

HASHES = {"families": "a" * 64, "people": "b" * 64}
CSV = "nis_E08000012_2025-09-30_individuals.csv"
CSV_BYTES = b"la_code,person_id\nE08000012,P1\n"


def _folder(tmp_path: Path, **changes: Any) -> Path:
    (tmp_path / CSV).write_bytes(CSV_BYTES)
    manifest: dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "files": [{"name": CSV, "sha256": hashlib.sha256(CSV_BYTES).hexdigest()}],
        "input_extracts": [{"extract": k, "sha256": v} for k, v in HASHES.items()],
    }
    manifest.update(changes)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def test_same_inputs_and_contract_is_up_to_date(tmp_path: Path) -> None:
    assert finished_files_if_up_to_date(_folder(tmp_path), HASHES) == (
        "nis_E08000012_2025-09-30_individuals.csv",
        "manifest.json",
    )


def test_one_changed_input_is_not_up_to_date(tmp_path: Path) -> None:
    changed = {**HASHES, "people": "c" * 64}
    assert finished_files_if_up_to_date(_folder(tmp_path), changed) is None


def test_another_contract_version_is_not_up_to_date(tmp_path: Path) -> None:
    folder = _folder(tmp_path, contract_version="0")
    assert finished_files_if_up_to_date(folder, HASHES) is None


def test_no_or_unreadable_manifest_is_not_up_to_date(tmp_path: Path) -> None:
    assert finished_files_if_up_to_date(tmp_path, HASHES) is None
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    assert finished_files_if_up_to_date(tmp_path, HASHES) is None


def test_a_version_1_submission_is_not_up_to_date_under_version_2(tmp_path: Path) -> None:
    assert CONTRACT_VERSION == "2"
    assert finished_files_if_up_to_date(_folder(tmp_path, contract_version="1"), HASHES) is None


def test_another_previous_submission_is_not_up_to_date(tmp_path: Path) -> None:
    before = PreviousReference(date(2025, 3, 31), "d" * 64)
    folder = _folder(tmp_path, previous=before.as_json())
    assert finished_files_if_up_to_date(folder, HASHES, before) is not None
    # The previous submission was replaced since, or is gone.
    replaced = PreviousReference(date(2025, 3, 31), "e" * 64)
    assert finished_files_if_up_to_date(folder, HASHES, replaced) is None
    assert finished_files_if_up_to_date(folder, HASHES, None) is None
    # Written with none, and one has appeared since.
    (tmp_path / "alone").mkdir()
    alone = _folder(tmp_path / "alone", previous=None)
    assert finished_files_if_up_to_date(alone, HASHES, None) is not None
    assert finished_files_if_up_to_date(alone, HASHES, before) is None


def test_unaltered_files_are_not_altered(tmp_path: Path) -> None:
    assert altered_files(_folder(tmp_path)) == ()


@pytest.mark.parametrize(
    "alter",
    [
        lambda p: p.unlink(),
        lambda p: p.write_bytes(CSV_BYTES[:10]),  # truncated
        lambda p: p.write_bytes(CSV_BYTES.replace(b"P1", b"P2")),  # edited, same size
        lambda p: (p.unlink(), p.symlink_to(p.parent / "elsewhere.csv")),
    ],
    ids=["deleted", "truncated", "edited", "replaced-by-a-link"],
)
def test_a_file_changed_since_is_altered_and_not_up_to_date(tmp_path: Path, alter: Any) -> None:
    folder = _folder(tmp_path)
    (folder / "elsewhere.csv").write_bytes(CSV_BYTES)
    alter(folder / CSV)
    assert altered_files(folder) == (CSV,)
    assert finished_files_if_up_to_date(folder, HASHES) is None


def test_a_manifest_naming_a_file_outside_its_folder_is_altered(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    outside = "../" + tmp_path.name + "/" + CSV
    folder = _folder(
        tmp_path / "sub",
        files=[{"name": outside, "sha256": hashlib.sha256(CSV_BYTES).hexdigest()}],
    )
    (tmp_path / CSV).write_bytes(CSV_BYTES)
    assert altered_files(folder) == (outside,)


def test_no_manifest_is_nothing_altered(tmp_path: Path) -> None:
    # A folder without a manifest is not a finished submission (a failed run's report).
    assert altered_files(tmp_path) == ()


def test_other_settings_that_shape_the_files_are_not_up_to_date(tmp_path: Path) -> None:
    folder = _folder(tmp_path, settings_sha256="f" * 64)
    assert finished_files_if_up_to_date(folder, HASHES, None, "f" * 64) is not None
    assert finished_files_if_up_to_date(folder, HASHES, None, "0" * 64) is None
    # A caller that does not know the settings does not judge them.
    assert finished_files_if_up_to_date(folder, HASHES) is not None


def test_the_settings_digest_follows_the_column_map_and_a_set_extract_date() -> None:
    from datetime import date as day

    from flows.settings import Settings

    plain = Settings()
    mapped = Settings(column_map={"people": {"Date of Birth": "dob"}})
    spelled = Settings(column_map={"people": {" date of birth ": "DOB"}})
    dated = Settings(extract_date=day(2026, 4, 20))
    assert len({plain.results_sha256(), mapped.results_sha256(), dated.results_sha256()}) == 3
    assert spelled.results_sha256() == mapped.results_sha256()  # matched as headers are
    # The threshold decides whether a submission is written, not what it holds.
    assert Settings(quarantine_threshold=0.2).results_sha256() == plain.results_sha256()


def test_why_a_finished_submission_is_not_what_a_run_would_write() -> None:
    """The refusal said only "made from other inputs or settings ..., or compared with another
    previous submission": after `nis purge` of the census before, a person could not tell
    which, nor whether replacing would lose anything."""
    from exports.freshness import stale_reason

    before = PreviousReference(date(2025, 3, 31), "d" * 64)
    made: dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "input_extracts": [{"extract": k, "sha256": v} for k, v in HASHES.items()],
        "previous": before.as_json(),
        "settings_sha256": "f" * 64,
    }
    assert stale_reason(made, HASHES, before, "f" * 64) is None
    assert stale_reason(made, HASHES, None, "f" * 64) == (
        "compared with the submission of 2025-03-31, which is no longer in the output folder "
        "(purged or moved)"
    )
    replaced = PreviousReference(date(2025, 3, 31), "e" * 64)
    assert stale_reason(made, HASHES, replaced, "f" * 64) == (
        "compared with the submission of 2025-03-31 as it was then; it has been replaced"
    )
    assert stale_reason({**made, "previous": None}, HASHES, before, "f" * 64) == (
        "compared with no previous submission, and the one of 2025-03-31 has been written since"
    )
    changed = {**HASHES, "people": "c" * 64, "offences": "0" * 64}
    assert stale_reason(made, changed, before, "f" * 64) == (
        "made from other extracts (offences, people)"
    )
    assert stale_reason(made, HASHES, before, "0" * 64) == (
        "made with other settings (the column map, or a set extract date)"
    )
    assert stale_reason({**made, "previous": "edited"}, HASHES, None, "f" * 64) == (
        "compared with a previous submission its manifest does not name"
    )
    assert stale_reason({**made, "contract_version": "1"}, HASHES, before) == (
        f"made under version 1 of the contract (now {CONTRACT_VERSION})"
    )


def test_a_manifest_listing_no_files_is_altered(tmp_path: Path) -> None:
    # A finished run lists every file it wrote: an empty list was never written by one.
    folder = _folder(tmp_path, files=[])
    assert altered_files(folder) == ("manifest.json",)
    assert finished_files_if_up_to_date(folder, HASHES) is None


def test_no_inputs_on_either_side_is_not_the_same_inputs() -> None:
    manifest = {"contract_version": CONTRACT_VERSION, "files": []}
    assert stale_reason(manifest, {}) == "made from other extracts (none recorded)"
