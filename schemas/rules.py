"""The catalogue of coded validation rules, and the shape of a finding.

Every problem the pipeline reports is one of these rules. Messages are fixed text: they name the
rule and the column, never the value that failed, because the values are personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd


class Severity(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    message: str


class FatalInputError(Exception):
    """An extract cannot be used at all: the run stops before writing anything.

    The message names the file (or table) and what is wrong, never a value from it.
    """

    def __init__(self, rule: Rule, source: str, detail: str = "") -> None:
        self.rule = rule
        self.source = source
        self.detail = detail
        text = f"{source}: {rule.message}"
        if detail:
            text += f" ({detail})"
        super().__init__(f"[{rule.code}] {text}")


def _r(code: str, severity: Severity, message: str) -> Rule:
    return Rule(code, severity, message)


F, E, W = Severity.FATAL, Severity.ERROR, Severity.WARNING

# Codes are stable: a code is never re-used for a different meaning.
RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        _r("F001", F, "extract file not found"),
        _r("F002", F, "extract cannot be read"),
        _r("F003", F, "required column missing"),
        _r("F004", F, "more than one file for the same extract"),
        _r("E101", E, "required value missing"),
        _r("E102", E, "duplicate key"),
        _r("E103", E, "date is not a valid date"),
        _r("E104", E, "date is ambiguous (two-digit year or unknown layout)"),
        _r("E105", E, "code not in the contract's code list"),
        _r("E106", E, "end date before start date"),
        _r("E107", E, "refers to a family that is not in the families extract"),
        _r("E108", E, "refers to a person that is not in the people extract"),
        _r("E109", E, "not a whole number of zero or more"),
        _r("E110", E, "la_code is not an ONS upper-tier authority code"),
        _r("E111", E, "date_support_started before date_identified"),
        _r("E112", E, "status needs date_support_started"),
        _r("E113", E, "CLOSED needs date_support_ended"),
        _r("E114", E, "claim_type needs claim_date"),
        _r("E115", E, "claim_date before date_support_started"),
        _r("E116", E, "claim_date without claim_type"),
        _r("E120", E, "UNBORN needs expected_dob and no dob"),
        _r("E121", E, "role other than UNBORN needs dob and no expected_dob"),
        _r("E122", E, "date of birth after the extract date"),
        _r("E123", E, "date of birth gives an age over 110"),
        _r("E124", E, "CHILD is 18 or over on the family's date_identified"),
        _r("E125", E, "date_left before date_joined"),
        _r("E126", E, "nis_opt_out must be 0 or 1"),
        _r("E130", E, "absence sessions exceed possible sessions"),
        _r("E131", E, "term_end before term_start"),
        _r("E132", E, "person named in the incident is not in the incident's family"),
        _r("E190", E, "quarantined because a record it depends on is quarantined"),
        _r("W201", W, "NINO fails format"),
        _r("W202", W, "UPN fails format or check letter"),
        _r("W203", W, "NHS number fails format or modulus 11 check"),
        _r("W204", W, "postcode fails UK format"),
        _r("W205", W, "unknown extra column ignored"),
    ]
}

FINDING_COLUMNS: list[str] = [
    "extract",
    "row",
    "family_id",
    "person_id",
    "column",
    "rule",
    "severity",
    "message",
]


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "extract": pd.Series([], dtype="str"),
            "row": pd.Series([], dtype="Int64"),
            "family_id": pd.Series([], dtype="str"),
            "person_id": pd.Series([], dtype="str"),
            "column": pd.Series([], dtype="str"),
            "rule": pd.Series([], dtype="str"),
            "severity": pd.Series([], dtype="str"),
            "message": pd.Series([], dtype="str"),
        }
    )
