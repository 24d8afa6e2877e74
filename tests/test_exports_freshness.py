"""When a backfill may skip a period: only a finished submission made from the same input hashes
under the same contract version, compared with the same previous submission, is up to date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from exports.freshness import finished_files_if_up_to_date
from exports.manifest import CONTRACT_VERSION, PreviousReference

HASHES = {"families": "a" * 64, "people": "b" * 64}


def _folder(tmp_path: Path, **changes: Any) -> Path:
    manifest: dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "files": [{"name": "nis_E08000012_2025-09-30_individuals.csv"}],
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
