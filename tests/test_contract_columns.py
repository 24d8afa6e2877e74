"""The output columns, in the order the contract lists them, written out by hand.

The transforms and exports take their column lists from the output models in
``schemas.outputs``, and their own tests compare a table's columns with those same lists, so a
model whose fields were swapped would pass them all. These lists are copied from the contract
(sections 3, 5, 6 and 7), not derived from the code.
"""

from __future__ import annotations

from schemas.outputs import (
    CHANGES_COLUMNS,
    FPD_COLUMNS,
    FPD_MEASURES,
    INDIVIDUALS_COLUMNS,
    RESEARCH_COLUMNS,
)
from transforms.statistics import STATISTICS_COLUMNS

# Section 5, the individuals file.
SPEC_INDIVIDUALS = [
    "la_code",
    "census_date",
    "family_id",
    "person_id",
    "role",
    "forename",
    "surname",
    "dob",
    "expected_dob",
    "gender",
    "postcode",
    "nino",
    "upn",
    "intervention_status",
    "date_identified",
    "date_support_started",
    "date_support_ended",
    "p_crime_asb",
    "p_education",
    "p_children_need_help",
    "p_worklessness",
    "p_domestic_abuse",
    "p_health",
]
# Section 3, the measures in table order.
SPEC_MEASURES = [
    "age_at_census",
    "proven_offences",
    "asb_incidents",
    "da_incidents",
    "family_da_incidents",
    "attendance_pct",
    "unauthorised_absence_pct",
    "persistent_absence",
    "suspensions",
    "permanent_exclusion",
    "cin_any",
    "cpp_any",
    "lac_any",
    "cin_at_census",
    "cpp_at_census",
    "lac_at_census",
    "out_of_work_benefit_at_census",
    "employed_at_census",
    "weeks_continuous_employment",
    "neet_at_census",
]
SPEC_PROBLEMS = [
    "p_crime_asb",
    "p_education",
    "p_children_need_help",
    "p_worklessness",
    "p_domestic_abuse",
    "p_health",
]


def test_individuals_columns_are_the_contracts() -> None:
    assert INDIVIDUALS_COLUMNS == SPEC_INDIVIDUALS


def test_fpd_columns_are_the_keys_then_the_measures_of_section_3() -> None:
    assert ["la_code", "census_date", "family_id", "person_id", *SPEC_MEASURES] == FPD_COLUMNS
    assert FPD_MEASURES == SPEC_MEASURES


def test_research_columns_are_the_contracts() -> None:
    # Section 7: the pseudonyms, then la_code .. intervention_status, the six flags, the measures.
    head = [
        "family_pseudonym",
        "person_pseudonym",
        "la_code",
        "census_date",
        "role",
        "gender",
        "dob_month",
        "postcode_sector",
        "intervention_status",
    ]
    assert [*head, *SPEC_PROBLEMS, *SPEC_MEASURES] == RESEARCH_COLUMNS


def test_changes_and_statistics_columns() -> None:
    # Section 6 names the changes columns; the statistics columns are the project's
    # (docs/exports.md).
    assert CHANGES_COLUMNS == ["family_id", "person_id", "change", "field", "previous", "current"]
    assert STATISTICS_COLUMNS == ["table", "measure", "category", "count"]
