"""Hand-built submission tables for the exports tests, in the documented output dtypes (text
``str``, dates ``datetime64[ns]``, counts and flags ``Int64``, percentages ``Float64``), made
without the transforms so that the exports are tested on their own. Synthetic data only."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from schemas.outputs import FpdRecord, IndividualsRecord
from schemas.rules import FINDING_COLUMNS
from transforms.periods import Period
from transforms.statistics import build_statistics
from transforms.submission import SubmissionTables

LA = "E08000012"
CENSUS = date(2025, 9, 30)
PERIOD = Period(CENSUS)

INDIVIDUAL_DEFAULTS: dict[str, Any] = {
    "la_code": LA,
    "census_date": CENSUS.isoformat(),
    "role": "CHILD",
    "forename": "Ada",
    "surname": "Lovelace",
    "dob": "2012-05-01",
    "gender": "2",
    "postcode": "L1 8JQ",
    "intervention_status": "ATTACHED",
    "date_identified": "2023-01-10",
    "date_support_started": "2023-02-01",
    "p_crime_asb": 0,
    "p_education": 1,
    "p_children_need_help": 0,
    "p_worklessness": 0,
    "p_domestic_abuse": 0,
    "p_health": 0,
}
FPD_DEFAULTS: dict[str, Any] = {
    "la_code": LA,
    "census_date": CENSUS.isoformat(),
    "age_at_census": 13,
    **{
        c: 0
        for c in FpdRecord.to_schema().columns
        if c
        not in {
            "la_code",
            "census_date",
            "family_id",
            "person_id",
            "age_at_census",
            "attendance_pct",
            "unauthorised_absence_pct",
            "persistent_absence",
            "neet_at_census",
        }
    },
}


def _dtype(column: pa.Column) -> str:
    name = str(column.dtype)
    return name if name in {"datetime64[ns]", "Int64", "Float64"} else "str"


def typed_frame(model: type[pa.DataFrameModel], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``rows`` as a frame with every column of ``model`` in its order and dtype (missing where a
    row leaves a column out)."""
    columns = model.to_schema().columns
    unknown = {k for row in rows for k in row} - set(columns)
    if unknown:
        raise KeyError(f"not output columns: {sorted(unknown)}")
    data = {}
    for name, column in columns.items():
        values = [row.get(name) for row in rows]
        dtype = _dtype(column)
        if dtype == "datetime64[ns]":
            data[name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)))


def individual(family_id: str, person_id: str, **values: Any) -> dict[str, Any]:
    return {"family_id": family_id, "person_id": person_id, **INDIVIDUAL_DEFAULTS, **values}


def fpd_row(family_id: str, person_id: str, **values: Any) -> dict[str, Any]:
    return {"family_id": family_id, "person_id": person_id, **FPD_DEFAULTS, **values}


def sample_tables() -> SubmissionTables:
    """A small hand-made submission, rows deliberately out of order (F10 sorts before F2)."""
    individuals = typed_frame(
        IndividualsRecord,
        [
            individual(
                "F2",
                "P7",
                role="MAIN_CARER",
                dob="1985-03-04",
                gender="1",
                forename='=HYPERLINK("http://x")',
                surname="+Smith",
                nino="AB123456C",
            ),
            individual(
                "F2",
                "P10",
                role="UNBORN",
                dob=None,
                expected_dob="2025-12-01",
                gender="0",
                forename=None,
                surname=None,
                postcode=None,
            ),
            individual(
                "F10",
                "P3",
                forename="-Jo",
                surname="@Home",
                upn="B801200005001",
                date_support_ended="2025-06-30",
                intervention_status="CLOSED",
            ),
            individual(
                "F1",
                "P2",
                role="OTHER_ADULT",
                dob="1990-07-08",
                gender="9",
                forename="Zoë",
                surname="O'Brien, Jr",
                intervention_status="IDENTIFIED",
                date_support_started=None,
                p_health=1,
            ),
            individual(
                "F1",
                "P1",
                forename="Line\nbreak",
                surname="#N/A",
                intervention_status="IDENTIFIED",
                date_support_started=None,
            ),
        ],
    )
    fpd = typed_frame(
        FpdRecord,
        [
            fpd_row(
                "F2",
                "P7",
                age_at_census=40,
                proven_offences=2,
                employed_at_census=1,
                weeks_continuous_employment=27,
            ),
            fpd_row("F2", "P10", age_at_census=None),
            fpd_row(
                "F10",
                "P3",
                attendance_pct=92.3,
                unauthorised_absence_pct=4.0,
                persistent_absence=0,
                suspensions=1,
                cin_any=1,
            ),
            fpd_row(
                "F10",
                "P3b",
                age_at_census=17,
                attendance_pct=100.0,
                unauthorised_absence_pct=0.0,
                persistent_absence=0,
                neet_at_census=1,
            ),
        ],
    )
    # P3b needs an individuals row too (FPD cohort is inside the NIS cohort).
    extra = typed_frame(IndividualsRecord, [individual("F10", "P3b", dob="2008-01-01")])
    individuals = pd.concat([individuals, extra], ignore_index=True)
    return SubmissionTables(individuals=individuals, fpd=fpd, opted_out=2)


