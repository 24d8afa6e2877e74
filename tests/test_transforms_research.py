"""The pseudonymised research extract (spec section 7): keyed HMAC pseudonyms, month of birth,
postcode sector, and no identifier of any kind."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pandas as pd
import pytest
from exports_builders import sample_tables
from hypothesis import given, settings
from hypothesis import strategies as st
from transforms_builders import LA, extracts, family, person

from schemas.outputs import (
    FPD_MEASURES,
    RESEARCH_COLUMNS,
    RESEARCH_FORBIDDEN_COLUMNS,
    ResearchRecord,
)
from transforms.periods import Period
from transforms.research import (
    EmptySecretError,
    build_research,
    dob_month,
    id_pseudonyms,
    postcode_sector,
    pseudonyms,
)
from transforms.submission import build_submission

SECRET = "correct horse battery staple"
KEY = SECRET.encode("utf-8")
C1, C2 = Period(date(2025, 3, 31)), Period(date(2025, 9, 30))

# Computed with another implementation (`printf '%s' MESSAGE | openssl dgst -sha256 -hmac KEY`).
OPENSSL = {
    (SECRET, "E08000012:person:P1"): (
        "f81a03f9e0d48affb636c4c1481a94d49a5e71e379a63995deeef1ce03d70af1"
    ),
    (SECRET, "E08000012:family:F1"): (
        "efd6efcf71d8153edd321cd24e413c8be1193697747bf30d5c9bb16c43093be8"
    ),
    (SECRET, "E08000012:person:Pé-1"): (
        "a3dc6b3b8a5cd23c2924e8ca37e7a06346c3a6d185db7de11614a313bc63330c"
    ),
    (SECRET, "E06000001:person:P1"): (
        "43cdcdc6e8e7f3730cac506bf77e179299ab411b491618e36cc23cddcb8fa618"
    ),
    ("clé-secrète", "E08000012:person:P1"): (
        "80168ba21af1021754e8feb782aebb004236e3a081aef755c4a683583f082ac0"
    ),
    ("k", "E08000012:person:P1"): (
        "1f252f64bb8dd9423f12e2b14e87a17d3255fd147c5027ec6267ebce0ab7c76a"
    ),
}


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _series(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


@pytest.mark.parametrize(("secret", "message"), sorted(OPENSSL))
def test_pseudonyms_are_hmac_sha256_of_the_utf8_message(secret: str, message: str) -> None:
    got = pseudonyms(_series([message]), secret.encode("utf-8")).iloc[0]
    assert got == OPENSSL[(secret, message)]
    assert got == _hmac(secret, message)


def test_id_pseudonyms_use_the_la_kind_and_id_message() -> None:
    la = _series([LA, LA, "E06000001"])
    ids = _series(["P1", "Pé-1", "P1"])
    got = id_pseudonyms(la, ids, "person", KEY).tolist()
    assert got == [
        OPENSSL[(SECRET, "E08000012:person:P1")],
        OPENSSL[(SECRET, "E08000012:person:Pé-1")],
        OPENSSL[(SECRET, "E06000001:person:P1")],
    ]
    family_of_f1 = id_pseudonyms(_series([LA]), _series(["F1"]), "family", KEY).iloc[0]
    assert family_of_f1 == OPENSSL[(SECRET, "E08000012:family:F1")]
    # "family" and "person" with the same id never give the same pseudonym.
    assert (
        id_pseudonyms(_series([LA]), _series(["X"]), "family", KEY).iloc[0]
        != (id_pseudonyms(_series([LA]), _series(["X"]), "person", KEY).iloc[0])
    )
    with pytest.raises(ValueError):
        id_pseudonyms(la, ids, "household", KEY)


def test_repeated_and_missing_messages() -> None:
    got = pseudonyms(_series(["a", None, "b", "a"]), KEY)
    assert got.iloc[0] == got.iloc[3] == _hmac(SECRET, "a")
    assert got.iloc[2] == _hmac(SECRET, "b")
    assert pd.isna(got.iloc[1])
    assert pseudonyms(_series([]), KEY).empty


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(EmptySecretError):
        pseudonyms(_series(["a"]), b"")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30), st.binary(min_size=1))
def test_pseudonyms_match_hmac_for_any_text(messages: list[str], key: bytes) -> None:
    got = pseudonyms(_series(list(messages)), key).tolist()
    expected = [hmac.new(key, m.encode("utf-8"), hashlib.sha256).hexdigest() for m in messages]
    assert got == expected


@pytest.mark.parametrize(
    ("postcode", "sector"),
    [
        ("L1 8JQ", "L1 8"),
        ("GIR 0AA", "GIR 0"),
        ("EC1A 1BB", "EC1A 1"),
        ("SW1A 2AA", "SW1A 2"),
        ("M60 1NW", "M60 1"),
        ("ec1a1bb", "EC1A 1"),  # any spelling of a valid postcode
        (None, None),
        ("", None),
        ("XX9 9XX", None),  # not a UK postcode: empty, never a guess
        ("L1", None),
    ],
)
def test_postcode_sector(postcode: str | None, sector: str | None) -> None:
    got = postcode_sector(_series([postcode])).iloc[0]
    assert (pd.isna(got) and sector is None) or got == sector


def test_dob_month() -> None:
    dates = pd.Series(pd.to_datetime(["2012-05-01", None, "1999-12-31", "2024-02-29"]))
    got = dob_month(dates).tolist()
    assert got[0] == "2012-05" and got[2] == "1999-12" and got[3] == "2024-02"
    assert pd.isna(got[1])


def test_research_rows_from_hand_made_tables() -> None:
    tables = sample_tables()
    table = build_research(tables.individuals, tables.fpd, KEY)
    ResearchRecord.validate(table)
    assert list(table.columns) == RESEARCH_COLUMNS
    assert len(table) == len(tables.fpd)
    assert table["person_pseudonym"].is_monotonic_increasing
    by_person = table.set_index("person_pseudonym")

    p7 = by_person.loc[_hmac(SECRET, f"{LA}:person:P7")]
    assert p7["family_pseudonym"] == _hmac(SECRET, f"{LA}:family:F2")
    assert (p7["role"], p7["gender"], p7["dob_month"], p7["postcode_sector"]) == (
        "MAIN_CARER",
        "1",
        "1985-03",
        "L1 8",
    )
    assert (p7["age_at_census"], p7["proven_offences"], p7["weeks_continuous_employment"]) == (
        40,
        2,
        27,
    )
    p10 = by_person.loc[_hmac(SECRET, f"{LA}:person:P10")]  # unborn, no postcode
    assert pd.isna(p10["dob_month"]) and pd.isna(p10["postcode_sector"])
    assert pd.isna(p10["age_at_census"])
    p3 = by_person.loc[_hmac(SECRET, f"{LA}:person:P3")]
    assert (p3["intervention_status"], p3["attendance_pct"], p3["cin_any"]) == ("CLOSED", 92.3, 1)
    # Both members of F10 share the family pseudonym; other families differ.
    p3b = by_person.loc[_hmac(SECRET, f"{LA}:person:P3b")]
    assert p3b["family_pseudonym"] == p3["family_pseudonym"] != p7["family_pseudonym"]
    # The measures are the FPD table's, person by person.
    fpd = tables.fpd.set_index("person_id")
    for pid in ("P7", "P10", "P3", "P3b"):
        row = by_person.loc[_hmac(SECRET, f"{LA}:person:{pid}"), FPD_MEASURES]
        assert row.astype("object").fillna(-1).tolist() == (
            fpd.loc[pid, FPD_MEASURES].astype("object").fillna(-1).tolist()
        )


def _identifying_values(individuals: pd.DataFrame) -> set[str]:
    values: set[str] = set()
    for column in ("family_id", "person_id", "forename", "surname", "postcode", "nino", "upn"):
        values |= {str(v) for v in individuals[column].dropna()}
    for column in ("dob", "expected_dob"):
        dates = individuals[column].dropna()
        values |= set(dates.dt.strftime("%Y-%m-%d")) | set(dates.dt.strftime("%d/%m/%Y"))
    return values


def test_no_identifier_column_or_value_in_the_research_table() -> None:
    tables = sample_tables()
    table = build_research(tables.individuals, tables.fpd, KEY)
    assert not set(RESEARCH_FORBIDDEN_COLUMNS) & set(table.columns)
    cells = set(table.astype("str").to_numpy().ravel()) - {"nan", "<NA>", "NaT"}
    text = table.to_csv(index=False)
    for value in _identifying_values(tables.individuals):
        assert value not in cells
        if len(value) >= 4:  # short ids ("P1") are substrings of pseudonyms by chance
            assert value not in text, "an identifying value reached the research table"


def _periods_data() -> dict[str, pd.DataFrame]:
    return extracts(
        families=[
            family("F1", date_support_started="2024-06-01"),
            family("F2", date_support_started="2025-05-01"),
            family("F3", la_code=LA, date_support_started="2024-11-01"),
        ],
        people=[
            person("P1", "F1", dob="2010-06-15", postcode="L1 8JQ"),
            person("P2", "F1", role="MAIN_CARER", dob="1980-01-02", gender="M"),
            person("P3", "F2", dob="2012-03-04"),
            person("P4", "F3", dob="2011-09-09", postcode="EC1A 1BB"),
        ],
    )


def test_same_secret_links_periods_other_secret_or_council_does_not() -> None:
    data = _periods_data()
    first, second = build_submission(data, C1), build_submission(data, C2)
    r1 = build_research(first.individuals, first.fpd, KEY)
    r2 = build_research(second.individuals, second.fpd, KEY)
    # P3's family started support in the second period only.
    assert len(r1) == 3 and len(r2) == 4
    common = set(r1["person_pseudonym"]) & set(r2["person_pseudonym"])
    assert common == {_hmac(SECRET, f"{LA}:person:{p}") for p in ("P1", "P2", "P4")}
    assert set(r1["family_pseudonym"]) <= set(r2["family_pseudonym"])

    other_key = build_research(first.individuals, first.fpd, b"another secret")
    assert not set(other_key["person_pseudonym"]) & set(r1["person_pseudonym"])
    assert not set(other_key["family_pseudonym"]) & set(r1["family_pseudonym"])

    elsewhere = first.individuals.assign(la_code="E06000001")
    other_la = build_research(elsewhere, first.fpd.assign(la_code="E06000001"), KEY)
    assert not set(other_la["person_pseudonym"]) & set(r1["person_pseudonym"])
    assert set(other_la["person_pseudonym"]) == {
        _hmac(SECRET, f"E06000001:person:{p}") for p in ("P1", "P2", "P4")
    }


def test_research_from_the_transforms_keeps_month_and_sector_only() -> None:
    data = _periods_data()
    tables = build_submission(data, C2)
    table = build_research(tables.individuals, tables.fpd, KEY)
    ResearchRecord.validate(table)
    row = table.set_index("person_pseudonym").loc[_hmac(SECRET, f"{LA}:person:P4")]
    assert (row["dob_month"], row["postcode_sector"], row["census_date"]) == (
        "2011-09",
        "EC1A 1",
        pd.Timestamp(C2.census),
    )
    assert (row["role"], row["gender"], row["age_at_census"]) == ("CHILD", "2", 14)


def test_rows_come_out_in_pseudonym_order_whatever_the_input_order() -> None:
    tables = sample_tables()
    once = build_research(tables.individuals, tables.fpd, KEY)
    again = build_research(
        tables.individuals.iloc[::-1].reset_index(drop=True),
        tables.fpd.sample(frac=1, random_state=3).reset_index(drop=True),
        KEY,
    )
    pd.testing.assert_frame_equal(once, again)


def test_an_fpd_person_without_an_individuals_row_is_a_bug() -> None:
    tables = sample_tables()
    with pytest.raises(AssertionError):
        build_research(tables.individuals.iloc[1:], tables.fpd, KEY)
