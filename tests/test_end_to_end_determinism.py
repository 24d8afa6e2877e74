"""Same inputs and census date, byte-identical CSVs and the same output hashes, whatever the
order of the rows in the extracts (spec sections 5 and 6, the changes file included). Runs the
real reader, validator, transforms and exports on synthetic data."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from exports.previous import read_previous
from exports.submission import write_submission
from extracts.reader import read_extracts
from flows.settings import load_settings
from schemas.models import EXTRACT_NAMES
from schemas.validation import validate
from synth.generate import write_synthetic
from transforms.changes import changes_since, no_changes
from transforms.periods import Period
from transforms.statistics import build_statistics
from transforms.submission import build_submission

PERIOD = Period.of("2025-09-30")
PREVIOUS = Period.of("2025-03-31")


def _submit(source: Path, out: Path) -> Path:
    """The submissions of PREVIOUS and CENSUS, the second with its changes since the first, as
    the flow makes them; returns the second folder."""
    settings = load_settings(None, source_path=source, extract_date=date(2026, 11, 1))
    result = validate(read_extracts(settings.extract_source()), settings.resolved_extract_date())
    la = result.la_code or ""
    for period in (PREVIOUS, PERIOD):
        tables = build_submission(result.clean, period)
        previous = read_previous(out, la, period.census)
        changes = (
            no_changes()
            if previous is None
            else changes_since(previous.individuals, tables.individuals, previous.reference.census)
        )
        written = write_submission(
            out,
            la,
            period,
            tables,
            build_statistics(tables),
            result.findings,
            result.counts,
            changes=changes,
            previous=None if previous is None else previous.reference,
        )
    return written.folder


def _shuffle_every_extract(source: Path, target: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    target.mkdir()
    for name in EXTRACT_NAMES:
        frame = pd.read_csv(source / f"{name}.csv", dtype="str", keep_default_na=False)
        frame = frame.iloc[rng.permutation(len(frame))]
        frame.to_csv(target / f"{name}.csv", index=False, lineterminator="\n")


def test_shuffled_extracts_give_byte_identical_csvs_and_hashes(tmp_path: Path) -> None:
    source = tmp_path / "extracts"
    write_synthetic(source, families=150, seed=21)
    shuffled = tmp_path / "shuffled"
    _shuffle_every_extract(source, shuffled, seed=4)

    first = _submit(source, tmp_path / "out1")
    again = _submit(source, tmp_path / "out2")
    from_shuffled = _submit(shuffled, tmp_path / "out3")

    csvs = sorted(p.name for p in first.glob("*.csv"))
    assert len(csvs) == 4
    for name in csvs:
        assert (first / name).read_bytes() == (again / name).read_bytes()
        assert (first / name).read_bytes() == (from_shuffled / name).read_bytes()
    # Same inputs: the whole manifest is identical, no timestamps or machine names in it.
    assert (first / "manifest.json").read_bytes() == (again / "manifest.json").read_bytes()

    def output_hashes(folder: Path) -> dict[str, str]:
        manifest = json.loads((folder / "manifest.json").read_text())
        return {f["name"]: f["sha256"] for f in manifest["files"] if f["name"].endswith(".csv")}

    assert output_hashes(first) == output_hashes(from_shuffled)
    # Not trivially equal: the submission holds people, in order.
    individuals = pd.read_csv(next(first.glob("*_individuals.csv")), dtype="str")
    assert len(individuals) > 100
    keys = list(zip(individuals["family_id"], individuals["person_id"], strict=True))
    assert keys == sorted(keys)
    # The changes file compares with the real previous submission and is not empty.
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["previous"]["census_date"] == PREVIOUS.label
    assert sum(entry["rows"] for entry in manifest["change_counts"]) > 0
