"""Reading the previous census date's finished submission back (exports.previous), and the
changes file and version-2 manifest that write_submission makes from it (spec section 6)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from exports_builders import (
    CENSUS,
    LA,
    sample_counts,
    sample_findings,
    sample_tables,
    statistics_of,
)

from exports.manifest import PreviousReference
from exports.previous import (
    PreviousSubmissionError,
    previous_reference,
    read_individuals_csv,
    read_previous,
)
from exports.submission import write_failed_run_report, write_submission
from exports.tables import SubmissionTableError, prepare_tables
from schemas.outputs import CHANGE_KINDS
from transforms.changes import changes_since, no_changes
from transforms.periods import Period
from transforms.submission import SubmissionTables

BEFORE = date(2025, 3, 31)  # the census date before CENSUS (2025-09-30)
B = BEFORE.isoformat()
PREVIOUS_FILE = f"nis_{LA}_{B}_individuals.csv"


def _at(tables: SubmissionTables, census: date) -> SubmissionTables:
    stamp = pd.Timestamp(census).as_unit("ns")
    return SubmissionTables(
        tables.individuals.assign(census_date=stamp),
        tables.fpd.assign(census_date=stamp),
        tables.opted_out,
    )


def _write(out: Path, census: date, tables: SubmissionTables, **kwargs):
    kwargs.setdefault("changes", no_changes())
    kwargs.setdefault("previous", None)
    return write_submission(
        out,
        LA,
        Period(census),
        tables,
        statistics_of(tables),
        sample_findings(),
        sample_counts(),
        **kwargs,
    )


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """OUT holding a finished submission for BEFORE."""
    root = tmp_path / "out"
    _write(root, BEFORE, _at(sample_tables(), BEFORE))
    return root


def test_the_previous_individuals_come_back_in_the_output_dtypes(out: Path) -> None:
    found = read_previous(out, LA, CENSUS)
    assert found is not None
    assert found.folder == out / LA / B
    expected = prepare_tables(_at(sample_tables(), BEFORE), LA, Period(BEFORE)).individuals
    pd.testing.assert_frame_equal(found.individuals, expected, check_exact=True)
    # text str, dates datetime64[ns], flags Int64; an empty field is missing
    assert str(found.individuals["forename"].dtype) == "str"
    assert str(found.individuals["dob"].dtype) == "datetime64[ns]"
    assert str(found.individuals["p_health"].dtype) == "Int64"
    unborn = found.individuals.set_index("person_id").loc["P10"]
    assert pd.isna(unborn["forename"]) and pd.isna(unborn["dob"])
    manifest = json.loads((out / LA / B / "manifest.json").read_text())
    recorded = [f["sha256"] for f in manifest["files"] if f["name"] == PREVIOUS_FILE]
    assert found.reference == PreviousReference(BEFORE, recorded[0])
    assert previous_reference(out, LA, CENSUS) == found.reference


def test_text_that_looks_like_a_missing_value_stays_text(tmp_path: Path) -> None:
    tables = sample_tables()
    people = tables.individuals.copy()
    people["surname"] = people["surname"].mask(people["person_id"] == "P3", "NA")
    people["forename"] = people["forename"].mask(people["person_id"] == "P3", "null")
    _write(tmp_path, BEFORE, _at(SubmissionTables(people, tables.fpd, 0), BEFORE))
    back = read_individuals_csv(tmp_path / LA / B / PREVIOUS_FILE).set_index("person_id")
    assert back.loc["P3", "surname"] == "NA" and back.loc["P3", "forename"] == "null"


def test_no_finished_previous_submission_is_none(tmp_path: Path) -> None:
    assert read_previous(tmp_path, LA, CENSUS) is None
    # An older census date is not the previous one.
    _write(tmp_path, date(2024, 9, 30), _at(sample_tables(), date(2024, 9, 30)))
    assert read_previous(tmp_path, LA, CENSUS) is None
    # Nor is a failed run's report-only folder (no manifest).
    write_failed_run_report(tmp_path, LA, Period(BEFORE), sample_findings(), sample_counts())
    assert (tmp_path / LA / B / "validation_report.xlsx").is_file()
    assert read_previous(tmp_path, LA, CENSUS) is None
    assert previous_reference(tmp_path, LA, CENSUS) is None


def test_a_folder_kept_aside_is_not_the_previous_submission(out: Path) -> None:
    (out / LA / B).rename(out / LA / f"{B}.replaced-1")
    assert read_previous(out, LA, CENSUS) is None


def test_an_altered_previous_file_stops_the_comparison(out: Path) -> None:
    path = out / LA / B / PREVIOUS_FILE
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Lovelace", "Lovelacf"), encoding="utf-8")
    with pytest.raises(PreviousSubmissionError, match="altered") as error:
        read_previous(out, LA, CENSUS)
    message = str(error.value)
    assert PREVIOUS_FILE in message and str(out / LA / B) in message
    assert "Lovelac" not in message and "\n" not in message


def test_a_lost_previous_file_stops_the_comparison(out: Path) -> None:
    (out / LA / B / PREVIOUS_FILE).unlink()
    with pytest.raises(PreviousSubmissionError, match=f"lost {PREVIOUS_FILE}"):
        read_previous(out, LA, CENSUS)


def test_a_manifest_of_another_census_or_unreadable_stops_the_comparison(out: Path) -> None:
    manifest_path = out / LA / B / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "census_date": "2024-09-30"}))
    with pytest.raises(PreviousSubmissionError, match="is not that of"):
        read_previous(out, LA, CENSUS)
    with pytest.raises(PreviousSubmissionError, match="is not that of"):
        previous_reference(out, LA, CENSUS)
    manifest_path.write_text("{half")
    with pytest.raises(PreviousSubmissionError, match="cannot be read"):
        read_previous(out, LA, CENSUS)


def test_a_file_that_is_not_an_individuals_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("family_id,person_id\nF1,P1\n", encoding="utf-8")
    with pytest.raises(PreviousSubmissionError, match="columns of an individuals file"):
        read_individuals_csv(path)
    good = _write(tmp_path / "o", BEFORE, _at(sample_tables(), BEFORE)).folder / PREVIOUS_FILE
    bad = tmp_path / "bad.csv"
    bad.write_text(
        good.read_text(encoding="utf-8").replace("1985-03-04", "04/03/1985"), encoding="utf-8"
    )
    with pytest.raises(PreviousSubmissionError, match="column dob holds") as error:
        read_individuals_csv(bad)
    assert "1985" not in str(error.value)
    # The contract's columns in another order are not the contract's file either.
    text = pd.read_csv(good, dtype="str", keep_default_na=False)
    reordered = tmp_path / "reordered.csv"
    text[[*text.columns[1:], text.columns[0]]].to_csv(reordered, index=False)
    with pytest.raises(PreviousSubmissionError, match="columns of an individuals file"):
        read_individuals_csv(reordered)


def _current() -> SubmissionTables:
    """This census: P2 left, P9 joined, P1's postcode changed."""
    tables = sample_tables()
    people = tables.individuals
    people = people[people["person_id"] != "P2"].copy()
    people["postcode"] = people["postcode"].mask(people["person_id"] == "P1", "L2 2AA")
    joined = people[people["person_id"] == "P3"].assign(person_id="P9")
    return SubmissionTables(pd.concat([people, joined], ignore_index=True), tables.fpd, 0)


