"""A small, hand-made, valid set of the ten extracts, and helpers to corrupt one cell of it.

All people here are invented. Row numbers in assertions follow the reader's convention: the
header is row 1, so the first data row of a CSV is row 2.
"""

from __future__ import annotations

import csv
from pathlib import Path

HEADERS: dict[str, list[str]] = {
    "families": [
        "family_id",
        "la_code",
        "date_identified",
        "date_support_started",
        "date_support_ended",
        "status",
        "claim_type",
        "claim_date",
        "intensity",
    ],
    "people": [
        "person_id",
        "family_id",
        "role",
        "forename",
        "surname",
        "dob",
        "expected_dob",
        "gender",
        "postcode",
        "nino",
        "upn",
        "nhs_number",
        "ethnicity",
        "date_joined",
        "date_left",
        "nis_opt_out",
    ],
    "eligibility": ["family_id", "problem", "person_id", "date_met"],
    "school_attendance": [
        "person_id",
        "term_start",
        "term_end",
        "possible_sessions",
        "authorised_absence_sessions",
        "unauthorised_absence_sessions",
    ],
    "exclusions": ["person_id", "start_date", "exclusion_type", "sessions"],
    "offences": ["person_id", "offence_date", "offence_category"],
    "asb_incidents": ["person_id", "incident_date", "incident_category"],
    "domestic_abuse_incidents": ["family_id", "person_id", "incident_date", "involvement"],
    "social_care_episodes": ["person_id", "episode_type", "start_date", "end_date"],
    "employment_spells": ["person_id", "spell_type", "start_date", "end_date"],
}

# Identifiers below are valid: UPN check letters and NHS check digits were worked by hand.
VALID_ROWS: dict[str, list[dict[str, str]]] = {
    "families": [
        {
            "family_id": "F1",
            "la_code": "E08000012",
            "date_identified": "2024-01-15",
            "date_support_started": "2024-02-01",
            "date_support_ended": "",
            "status": "ATTACHED",
            "claim_type": "",
            "claim_date": "",
            "intensity": "INTENSIVE",
        },
        {
            "family_id": "F2",
            "la_code": "E08000012",
            "date_identified": "15/03/2024",
            "date_support_started": "",
            "date_support_ended": "",
            "status": "IDENTIFIED",
            "claim_type": "",
            "claim_date": "",
            "intensity": "",
        },
        {
            "family_id": "F3",
            "la_code": "E08000012",
            "date_identified": "2023-06-01",
            "date_support_started": "2023-07-01",
            "date_support_ended": "2024-12-31",
            "status": "CLOSED",
            "claim_type": "SSP",
            "claim_date": "2025-01-10",
            "intensity": "",
        },
    ],
    "people": [
        {
            "person_id": "P1",
            "family_id": "F1",
            "role": "MAIN_CARER",
            "forename": "Siân",
            "surname": "O'Brien",
            "dob": "1985-05-20",
            "expected_dob": "",
            "gender": "F",
            "postcode": "l1 8jq",
            "nino": "AB123456C",
            "upn": "",
            "nhs_number": "9434765870",
            "ethnicity": "WBRI",
            "date_joined": "",
            "date_left": "",
            "nis_opt_out": "0",
        },
        {
            "person_id": "P2",
            "family_id": "F1",
            "role": "CHILD",
            "forename": "Zoë",
            "surname": "O'Brien",
            "dob": "12/09/2012",
            "expected_dob": "",
            "gender": "Female",
            "postcode": "L1 8JQ",
            "nino": "",
            "upn": "B801200005001",
            "nhs_number": "",
            "ethnicity": "",
            "date_joined": "",
            "date_left": "",
            "nis_opt_out": "",
        },
        {
            "person_id": "P3",
            "family_id": "F2",
            "role": "MAIN_CARER",
            "forename": "Ann",
            "surname": "Smith",
            "dob": "1990-01-01",
            "expected_dob": "",
            "gender": "m",
            "postcode": "L18 1AB",
            "nino": "CE654321A",
            "upn": "",
            "nhs_number": "",
            "ethnicity": "",
            "date_joined": "",
            "date_left": "",
            "nis_opt_out": "0",
        },
        {
            "person_id": "P4",
            "family_id": "F2",
            "role": "UNBORN",
            "forename": "",
            "surname": "",
            "dob": "",
            "expected_dob": "2024-08-01",
            "gender": "U",
            "postcode": "",
            "nino": "",
            "upn": "",
            "nhs_number": "",
            "ethnicity": "",
            "date_joined": "",
            "date_left": "",
            "nis_opt_out": "0",
        },
        {
            "person_id": "P5",
            "family_id": "F3",
            "role": "OTHER_ADULT",
            "forename": "José",
            "surname": "Renée",
            "dob": "1970-02-28",
            "expected_dob": "",
            "gender": "X",
            "postcode": "",
            "nino": "",
            "upn": "",
            "nhs_number": "",
            "ethnicity": "",
            "date_joined": "2023-06-01",
            "date_left": "2024-06-30",
            "nis_opt_out": "0",
        },
    ],
    "eligibility": [
        {"family_id": "F1", "problem": "EDUCATION", "person_id": "P2", "date_met": "2024-01-10"},
        {"family_id": "F1", "problem": "WORKLESSNESS", "person_id": "", "date_met": "2024-01-10"},
    ],
    "school_attendance": [
        {
            "person_id": "P2",
            "term_start": "2024-09-02",
            "term_end": "2024-12-20",
            "possible_sessions": "150",
            "authorised_absence_sessions": "5",
            "unauthorised_absence_sessions": "10",
        },
    ],
    "exclusions": [
        {
            "person_id": "P2",
            "start_date": "2024-10-01",
            "exclusion_type": "SUSPENSION",
            "sessions": "2",
        },
    ],
    "offences": [{"person_id": "P1", "offence_date": "2024-11-11", "offence_category": "THEFT"}],
    "asb_incidents": [{"person_id": "P1", "incident_date": "2024-11-12", "incident_category": ""}],
    "domestic_abuse_incidents": [
        {
            "family_id": "F1",
            "person_id": "P1",
            "incident_date": "2024-12-01",
            "involvement": "VICTIM",
        },
    ],
    "social_care_episodes": [
        {"person_id": "P2", "episode_type": "CIN", "start_date": "2024-03-01", "end_date": ""},
    ],
    "employment_spells": [
        {
            "person_id": "P1",
            "spell_type": "EMPLOYED",
            "start_date": "2024-05-01",
            "end_date": "2024-12-31",
        },
    ],
}


def fresh_rows() -> dict[str, list[dict[str, str]]]:
    return {name: [dict(r) for r in rows] for name, rows in VALID_ROWS.items()}


def write_extracts(
    folder: Path,
    rows: dict[str, list[dict[str, str]]] | None = None,
    encoding: str = "utf-8",
    headers: dict[str, list[str]] | None = None,
) -> Path:
    rows = fresh_rows() if rows is None else rows
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in (headers or HEADERS).items():
        with open(folder / f"{name}.csv", "w", newline="", encoding=encoding) as handle:
            writer = csv.DictWriter(
                handle, fieldnames=header, lineterminator="\n", extrasaction="ignore"
            )
            writer.writeheader()
            for row in rows.get(name, []):
                writer.writerow(row)
    return folder
