"""The defects ledger round trip: on synthetic data with defects, every corrupted row is reported
under the rule the ledger names, nothing else is reported, and every rule of the registry the
generator does not document as never generated is exercised."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from extracts.reader import read_extracts
from flows.settings import load_settings
from schemas.rules import RULES
from schemas.validation import validate
from synth.generate import write_synthetic
from synth.recipes import skip_reason

EXTRACT_DATE = date(2026, 11, 1)


def _round_trip(folder: Path, fmt: str, families: int, rate: float, seed: int) -> None:
    summary = write_synthetic(folder, families=families, seed=seed, fmt=fmt, defects=rate)
    assert summary.ledger is not None
    ledger = pd.read_csv(summary.ledger, dtype="str")
    ledger["row"] = ledger["row"].astype("int64")
    result = validate(
        read_extracts(load_settings(None, source_path=folder).extract_source()), EXTRACT_DATE
    )

    found = result.findings.dropna(subset=["row"]).copy()
    found["row"] = found["row"].astype("int64")
    key = ["extract", "row", "column", "rule"]
    expected = set(map(tuple, ledger[key].itertuples(index=False)))
    reported = set(map(tuple, found[key].itertuples(index=False)))
    assert expected - reported == set(), "ledgered defects the validator missed"
    # Nothing but the ledgered findings is reported: no clean row is flagged, no corrupted row
    # breaks a second rule, and (a row in error having no dependants) there is no E190 either.
    assert reported - expected == set(), "findings the ledger does not hold"
    assert not (result.findings["rule"] == "E190").any()
    # Every rule of the registry that a row can break was exercised, on many of its columns.
    generated = {code for code, rule in RULES.items() if skip_reason(rule) is None}
    assert set(ledger["rule"]) == generated
    assert len(ledger[["rule", "extract", "column"]].drop_duplicates()) >= 80


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_ledgered_defect_is_reported_and_no_clean_row_is_flagged(
    tmp_path: Path, fmt: str
) -> None:
    _round_trip(tmp_path / fmt, fmt, families=300, rate=0.02, seed=11)


def test_round_trip_through_xlsx_with_excel_date_cells(tmp_path: Path) -> None:
    _round_trip(tmp_path / "xlsx", "xlsx", families=120, rate=0.05, seed=5)


def test_clean_synthetic_data_has_no_findings(tmp_path: Path) -> None:
    write_synthetic(tmp_path, families=300, seed=3)
    result = validate(
        read_extracts(load_settings(None, source_path=tmp_path).extract_source()), EXTRACT_DATE
    )
    assert result.findings.empty
    assert result.counts["quarantined"].sum() == 0
