"""The FPD rows of the statistics, measure by measure: each measure's kind comes from its field in
the output model, and its rows count exactly the people a hand-built table puts there."""

from __future__ import annotations

from typing import Any

from exports_builders import fpd_row, individual, typed_frame

from schemas.outputs import FPD_MEASURES, STATISTIC_KINDS, FpdRecord, IndividualsRecord
from transforms.statistics import build_statistics
from transforms.submission import SubmissionTables

COUNT, FLAG, NULLABLE_FLAG, RECORDED = "count", "flag", "nullable flag", "recorded"
# Section 3 of the contract read by hand: what each measure is, so how the statistics count it.
EXPECTED_KIND = {
    "age_at_census": RECORDED,
    "proven_offences": COUNT,
    "asb_incidents": COUNT,
    "da_incidents": COUNT,
    "family_da_incidents": COUNT,
    "attendance_pct": RECORDED,
    "unauthorised_absence_pct": RECORDED,
    "persistent_absence": NULLABLE_FLAG,
    "suspensions": COUNT,
    "permanent_exclusion": FLAG,
    "cin_any": FLAG,
    "cpp_any": FLAG,
    "lac_any": FLAG,
    "cin_at_census": FLAG,
    "cpp_at_census": FLAG,
    "lac_at_census": FLAG,
    "out_of_work_benefit_at_census": FLAG,
    "employed_at_census": FLAG,
    "weeks_continuous_employment": COUNT,
    "neet_at_census": NULLABLE_FLAG,
}
PEOPLE = len(FPD_MEASURES) + 3
ZEROS = 2  # people of a nullable flag with a recorded 0 (after those flagged)


def _hits(position: int) -> int:
    """How many people the hand-built table puts in the measure at ``position``: 1, 2, 3, ...,
    so that no two measures have the same count and a mixed-up column shows."""
    return position + 1


def _values(kind: str, hits: int) -> list[Any]:
    """One measure's column: the first ``hits`` people are counted, the others are not."""
    rest = PEOPLE - hits
    if kind == COUNT:  # counted: above zero; the others 0
        return [1 + j % 3 for j in range(hits)] + [0] * rest
    if kind == FLAG:  # counted: 1; the others 0
        return [1] * hits + [0] * rest
    if kind == NULLABLE_FLAG:  # flagged: 1; then some recorded 0; the others empty
        return [1] * hits + [0] * ZEROS + [None] * (rest - ZEROS)
    # recorded: any value, 0 included; the others empty
    return [0] + [50] * (hits - 1) + [None] * rest


def _expected_rows(kind: str, measure: str, hits: int) -> list[tuple[str, str, str, int]]:
    if kind == COUNT:
        return [("fpd", measure, "above_zero", hits)]
    if kind == FLAG:
        return [("fpd", measure, "flagged", hits)]
    if kind == NULLABLE_FLAG:
        return [("fpd", measure, "flagged", hits), ("fpd", measure, "recorded", hits + ZEROS)]
    return [("fpd", measure, "recorded", hits)]


def _tables() -> SubmissionTables:
    columns = {
        measure: _values(EXPECTED_KIND[measure], _hits(position))
        for position, measure in enumerate(FPD_MEASURES)
    }
    people = [(f"F{i // 2}", f"P{i:02d}") for i in range(PEOPLE)]  # two people a family
    rows = [
        fpd_row(family_id, person_id, **{m: values[i] for m, values in columns.items()})
        for i, (family_id, person_id) in enumerate(people)
    ]
    individuals = typed_frame(IndividualsRecord, [individual(f, p) for f, p in people])
    return SubmissionTables(individuals=individuals, fpd=typed_frame(FpdRecord, rows), opted_out=0)


def test_every_fpd_measure_declares_its_statistic_kind() -> None:
    assert list(EXPECTED_KIND) == FPD_MEASURES  # a new measure needs a kind here and in the model
    columns = FpdRecord.to_schema().columns
    for measure in FPD_MEASURES:
        field = columns[measure]
        kind = (field.metadata or {}).get("statistic")
        assert kind in STATISTIC_KINDS, measure
        expected = EXPECTED_KIND[measure]
        assert kind == ("flag" if expected == NULLABLE_FLAG else expected), measure
        # a flag gets its "recorded" row from the field's nullability
        assert field.nullable == (expected in (NULLABLE_FLAG, RECORDED)), measure


def test_every_fpd_measure_counts_the_people_it_should() -> None:
    tables = _tables()
    FpdRecord.validate(tables.fpd)  # the hand-built table is a valid FPD table
    stats = build_statistics(tables)
    fpd = stats.loc[stats["table"] == "fpd"]
    got = [(t, m, c, int(n)) for t, m, c, n in fpd.itertuples(index=False)]

    expected = [("fpd", "total", "all", PEOPLE), ("fpd", "families", "all", (PEOPLE + 1) // 2)]
    for position, measure in enumerate(FPD_MEASURES):
        expected += _expected_rows(EXPECTED_KIND[measure], measure, _hits(position))
    assert got == expected


def test_measures_of_an_empty_fpd_table_count_zero() -> None:
    tables = _tables()
    empty = SubmissionTables(tables.individuals, tables.fpd.iloc[0:0], 0)
    stats = build_statistics(empty)
    fpd = stats.loc[stats["table"] == "fpd"]
    # the same rows whatever the data, every count 0
    full = build_statistics(tables)
    assert fpd[["measure", "category"]].values.tolist() == (
        full.loc[full["table"] == "fpd", ["measure", "category"]].values.tolist()
    )
    assert fpd["count"].tolist() == [0] * len(fpd)
    assert len(fpd) == 2 + sum(2 if k == NULLABLE_FLAG else 1 for k in EXPECTED_KIND.values())
