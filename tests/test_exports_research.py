"""Writing the research extract, and how it lives beside the submission in the census folder: a
run never drops it, never leaves it behind in a folder it moves aside, and never lists it."""

from __future__ import annotations

import hashlib
import os
import stat
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

import exports.research as research
import exports.submission as submission
from exports.census_files import carry_research_files, is_research_file
from exports.freshness import finished_files_if_up_to_date
from exports.paths import OutputPathError
from exports.research import (
    ResearchTableError,
    write_research,
)
from exports.submission import SubmissionBusyError, write_failed_run_report, write_submission
from schemas.outputs import RESEARCH_COLUMNS
from transforms.changes import no_changes
from transforms.periods import Period
from transforms.research import build_research

C = CENSUS.isoformat()
NAME = f"research_{LA}_{C}.csv"


def _research(key: bytes = b"a long enough secret for the tests") -> pd.DataFrame:
    tables = sample_tables()
    return build_research(tables.individuals, tables.fpd, key)


def _submit(out: Path, replace: bool = False):
    tables = sample_tables()
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
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_written_where_section_7_says_private_and_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    table = _research()
    result = write_research(out, LA, CENSUS, table)
    path = out / LA / C / NAME
    assert result.path == path and result.status == "written" and result.kept_aside is None
    assert result.rows == len(table) == 4
    assert result.sha256 == _sha(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / LA / C).st_mode) == 0o700
    assert sorted(os.listdir(out / LA / C)) == [NAME]  # no staged or temporary file left

    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
    lines = data.decode("utf-8").split("\n")
    assert lines[0] == ",".join(RESEARCH_COLUMNS) and lines[-1] == ""
    back = pd.read_csv(path, dtype="str", keep_default_na=False)
    assert back["person_pseudonym"].tolist() == sorted(table["person_pseudonym"])
    assert set(back["census_date"]) == {C} and set(back["la_code"]) == {LA}
    assert "92.3" in set(back["attendance_pct"]) and "100.0" in set(back["attendance_pct"])
    unborn = back.loc[back["role"] == "UNBORN"].iloc[0]
    assert unborn["dob_month"] == "" and unborn["postcode_sector"] == ""


def test_same_bytes_unchanged_other_bytes_kept_beside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = write_research(out, LA, CENSUS, _research())
    inode = os.stat(first.path).st_ino

    again = write_research(out, LA, CENSUS, _research())
    assert again.status == "unchanged" and again.sha256 == first.sha256
    assert os.stat(first.path).st_ino == inode  # not even rewritten

    other = write_research(out, LA, CENSUS, _research(b"another secret altogether, rotated"))
    assert other.status == "replaced"
    assert other.kept_aside == out / LA / C / f"research_{LA}_{C}.replaced-1.csv"
    assert _sha(other.kept_aside) == first.sha256
    assert _sha(other.path) == other.sha256 != first.sha256

    third = write_research(out, LA, CENSUS, _research(b"and a third key for good measure"))
    assert third.kept_aside == out / LA / C / f"research_{LA}_{C}.replaced-2.csv"
    assert _sha(third.kept_aside) == other.sha256


@pytest.mark.parametrize("column", ["person_id", "dob", "postcode", "nhs_number", "ethnicity"])
def test_an_identifying_column_is_refused_before_anything_is_written(
    tmp_path: Path, column: str
) -> None:
    table = _research().assign(**{column: "x"})
    with pytest.raises(ResearchTableError, match=rf"identifying columns: \['{column}'\]"):
        write_research(tmp_path / "out", LA, CENSUS, table)
    assert not (tmp_path / "out").exists()


def test_a_table_breaking_the_schema_is_refused_without_its_values(tmp_path: Path) -> None:
    table = _research()
    table.loc[0, "person_pseudonym"] = "Featherstonehaugh"
    with pytest.raises(ResearchTableError) as caught:
        write_research(tmp_path / "out", LA, CENSUS, table)
    assert "person_pseudonym" in str(caught.value)
    assert "Featherstonehaugh" not in str(caught.value)
    with pytest.raises(ResearchTableError, match="another census"):
        write_research(tmp_path / "out", LA, CENSUS.replace(year=2026), _research())
    with pytest.raises(ResearchTableError, match="order"):
        write_research(tmp_path / "out", LA, CENSUS, _research()[RESEARCH_COLUMNS[::-1]])