def random_tables(n_families: int, seed: int = 0) -> SubmissionTables:
    """A larger submission made with vectorised random draws (about 3.5 people per family)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, n_families)
    n = int(sizes.sum())
    family_no = np.repeat(np.arange(n_families), sizes)
    fam = pd.Series(family_no).map("F{:06d}".format).astype("str")
    person = pd.Series(np.arange(n)).map("P{:07d}".format).astype("str")
    day = np.datetime64("1950-01-01") + rng.integers(0, 27_000, n).astype("timedelta64[D]")
    base = pd.DataFrame(
        {
            "la_code": LA,
            "census_date": pd.Timestamp(CENSUS),
            "family_id": fam,
            "person_id": person,
            "role": rng.choice(["MAIN_CARER", "OTHER_ADULT", "CHILD", "OTHER"], n),
            "forename": rng.choice(["Ada", "Bo", "=1+1", "Cy, Jr", "Dee"], n),
            "surname": rng.choice(["Lee", "Khan", "O'Neil", "Smith"], n),
            "dob": pd.Series(day).astype("datetime64[ns]"),
            "expected_dob": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            "gender": rng.choice(["0", "1", "2", "9"], n),
            "postcode": rng.choice(["L1 8JQ", "L17 2AA"], n),
            "nino": pd.Series(np.nan, index=range(n), dtype="str"),
            "upn": pd.Series(np.nan, index=range(n), dtype="str"),
            # family-level values are drawn per family and repeated for its people
            "intervention_status": rng.choice(["IDENTIFIED", "ATTACHED", "CLOSED"], n_families)[
                family_no
            ],
            "date_identified": pd.Timestamp("2023-01-10"),
            "date_support_started": pd.Timestamp("2023-02-01"),
            "date_support_ended": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
        }
    )
    for c in ["role", "forename", "surname", "gender", "postcode", "intervention_status"]:
        base[c] = base[c].astype("str")
    for c in ["census_date", "date_identified", "date_support_started"]:
        base[c] = base[c].astype("datetime64[ns]")
    for c in [
        "p_crime_asb",
        "p_education",
        "p_children_need_help",
        "p_worklessness",
        "p_domestic_abuse",
        "p_health",
    ]:
        base[c] = pd.array(rng.integers(0, 2, n_families)[family_no], dtype="Int64")
    individuals = base

    in_fpd = rng.random(n) < 0.6
    m = int(in_fpd.sum())
    fpd = pd.DataFrame(
        {
            "la_code": LA,
            "census_date": pd.Timestamp(CENSUS),
            "family_id": fam[in_fpd].to_numpy(),
            "person_id": person[in_fpd].to_numpy(),
        }
    ).astype(
        {"la_code": "str", "family_id": "str", "person_id": "str", "census_date": "datetime64[ns]"}
    )
    for name, column in FpdRecord.to_schema().columns.items():
        if name in fpd.columns:
            continue
        dtype = _dtype(column)
        if dtype == "Float64":
            values = pd.array(rng.integers(0, 1001, m) / 10, dtype="Float64")
            values[rng.random(m) < 0.3] = pd.NA
        elif any(check.name == "isin" for check in column.checks):  # a 0/1 flag
            values = pd.array(rng.integers(0, 2, m), dtype="Int64")
            if column.nullable:
                values[rng.random(m) < 0.5] = pd.NA
        else:
            values = pd.array(rng.integers(0, 9, m), dtype="Int64")
        fpd[name] = values
    return SubmissionTables(individuals=individuals, fpd=fpd, opted_out=int(rng.integers(0, 9)))


def shuffled(tables: SubmissionTables, seed: int = 1) -> SubmissionTables:
    """The same tables with their rows in another order (and another index)."""
    rng = np.random.default_rng(seed)

    def mix(df: pd.DataFrame) -> pd.DataFrame:
        return df.iloc[rng.permutation(len(df))].set_index(pd.RangeIndex(len(df)) + 100)

    return SubmissionTables(mix(tables.individuals), mix(tables.fpd), tables.opted_out)


def statistics_of(tables: SubmissionTables) -> pd.DataFrame:
    return build_statistics(tables)


def findings(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [r.get(c) for r in rows] for c in FINDING_COLUMNS})
    return frame.astype({c: "str" for c in FINDING_COLUMNS if c != "row"} | {"row": "Int64"})


def sample_findings() -> pd.DataFrame:
    return findings(
        [
            {
                "extract": "people",
                "row": 12,
                "family_id": "F2",
                "person_id": "P9",
                "column": "nino",
                "rule": "W201",
                "severity": "warning",
                "message": "NINO fails format",
            },
            {
                "extract": "families",
                "row": 4,
                "family_id": "F9",
                "column": "status",
                "rule": "E105",
                "severity": "error",
                "message": "code not in the contract's code list",
            },
            {
                "extract": "people",
                "row": 3,
                "family_id": "F9",
                "person_id": "P8",
                "column": "family_id",
                "rule": "E190",
                "severity": "error",
                "message": "=quarantined because a record it depends on is quarantined",
            },
            {
                "extract": "people",
                "row": 12,
                "family_id": "F2",
                "person_id": "P9",
                "column": "postcode",
                "rule": "W204",
                "severity": "warning",
                "message": "postcode fails UK format",
            },
        ]
    )


def sample_counts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "extract": ["people", "families", "eligibility"],
            "source": ["people.csv", "families.csv", "eligibility.xlsx"],
            "sha256": ["a" * 64, "b" * 64, "c" * 64],
            "rows_read": [40, 12, 0],
            "quarantined": [1, 1, 0],
            "warned": [1, 0, 0],
        }
    ).astype({"extract": "str", "source": "str", "sha256": "str"})
