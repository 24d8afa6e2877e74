"""The synthetic extract generator: determinism, realistic shapes, valid identifiers, formats,
encodings and an exact defects ledger."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import codes
from schemas.identifiers import (
    nhs_is_valid,
    nino_is_valid,
    normalise,
    postcode_is_valid,
    upn_is_valid,
)
from schemas.models import EXTRACT_NAMES, allowed_codes
from schemas.rules import RULES
from synth.calendar import EXTRACT_DATE
from synth.generate import (
    LEDGER_NAME,
    MARKER_NAME,
    NotSyntheticFolder,
    generate_tables,
    write_synthetic,
)
from synth.recipes import column_kind, skip_reason
from synth.vocab import FEMALE_FORENAMES, MALE_FORENAMES, SURNAMES

# Every rule of the registry but those the generator documents as never generated.
LEDGER_RULES = sorted(code for code, rule in RULES.items() if skip_reason(rule) is None)


def _all_names() -> list[str]:
    """Every forename and surname the generator can write."""
    return [*FEMALE_FORENAMES.tolist(), *MALE_FORENAMES.tolist(), *SURNAMES.tolist()]


def _read_csv(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _date(text: pd.Series) -> pd.Series:
    """ISO or UK text to dates (clean files only hold valid ones)."""
    iso = pd.to_datetime(text.where(text.str.contains("-")), format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(text.where(text.str.contains("/")), format="%d/%m/%Y", errors="coerce")
    return iso.fillna(uk)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("clean")
    summary = write_synthetic(out, families=1500, seed=42)
    return out, summary


@pytest.fixture(scope="module")
def clean_frames(clean: tuple[Path, object]) -> dict[str, pd.DataFrame]:
    out, _ = clean
    return {name: _read_csv(out / f"{name}.csv") for name in EXTRACT_NAMES}


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("defects")
    summary = write_synthetic(out, families=2000, seed=7, defects=0.02)
    return out, summary


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    write_synthetic(tmp_path / "a", families=300, seed=11, fmt=fmt, defects=0.03)
    write_synthetic(tmp_path / "b", families=300, seed=11, fmt=fmt, defects=0.03)
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert len(first) == 12  # ten extracts, the ledger and the marker
    assert first == second


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "a", families=200, seed=1)
    write_synthetic(tmp_path / "b", families=200, seed=2)
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert all(first[name] != second[name] for name in first if name != MARKER_NAME)


def test_xlsx_holds_no_time_of_writing(tmp_path: Path) -> None:
    """openpyxl stamps the save time into docProps/core.xml and zipfile the time into every
    entry: both are fixed, so two writes a second apart are the same bytes too."""
    write_synthetic(tmp_path / "a", families=40, seed=5, fmt="xlsx", defects=0.05)
    for name in EXTRACT_NAMES:
        with zipfile.ZipFile(tmp_path / "a" / f"{name}.xlsx") as book:
            assert {e.date_time for e in book.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = book.read("docProps/core.xml").decode()
        assert re.findall(r"<dcterms:(\w+)[^>]*>([^<]*)<", core) == [
            ("created", "2026-10-31T00:00:00Z"),
            ("modified", "2026-10-31T00:00:00Z"),
        ]
        cells = pd.read_excel(tmp_path / "a" / f"{name}.xlsx", dtype=object, engine="openpyxl")
        assert len(cells.columns) > 0


def test_defects_leave_kept_clean_rows_unchanged() -> None:
    """Adding defects changes the corrupted rows and strips their families, nothing else."""
    clean, _ = generate_tables(400, seed=3)
    dirty, ledger = generate_tables(400, seed=3, defects=0.02)
    assert ledger is not None
    touched = {p for e, rows, *_ in ledger.entries if e == "offences" for p in rows.tolist()}
    kept_ids = set(dirty["people"].columns["person_id"].tolist())
    before = clean["offences"].columns
    after = dirty["offences"].columns
    expected = [
        (p, d)
        for p, d in zip(before["person_id"], before["offence_date"], strict=True)
        if p in kept_ids
    ]
    untouched = [
        (p, d)
        for i, (p, d) in enumerate(zip(after["person_id"], after["offence_date"], strict=True))
        if i not in touched
    ]
    assert len(expected) == len(after["person_id"])
    assert set(untouched) <= set(expected)


# -- shapes ------------------------------------------------------------------------------------


def test_every_extract_is_written_with_the_contract_headers(clean, clean_frames) -> None:
    out, summary = clean
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MARKER_NAME, *(f"{n}.csv" for n in EXTRACT_NAMES)]
    )
    for name, frame in clean_frames.items():
        model_columns = [
            c
            for c in __import__("schemas.models", fromlist=["MODELS"])
            .MODELS[name]
            .to_schema()
            .columns
        ]
        assert list(frame.columns) == model_columns
        assert len(frame) == summary.rows[name] > 0
    assert summary.ledger is None


def test_csv_lines_are_rows(clean) -> None:
    out, summary = clean
    for name in EXTRACT_NAMES:
        lines = (out / f"{name}.csv").read_bytes().split(b"\n")
        assert lines[-1] == b""
        assert len(lines) - 2 == summary.rows[name]
        assert b'"' not in (out / f"{name}.csv").read_bytes()
        assert len({line.count(b",") for line in lines[:-1]}) == 1


def test_families(clean_frames) -> None:
    f = clean_frames["families"]
    assert f["family_id"].is_unique
    assert f["family_id"].str.fullmatch(r"F\d{7}").all()
    assert (f["la_code"] == "E08000012").all()
    assert set(f["status"]) == set(codes.FAMILY_STATUSES)
    identified = _date(f["date_identified"])
    started = _date(f["date_support_started"].replace("", None))
    ended = _date(f["date_support_ended"].replace("", None))
    claim = _date(f["claim_date"].replace("", None))
    assert identified.min() < pd.Timestamp("2020-01-01")
    assert identified.max() > pd.Timestamp("2026-01-01")
    supported = f["status"].isin(["ATTACHED", "CLOSED"])
    assert started[supported].notna().all() and started[~supported].isna().all()
    assert (started[supported] >= identified[supported]).all()
    closed = f["status"] == "CLOSED"
    assert ended[closed].notna().all() and ended[~closed].isna().all()
    assert (ended[closed] >= started[closed]).all()
    claimed = f["claim_type"] != ""
    assert set(f.loc[claimed, "claim_type"]) == {"SSP", "CE"}
    assert (claimed <= closed).all()
    assert claim[claimed].notna().all() and claim[~claimed].isna().all()
    assert (claim[claimed] >= started[claimed]).all()


def test_family_sizes_and_roles(clean_frames) -> None:
    p = clean_frames["people"]
    f = clean_frames["families"]
    assert p["person_id"].is_unique
    assert p["person_id"].str.fullmatch(r"P\d{8}").all()
    assert p["family_id"].isin(f["family_id"]).all()
    sizes = p.groupby("family_id").size()
    assert len(sizes) == len(f)
    assert sizes.min() == 1 and sizes.max() == 8
    assert 3.0 < sizes.mean() < 4.0
    assert set(p["role"]) == set(codes.ROLES)
    assert (p.groupby("family_id")["role"].apply(lambda r: (r == "MAIN_CARER").sum()) == 1).all()


def test_ages_are_plausible(clean_frames) -> None:
    p = clean_frames["people"]
    f = clean_frames["families"].set_index("family_id")
    dob = _date(p["dob"].replace("", None))
    expected = _date(p["expected_dob"].replace("", None))
    unborn = p["role"] == "UNBORN"
    assert dob[unborn].isna().all() and expected[unborn].notna().all()
    assert dob[~unborn].notna().all() and expected[~unborn].isna().all()
    identified = _date(p["family_id"].map(f["date_identified"]))
    age = (identified - dob).dt.days / 365.25
    child = p["role"] == "CHILD"
    assert (dob[child] + pd.DateOffset(years=18) > identified[child]).all()
    assert age[child].max() > 15
    carers = p["role"] == "MAIN_CARER"
    assert age[carers].min() >= 18 and age[carers].max() < 70
    extract = pd.Timestamp(EXTRACT_DATE)
    assert (dob.dropna() <= extract).all()
    assert (dob.dropna() > extract - pd.DateOffset(years=110)).all()


def test_identifiers_are_valid(clean_frames) -> None:
    p = clean_frames["people"]

    def present(column: str) -> pd.Series:
        return normalise(p[column].replace("", None).astype("str")).dropna()

    ninos, upns, nhs, postcodes = (
        present("nino"),
        present("upn"),
        present("nhs_number"),
        present("postcode"),
    )
    assert len(ninos) > 0.35 * len(p) and nino_is_valid(ninos).all()
    assert len(upns) > 0.2 * len(p) and upn_is_valid(upns).all()
    assert upns.str.match(r".*[A-Z]$").any()  # some temporary UPNs
    assert len(nhs) > 0.7 * len(p) and nhs_is_valid(nhs).all()
    assert len(postcodes) > 0.9 * len(p) and postcode_is_valid(postcodes).all()
    # Written as people write them: spaced, unspaced, lower case.
    assert p["nino"].str.contains(" ").any() and p["nino"].str.contains("[a-z]").any()
    assert p["postcode"].str.fullmatch(r"[a-z0-9]+").any()
    assert p["postcode"].str.fullmatch(r"[A-Z0-9]+ [A-Z0-9]{3}").any()
    assert p["nhs_number"].str.contains(" ").any()


def test_people_text_columns(clean_frames) -> None:
    p = clean_frames["people"]
    assert set(p["gender"].str.upper().replace(codes.GENDER_ALIASES)) == set(codes.GENDERS)
    assert {"Male", "Female"} <= set(p["gender"])
    assert p["surname"].str.contains("'").any()
    assert (p["forename"] + p["surname"]).map(lambda s: not s.isascii()).any()
    assert set(p["nis_opt_out"]) == {"", "0", "1"}
    joined = _date(p["date_joined"].replace("", None))
    left = _date(p["date_left"].replace("", None))
    both = joined.notna() & left.notna()
    assert joined.notna().any() and left.notna().any()
    assert (left[both] >= joined[both]).all()


def test_eligibility(clean_frames) -> None:
    e = clean_frames["eligibility"]
    per_family = e.groupby("family_id").size()
    assert per_family.min() >= 2
    assert len(per_family) == len(clean_frames["families"])
    assert set(e["problem"]) == set(codes.PROBLEMS)
    assert not e.duplicated(["family_id", "problem", "person_id"]).any()
    named = e["person_id"] != ""
    people = clean_frames["people"].set_index("person_id")["family_id"]
    assert (e.loc[named, "person_id"].map(people) == e.loc[named, "family_id"]).all()


def test_school_attendance(clean_frames) -> None:
    a = clean_frames["school_attendance"]
    assert not a.duplicated(["person_id", "term_start"]).any()
    start, end = _date(a["term_start"]), _date(a["term_end"])
    assert (end > start).all()
    assert set(start.dt.month) == {1, 4, 9}
    possible = a["possible_sessions"].astype(int)
    absent = a["authorised_absence_sessions"].astype(int) + a[
        "unauthorised_absence_sessions"
    ].astype(int)
    assert (absent <= possible).all() and (possible <= 140).all()
    assert 110 <= possible.median() <= 136
    rate = absent.sum() / possible.sum()
    assert 0.04 < rate < 0.2
    roles = clean_frames["people"].set_index("person_id")["role"]
    assert (a["person_id"].map(roles) == "CHILD").all()


def test_events_refer_to_people(clean_frames) -> None:
    ids = set(clean_frames["people"]["person_id"])
    for name in EXTRACT_NAMES[2:]:
        named = clean_frames[name]["person_id"]
        assert named[named != ""].isin(ids).all(), name
    assert set(clean_frames["exclusions"]["exclusion_type"]) == set(codes.EXCLUSION_TYPES)
    da = clean_frames["domestic_abuse_incidents"]
    assert set(da["involvement"]) == {"", *codes.DA_INVOLVEMENTS}
    home = clean_frames["people"].set_index("person_id")["family_id"]
    named = da["person_id"] != ""
    assert 0 < named.mean() < 1
    assert (da.loc[named, "person_id"].map(home) == da.loc[named, "family_id"]).all()


@pytest.mark.parametrize("name", ["social_care_episodes", "employment_spells"])
def test_episodes_and_spells(clean_frames, name: str) -> None:
    frame = clean_frames[name]
    start = _date(frame["start_date"])
    end = _date(frame["end_date"].replace("", None))
    assert end.isna().any() and end.notna().any()
    assert (end.dropna() >= start[end.notna()]).all()
    assert start.max() <= pd.Timestamp("2026-09-30")
    kinds = codes.EPISODE_TYPES if name == "social_care_episodes" else codes.SPELL_TYPES
    assert set(frame.iloc[:, 1]) == set(kinds)


def test_employment_spells_touch_and_overlap(clean_frames) -> None:
    s = clean_frames["employment_spells"]
    s = s.assign(start=_date(s["start_date"]), end=_date(s["end_date"].replace("", None)))
    s = s.sort_values(["person_id", "start"], kind="stable")
    same = s["person_id"].eq(s["person_id"].shift())
    previous_end = s["end"].shift()
    assert (same & (s["start"] == previous_end + pd.Timedelta(days=1))).any()
    assert (same & (s["start"] <= previous_end)).any()
    neet = s[s["spell_type"] == "NEET"]
    dob = _date(clean_frames["people"].set_index("person_id")["dob"])
    age = (neet["start"] - neet["person_id"].map(dob)).dt.days / 365.25
    assert age.between(16, 19).all()


def test_dates_are_mostly_iso_some_uk(clean_frames) -> None:
    dates = clean_frames["offences"]["offence_date"]
    uk = dates.str.fullmatch(r"\d{2}/\d{2}/\d{4}").mean()
    assert 0.05 < uk < 0.2
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}").all()


# -- defects and the ledger --------------------------------------------------------------------


def test_ledger_covers_every_rule(defective) -> None:
    out, summary = defective
    ledger = pd.read_csv(out / LEDGER_NAME, dtype={"row": int})
    assert list(ledger.columns) == ["extract", "row", "column", "rule", "defect"]
    assert sorted(ledger["rule"].unique()) == LEDGER_RULES
    assert len(ledger) == summary.defects
    assert not ledger.duplicated(["extract", "row"]).any()  # one defect per row
    for name, rows in ledger.groupby("extract")["row"]:
        assert rows.min() >= 2 and rows.max() <= summary.rows[name] + 1
    # Every extract has about 2% of its rows corrupted.
    for name in EXTRACT_NAMES:
        share = (ledger["extract"] == name).sum() / summary.rows[name]
        assert 0.015 < share < 0.06, name


def test_ledgered_cells_hold_the_defect(defective) -> None:
    out, _ = defective
    ledger = pd.read_csv(out / LEDGER_NAME, dtype={"row": int})
    people = _read_csv(out / "people.csv", encoding="cp1252")
    families = _read_csv(out / "families.csv", encoding="utf-8-sig")

    def cells(frame: pd.DataFrame, extract: str, rule: str) -> pd.Series:
        """The cell of each ledger row of ``rule``, at the column it names."""
        rows = ledger.loc[(ledger["extract"] == extract) & (ledger["rule"] == rule)]
        assert len(rows), rule
        values = frame.to_numpy(dtype=object)
        where = frame.columns.get_indexer(rows["column"])
        return pd.Series(values[rows["row"].to_numpy() - 2, where], index=rows.index, dtype="str")

    assert not nino_is_valid(normalise(cells(people, "people", "W201").astype("str"))).any()
    assert not upn_is_valid(normalise(cells(people, "people", "W202").astype("str"))).any()
    assert not nhs_is_valid(normalise(cells(people, "people", "W203").astype("str"))).any()
    assert not postcode_is_valid(normalise(cells(people, "people", "W204").astype("str"))).any()
    assert (cells(people, "people", "E101") == "").all()
    assert (cells(families, "families", "E101") == "").all()
    assert (cells(families, "families", "E110") != "E08000012").all()
    # Unknown codes are outside the column's code list, whatever the column.
    unknown = ledger.loc[ledger["rule"] == "E105"]
    assert unknown["column"].nunique() >= 5
    for (extract, column), rows in unknown.groupby(["extract", "column"]):
        encoding = {"people": "cp1252", "families": "utf-8-sig"}.get(extract, "utf-8")
        frame = _read_csv(out / f"{extract}.csv", encoding=encoding)
        written = frame.loc[rows["row"] - 2, column].str.upper()
        assert not written.isin(allowed_codes(extract, column)).any(), column
        assert not written.isin(list(codes.GENDER_ALIASES)).any(), column
    duplicated = ledger.loc[(ledger["extract"] == "families") & (ledger["rule"] == "E102"), "row"]
    ids = families.loc[duplicated - 2, "family_id"]
    assert (ids.value_counts() == 2).all()
    named = families["family_id"] != ""  # a blank family_id is E101's, not a duplicate
    assert families.loc[named, "family_id"].duplicated(keep=False).sum() == len(duplicated)
    # Orphans point at IDs that exist nowhere.
    orphans = cells(_read_csv(out / "offences.csv"), "offences", "E108")
    assert not orphans.isin(people["person_id"]).any()


def test_corrupted_families_have_no_dependants(defective) -> None:
    out, _ = defective
    ledger = pd.read_csv(out / LEDGER_NAME, dtype={"row": int})
    families = _read_csv(out / "families.csv", encoding="utf-8-sig")
    people = _read_csv(out / "people.csv", encoding="cp1252")
    bad = families.loc[ledger.loc[ledger["extract"] == "families", "row"] - 2, "family_id"]
    bad = bad[bad != ""]
    assert not people["family_id"].isin(bad).any()
    # ... and corrupted people (errors) have no events.
    errors = ledger.loc[(ledger["extract"] == "people") & ledger["rule"].str.startswith("E")]
    bad_people = people.loc[errors["row"] - 2, "person_id"]
    bad_people = bad_people[bad_people != ""]
    for name in EXTRACT_NAMES[2:]:
        frame = _read_csv(out / f"{name}.csv")
        assert not frame["person_id"].isin(bad_people).any(), name


def test_defects_write_cp1252_and_bom(defective) -> None:
    out, _ = defective
    people_bytes = (out / "people.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        people_bytes.decode("utf-8")
    text = people_bytes.decode("cp1252")
    names = [n for n in _all_names() if not n.isascii()]
    assert sum(n in text for n in names) >= 5
    assert "O'Brien" in text or "O'Neill" in text
    assert (out / "families.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (out / "eligibility.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_every_name_encodes_in_cp1252() -> None:
    for name in _all_names():
        assert name.encode("cp1252").decode("cp1252") == name


def test_small_runs_still_cover_every_rule(tmp_path: Path) -> None:
    summary = write_synthetic(tmp_path, families=200, seed=2026, defects=0.01)
    ledger = pd.read_csv(tmp_path / LEDGER_NAME)
    assert sorted(ledger["rule"].unique()) == LEDGER_RULES
    people_errors = ledger.loc[
        (ledger["extract"] == "people") & ledger["rule"].str.startswith("E"), "row"
    ].nunique()
    assert people_errors / summary.rows["people"] < 0.05  # the demo run must not fail


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    families=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    rate=st.sampled_from([0.0, 0.01, 0.2]),
)
def test_any_size_generates_consistent_tables(families: int, seed: int, rate: float) -> None:
    tables, ledger = generate_tables(families, seed, rate)
    assert len(tables["families"]) == families
    for table in tables.values():
        lengths = {len(v) for v in table.columns.values()}
        assert len(lengths) == 1
    if ledger is not None:
        for extract, rows, *_ in ledger.entries:
            assert rows.max() < len(tables[extract])
            assert len(np.unique(rows)) == len(rows)


# -- formats -----------------------------------------------------------------------------------


def test_parquet_reads_back_typed(tmp_path: Path) -> None:
    summary = write_synthetic(tmp_path, families=150, seed=4, fmt="parquet")
    for name in EXTRACT_NAMES:
        table = pq.read_table(tmp_path / f"{name}.parquet")
        assert table.num_rows == summary.rows[name]
    people = pq.read_table(tmp_path / "people.parquet")
    assert str(people.schema.field("dob").type) == "date32[day]"
    assert str(people.schema.field("nis_opt_out").type) == "int64"
    frame = pd.read_parquet(tmp_path / "school_attendance.parquet")
    assert frame["possible_sessions"].notna().all()


def test_parquet_column_with_defect_text_is_string(tmp_path: Path) -> None:
    write_synthetic(tmp_path, families=300, seed=4, fmt="parquet", defects=0.01)
    ledger = pd.read_csv(tmp_path / LEDGER_NAME)
    # The parse defects are raw text no typed column holds; every other column keeps its type.
    parse = ledger.loc[ledger["rule"].isin(["E103", "E104", "E109", "E126"])]
    as_text = set(map(tuple, parse[["extract", "column"]].itertuples(index=False)))
    assert ("offences", "offence_date") in as_text
    types = {"date": "date32[day]", "int": "int64", "flag": "int64"}
    typed = 0
    for name in EXTRACT_NAMES:
        for field in pq.read_table(tmp_path / f"{name}.parquet").schema:
            expected = types.get(column_kind(name, field.name))
            if (name, field.name) in as_text:
                assert str(field.type) == "string", (name, field.name)
            elif expected is not None:
                assert str(field.type) == expected, (name, field.name)
                typed += 1
    assert typed >= 3  # columns no parse defect fell on stay typed


def test_xlsx_reads_back_with_date_cells(tmp_path: Path) -> None:
    summary = write_synthetic(tmp_path, families=50, seed=4, fmt="xlsx", defects=0.05)
    for name in EXTRACT_NAMES:
        frame = pd.read_excel(tmp_path / f"{name}.xlsx", dtype=object, engine="openpyxl")
        assert len(frame) == summary.rows[name]
    families = pd.read_excel(tmp_path / "families.xlsx", dtype=object, engine="openpyxl")
    ledger = pd.read_csv(tmp_path / LEDGER_NAME)
    mine = ledger.loc[ledger["extract"] == "families"]
    as_text = mine.loc[mine["rule"].isin(["E103", "E104"])]
    assert len(as_text)
    for column in ("date_identified", "date_support_started", "date_support_ended", "claim_date"):
        cells = families[column]
        text = as_text.loc[as_text["column"] == column, "row"] - 2
        assert cells.loc[text].map(type).eq(str).all(), column
        others = cells.drop(text).dropna()
        assert len(others) and others.map(lambda v: isinstance(v, dt.datetime)).all(), column


def test_a_new_run_replaces_the_old_files(tmp_path: Path) -> None:
    write_synthetic(tmp_path, families=30, seed=1, defects=0.1)
    write_synthetic(tmp_path, families=30, seed=1, fmt="parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [MARKER_NAME, *(f"{n}.parquet" for n in EXTRACT_NAMES)]
    )


def test_a_council_folder_of_extracts_is_never_written_over(tmp_path: Path) -> None:
    """`nis synth --out` a folder of the council's own extracts replaced them with invented
    people, and a run from that folder would then have submitted them."""
    own = tmp_path / "extracts"
    own.mkdir()
    (own / "People.CSV").write_bytes(b"person_id\nREAL1\n")
    (own / "notes.txt").write_text("kept")
    with pytest.raises(NotSyntheticFolder, match="already holds extract files"):
        write_synthetic(own, families=5, seed=1)
    assert sorted(p.name for p in own.iterdir()) == ["People.CSV", "notes.txt"]
    assert (own / "People.CSV").read_bytes() == b"person_id\nREAL1\n"

    code, out, err = _synth("--families", "5", "--seed", "1", "--out", own)
    assert (code, out) == (2, "")
    assert err == (
        f"error: --out {own} already holds extract files that nis synth did not write "
        "(People.CSV); synthetic extracts are never written over a council's own: choose "
        "another folder\n"
    )
    assert (own / "People.CSV").read_bytes() == b"person_id\nREAL1\n"

    # A folder of other files only is fine, and so is a folder nis synth wrote before.
    (own / "People.CSV").unlink()
    write_synthetic(own, families=5, seed=1)
    assert (own / MARKER_NAME).is_file() and (own / "notes.txt").read_text() == "kept"
    write_synthetic(own, families=5, seed=2, fmt="xlsx")
    assert sorted(p.suffix for p in own.iterdir() if p.stem in EXTRACT_NAMES) == [".xlsx"] * 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "json"}, "format"),
        ({"families": 0}, "families"),
        ({"defects": 1.5}, "defects"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"families": 10, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        write_synthetic(tmp_path, **args)


# -- the command -------------------------------------------------------------------------------


def _synth(*args: str | Path) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from nis_pipeline.cli import app

    result = CliRunner().invoke(app, ["synth", *[str(a) for a in args]])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_synth_into_a_file_or_under_one_is_one_line_exit_2(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    code, out, err = _synth("--families", "5", "--seed", "1", "--out", afile)
    assert (code, out, err) == (2, "", f"error: --out {afile} is a file, not a folder\n")
    # A folder that cannot be made (here: under a file; also a read-only or full disk).
    code, out, err = _synth("--families", "5", "--seed", "1", "--out", afile / "sub")
    assert (code, out) == (2, "")
    assert err == f"error: cannot write the extracts to {afile / 'sub'}: Not a directory\n"
    assert afile.read_text() == "mine"


def test_synth_says_what_it_wrote_in_each_format(tmp_path: Path) -> None:
    """The command's own options: the format in any case, parquet included; one family in the
    singular; the defects ledger named when there are defects."""
    code, out, err = _synth(
        "--families", "1", "--seed", "3", "--format", "PARQUET", "--out", tmp_path
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"wrote 1 family of synthetic extracts to {tmp_path}"
    assert sorted(p.name for p in tmp_path.glob("*.*") if not p.name.startswith(".")) == sorted(
        f"{name}.parquet" for name in EXTRACT_NAMES
    )
    assert [line.split()[0] for line in lines[1:]] == list(EXTRACT_NAMES)
    assert not any(line.startswith("defects ledger") for line in lines)

    ledgered = tmp_path / "with-defects"
    code, out, _ = _synth("--families", "20", "--defects", "0.1", "--out", ledgered)
    assert code == 0
    [ledger_line] = [line for line in out.splitlines() if line.startswith("defects ledger: ")]
    assert Path(ledger_line.removeprefix("defects ledger: ")).is_file()


def test_synth_refuses_no_families_and_an_unknown_format(tmp_path: Path) -> None:
    code, out, err = _synth("--families", "0", "--out", tmp_path / "a")
    assert (code, out) == (2, "")
    assert "Invalid value for '--families': Input should be greater than or equal to 1" in err
    code, out, err = _synth("--families", "2", "--format", "json", "--out", tmp_path / "b")
    assert (code, out, err) == (2, "", "error: --format must be csv, xlsx or parquet, not json\n")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