def test_the_submission_writes_the_changes_and_names_the_previous_one(out: Path) -> None:
    previous = read_previous(out, LA, CENSUS)
    assert previous is not None
    current = _current()
    changes = changes_since(previous.individuals, current.individuals, BEFORE)
    result = _write(out, CENSUS, current, changes=changes, previous=previous.reference)
    name = f"changes_{LA}_{CENSUS.isoformat()}.csv"
    assert (result.folder / name).read_text(encoding="utf-8") == (
        "family_id,person_id,change,field,previous,current\n"
        "F1,P1,IDENTIFIER_CHANGED,postcode,,\n"
        "F1,P2,LEFT,,,\n"
        "F10,P9,JOINED,,,\n"
    )
    manifest = result.manifest
    assert manifest["contract_version"] == "2"
    assert manifest["previous"] == {
        "census_date": B,
        "individuals_sha256": previous.reference.individuals_sha256,
    }
    assert manifest["change_counts"] == [
        {"change": kind, "rows": {"JOINED": 1, "LEFT": 1, "IDENTIFIER_CHANGED": 1}.get(kind, 0)}
        for kind in CHANGE_KINDS
    ]
    entry = [f for f in manifest["files"] if f["name"] == name]
    assert entry == [
        {"name": name, "rows": 3, "sha256": entry[0]["sha256"], "internal": True},
    ]
    assert [f["name"] for f in manifest["files"]][-2:] == ["validation_report.xlsx", name]


def test_changes_with_an_identifier_value_are_never_written(out: Path) -> None:
    leak = pd.DataFrame(
        {
            "family_id": ["F1"],
            "person_id": ["P1"],
            "change": ["IDENTIFIER_CHANGED"],
            "field": ["nino"],
            "previous": ["AB123456C"],
            "current": ["AB123456D"],
        },
        dtype="str",
    )
    reference = PreviousReference(BEFORE, "0" * 64)
    with pytest.raises(SubmissionTableError, match="values only for") as error:
        _write(out, CENSUS, _current(), changes=leak, previous=reference)
    assert "AB123456" not in str(error.value)
    assert not (out / LA / CENSUS.isoformat()).exists()


def test_changes_without_a_previous_submission_are_refused(tmp_path: Path) -> None:
    joined = pd.DataFrame(
        {"family_id": ["F1"], "person_id": ["P1"], "change": ["JOINED"]}, dtype="str"
    ).assign(field=None, previous=None, current=None)
    joined = joined.astype("str")
    with pytest.raises(ValueError, match="without the previous submission"):
        _write(tmp_path, CENSUS, _current(), changes=joined, previous=None)


def test_a_version_1_previous_submission_is_read_alike(out: Path, tmp_path: Path) -> None:
    # Sections 1-5 are unchanged in version 2: a version-1 folder's individuals file compares.
    folder = out / LA / B
    manifest = json.loads((folder / "manifest.json").read_text())
    old = {k: v for k, v in manifest.items() if k not in ("previous", "change_counts")}
    old["contract_version"] = "1"
    old["files"] = [
        {k: v for k, v in f.items() if k != "internal"}
        for f in manifest["files"]
        if not f["name"].startswith("changes_")
    ]
    (folder / "manifest.json").write_text(json.dumps(old))
    (folder / f"changes_{LA}_{B}.csv").unlink()
    found = read_previous(out, LA, CENSUS)
    assert found is not None and len(found.individuals) == 6
    shutil.rmtree(folder)
    assert read_previous(out, LA, CENSUS) is None