def test_research_before_the_first_run_stays_in_the_census_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    research = write_research(out, LA, CENSUS, _research())
    result = _submit(out)
    folder = out / LA / C
    assert (folder / "manifest.json").exists()
    assert _sha(folder / NAME) == research.sha256
    assert sorted(os.listdir(out / LA)) == [C]  # nothing kept aside
    assert NAME not in result.files and NAME not in str(result.manifest)


def test_replace_carries_the_research_extract_into_the_new_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _submit(out)
    research = write_research(out, LA, CENSUS, _research())
    _submit(out, replace=True)
    folder, aside = out / LA / C, out / LA / f"{C}.replaced-1"
    assert _sha(folder / NAME) == research.sha256
    assert (aside / "manifest.json").exists() and not (aside / NAME).exists()


def test_a_report_only_folder_with_research_is_replaced_keeping_the_research(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    research = write_research(out, LA, CENSUS, _research())
    write_failed_run_report(out, LA, Period(CENSUS), sample_findings(), sample_counts())
    assert sorted(os.listdir(out / LA / C)) == [NAME, "validation_report.xlsx"]
    _submit(out)
    assert sorted(os.listdir(out / LA)) == [C]
    assert _sha(out / LA / C / NAME) == research.sha256


def test_an_odd_folder_is_kept_aside_but_its_research_extract_comes_along(tmp_path: Path) -> None:
    out = tmp_path / "out"
    research = write_research(out, LA, CENSUS, _research())
    (out / LA / C / "notes.txt").write_text("someone's notes")
    _submit(out)
    assert (out / LA / f"{C}.replaced-1" / "notes.txt").exists()
    assert not (out / LA / f"{C}.replaced-1" / NAME).exists()
    assert _sha(out / LA / C / NAME) == research.sha256


def test_a_run_dying_while_carrying_leaves_the_research_beside_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _submit(out)
    research = write_research(out, LA, CENSUS, _research())

    def die(old: Path, new: Path) -> list[Path]:
        raise OSError("killed")

    monkeypatch.setattr(submission, "carry_research_files", die)
    with pytest.raises(OSError):
        _submit(out, replace=True)
    assert _sha(out / LA / f"{C}.replaced-1" / NAME) == research.sha256
    assert (out / LA / C / "manifest.json").exists()


def test_the_research_extract_does_not_make_a_submission_stale(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _submit(out)
    hashes = {e["extract"]: e["sha256"] for e in result.manifest["input_extracts"]}
    before = finished_files_if_up_to_date(out / LA / C, hashes)
    write_research(out, LA, CENSUS, _research())
    assert finished_files_if_up_to_date(out / LA / C, hashes) == before
    assert before is not None and NAME not in before


def test_a_run_writing_the_census_holds_the_research_extract_off(tmp_path: Path) -> None:
    import fcntl

    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    with open(la_dir / f".{C}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(SubmissionBusyError):
            write_research(tmp_path / "out", LA, CENSUS, _research())
    assert not (la_dir / C).exists()


def test_a_census_folder_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    (la_dir / C).symlink_to(elsewhere)
    with pytest.raises(OutputPathError, match="is a symbolic link"):
        write_research(tmp_path / "out", LA, CENSUS, _research())
    assert os.listdir(elsewhere) == []


def test_a_census_folder_that_is_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    (la_dir / C).write_text("x")
    # A mistake to fix (exit 2), as for a link there: not a failure of the work (exit 1).
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        write_research(tmp_path / "out", LA, CENSUS, _research())
    assert (la_dir / C).read_text() == "x"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("la_code", "E09000033", "another la_code"),
        ("census_date", pd.Timestamp("2024-09-30"), "another census date"),
    ],
)
def test_one_row_of_another_council_or_census_is_refused(
    tmp_path: Path, column: str, value: object, message: str
) -> None:
    table = _research()
    assert len(table) > 1
    table.loc[table.index[-1], column] = value  # one row among good ones
    with pytest.raises(ResearchTableError, match=message):
        write_research(tmp_path / "out", LA, CENSUS, table)
    assert not (tmp_path / "out").exists()


def test_a_copy_kept_aside_never_takes_the_name_of_one_kept_before(tmp_path: Path) -> None:
    # replaced-2 was deleted by hand: the next copy kept aside is replaced-4, after the highest,
    # so replaced-3 is never overwritten.
    out = tmp_path / "out"
    first = write_research(out, LA, CENSUS, _research())
    folder = first.path.parent
    (folder / f"research_{LA}_{C}.replaced-1.csv").write_text("one\n")
    (folder / f"research_{LA}_{C}.replaced-3.csv").write_text("three\n")
    other = write_research(out, LA, CENSUS, _research(b"another secret altogether, rotated"))
    assert other.kept_aside == folder / f"research_{LA}_{C}.replaced-4.csv"
    assert _sha(other.kept_aside) == first.sha256
    assert (folder / f"research_{LA}_{C}.replaced-3.csv").read_text() == "three\n"


def test_a_census_folder_made_a_link_after_the_check_is_not_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folders are checked before the lock is taken; one replaced by a link in between is
    # caught again under the lock.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    la_dir = tmp_path / "out" / LA
    la_dir.mkdir(parents=True)
    (la_dir / C).symlink_to(elsewhere)
    monkeypatch.setattr(research, "check_output_folders", lambda *folders: None)
    with pytest.raises(research.ResearchFolderError, match="is not a folder"):
        write_research(tmp_path / "out", LA, CENSUS, _research())
    assert os.listdir(elsewhere) == []


def test_only_research_csv_files_are_the_census_folders_own() -> None:
    assert is_research_file(f"research_{LA}_{C}.csv")
    assert is_research_file(f"research_{LA}_{C}.replaced-2.csv")
    for name in (
        f"research_{LA}_{C}.xlsx",
        f"research_{LA}_{C}.csv.bak",
        f"research_{LA}_{C}.replaced-x.csv",
        f"notes_{LA}_{C}.csv",
    ):
        assert not is_research_file(name), name


def test_carrying_moves_only_plain_research_files_and_never_replaces_one(tmp_path: Path) -> None:
    old, new, elsewhere = tmp_path / "old", tmp_path / "new", tmp_path / "elsewhere"
    for folder in (old, new, elsewhere):
        folder.mkdir()
    (old / NAME).write_text("old current\n")
    (old / f"research_{LA}_{C}.replaced-1.csv").write_text("old kept\n")
    (new / f"research_{LA}_{C}.replaced-1.csv").write_text("already there\n")
    (old / f"research_{LA}_{C}.xlsx").write_text("not one\n")
    (elsewhere / "target.csv").write_text("someone else's\n")
    (old / f"research_{LA}_{C}.replaced-2.csv").symlink_to(elsewhere / "target.csv")
    moved = carry_research_files(old, new)
    assert moved == [new / NAME]
    assert (new / NAME).read_text() == "old current\n"
    assert (new / f"research_{LA}_{C}.replaced-1.csv").read_text() == "already there\n"
    assert (old / f"research_{LA}_{C}.replaced-1.csv").read_text() == "old kept\n"
    assert (old / f"research_{LA}_{C}.replaced-2.csv").is_symlink()  # a link is left alone
    assert sorted(os.listdir(new)) == [NAME, f"research_{LA}_{C}.replaced-1.csv"]


def test_carrying_from_a_folder_that_is_a_link_moves_nothing(tmp_path: Path) -> None:
    elsewhere, new = tmp_path / "elsewhere", tmp_path / "new"
    elsewhere.mkdir()
    new.mkdir()
    (elsewhere / NAME).write_text("someone else's\n")
    (tmp_path / "old").symlink_to(elsewhere)
    assert carry_research_files(tmp_path / "old", new) == []
    assert (elsewhere / NAME).read_text() == "someone else's\n"
    assert os.listdir(new) == []
