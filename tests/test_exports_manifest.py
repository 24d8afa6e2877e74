"""``manifest.json`` built and read back on small hand-made inputs: what each field holds when a
value is missing, fractional or not ASCII, and what is refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exports.manifest import (
    MANIFEST_NAME,
    PreviousReference,
    build_manifest,
    manifest_json,
    read_manifest,
)
from transforms.changes import no_changes
from transforms.periods import Period

PERIOD = Period.of("2026-03-31")


def _counts() -> pd.DataFrame:
    # In reverse contract order, as a caller may hold them; a source name that is not ASCII; a
    # missing value (NaN, as pandas holds one in a column of numbers or of objects); counts as
    # floats, as a column with a missing value becomes.
    return pd.DataFrame(
        {
            "extract": ["people", "families"],
            "source": ["personnes_été.csv", "families.csv"],
            "sha256": [np.nan, "a" * 64],
            "rows_read": [4.0, 2.0],
            "quarantined": [1.0, 0.0],
            "warned": [2.0, 0.0],
        }
    )


def _manifest(**kwargs: object) -> dict[str, object]:
    arguments: dict[str, object] = {"previous": None, "changes": no_changes()}
    arguments.update(kwargs)
    return build_manifest("E08000012", PERIOD, [], _counts(), 3, **arguments)  # type: ignore[arg-type]


def test_extract_counts_are_whole_numbers_in_contract_order_and_missing_is_null() -> None:
    manifest = _manifest()
    assert manifest["input_extracts"] == [
        {
            "extract": "families",
            "source": "families.csv",
            "sha256": "a" * 64,
            "rows_read": 2,
            "quarantined": 0,
            "warned": 0,
        },
        {
            "extract": "people",
            "source": "personnes_été.csv",
            "sha256": None,
            "rows_read": 4,
            "quarantined": 1,
            "warned": 2,
        },
    ]
    text = manifest_json(manifest)
    # Valid JSON (no NaN), whole numbers written as such, UTF-8 left readable.
    assert json.loads(text)["input_extracts"][1]["sha256"] is None
    assert "NaN" not in text and '"quarantined": 1,' in text and '"warned": 2' in text
    assert "personnes_été.csv" in text and "\\u00e9" not in text
    assert text.endswith("}\n")


def test_fields_with_nothing_to_say_are_empty_not_missing() -> None:
    manifest = _manifest()
    assert manifest["files_not_written"] == []
    assert manifest["previous"] is None and manifest["change_counts"] is None
    assert "settings_sha256" not in manifest
    assert _manifest(settings_sha256="f" * 64)["settings_sha256"] == "f" * 64


def test_changes_without_the_submission_they_compare_with_are_refused() -> None:
    changes = pd.DataFrame(
        {"family_id": ["F1"], "person_id": ["P1"], "change": ["JOINED"], "field": [None]}
    )
    with pytest.raises(ValueError, match="without the previous submission"):
        _manifest(changes=changes)
    previous = PreviousReference(date(2025, 9, 30), "b" * 64)
    assert _manifest(previous=previous)["previous"] == {
        "census_date": "2025-09-30",
        "individuals_sha256": "b" * 64,
    }


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ('{"la_code": "E08000012"}\n', {"la_code": "E08000012"}),
        ('["not", "a", "manifest"]\n', None),
        ("{not json", None),
    ],
    ids=["object", "array", "broken"],
)
def test_read_manifest_takes_only_a_json_object(tmp_path: Path, text: str, read: object) -> None:
    (tmp_path / MANIFEST_NAME).write_text(text, encoding="utf-8")
    assert read_manifest(tmp_path) == read
    assert read_manifest(tmp_path / "no-such-folder") is None
