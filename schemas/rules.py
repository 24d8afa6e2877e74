"""The registry of coded validation rules: each rule declared once, here.

A rule is its code, severity, kind, where it applies (extracts and columns), a fixed message, a
short "how to fix" and its vectorised check (``schemas.checks``; for a column declaration of the
models, such as a code list, the pandera check it is, by name). Validation runs the registry in
order; the rules page of the docs, the validation report's "how to fix", the per-rule tests and
the synthetic defect generator all enumerate it. Adding a rule: docs/adding-a-rule.md.

Messages are fixed text: they name the rule and the column, never the value that failed,
because the values are personal data. Codes are stable: a code is never re-used for a different
meaning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from schemas import checks as c
from schemas.checks import Check, Target
from schemas.cleaning import ID_MAX_LENGTH, NAME_MAX_LENGTH
from schemas.errors import UserInputError
from schemas.models import SCHEMAS, allowed_codes, column_format
from schemas.parsing import AMBIGUOUS_DATE, EXTRA_FIELDS, INVALID_DATE, NOT_FLAG, NOT_WHOLE


class Severity(StrEnum):
    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"


class Kind(StrEnum):
    """When a rule runs, in this order."""

    FILE = "file"  # the extract as a whole: raised by the readers (or the LA-code policy)
    PARSE = "parse"  # a cell that cannot be read as its column's type
    FIELD = "field"  # one value, on its own
    ROW = "row"  # several values of one row
    CROSS = "cross-extract"  # a row against another extract (the cascade runs last)


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    kind: Kind
    message: str
    # How to fix, for the validation report; {allowed} = the column's code list, {format} = what
    # a valid value looks like (from the model), {column} = the column, {key} = the key columns.
    fix: str
    targets: tuple[Target, ...] = ()
    check: Check | None = field(default=None, compare=False)
    # The pandera check or declaration of the models this rule reports, when it is one.
    pandera: str | None = None
    # A warning blanks the value it is about (never sent malformed), unless the value was
    # already made safe and is worth keeping (characters removed from a name or an id).
    keeps_value: bool = False

    def applies_to(self, extract: str) -> Iterator[Target]:
        return (t for t in self.targets if t.extract == extract)

    def how_to_fix(self, extract: str | None = None, column: str | None = None) -> str:
        """The fix text for a finding on ``extract``/``column`` (placeholders filled in)."""
        known = extract is not None and column is not None and _is_column(extract, column)
        allowed = ", ".join(allowed_codes(extract, column)) if known else ""  # type: ignore[arg-type]
        fmt = column_format(extract, column) if known else ""  # type: ignore[arg-type]
        key = ""
        for target in self.targets:
            if target.extract == extract and target.column == column:
                key = ", ".join(target.columns)
        return self.fix.format(
            allowed=allowed or "the codes the data dictionary lists for the column",
            format=fmt or "the data dictionary's format for it",
            column=column or "the column",
            key=key or "the extract's key columns",
            extract=extract or "EXTRACT",
        )


def _is_column(extract: str, column: str) -> bool:
    return extract in SCHEMAS and column in SCHEMAS[extract].columns


class FatalInputError(UserInputError):
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


F, E, W = Severity.FATAL, Severity.ERROR, Severity.WARNING
_T = Target

_RULES: list[Rule] = [
    # --- the extract as a whole ---------------------------------------------------------------
    Rule(
        "F001",
        F,
        Kind.FILE,
        "extract not found",
        "Put {extract}.csv, .xlsx or .parquet in the source folder (or name its table in "
        "[source.tables] of the config).",
    ),
    Rule(
        "F002",
        F,
        Kind.FILE,
        "extract cannot be read",
        "Save the extract again as UTF-8 CSV, .xlsx (data on the first sheet) or .parquet, and "
        "check the line named.",
    ),
    Rule(
        "F003",
        F,
        Kind.FILE,
        "required column missing",
        'Add the column, or map the council\'s own header to it: "Header" = "column" under '
        "[column_map.{extract}] in the config.",
    ),
    Rule(
        "F004",
        F,
        Kind.FILE,
        "more than one file for the same extract",
        "Keep one file per extract in the source folder.",
    ),
    Rule(
        "F005",
        F,
        Kind.FILE,
        "the families extract holds another council's families",
        "Extract this council's families only; set la_code in the config to say which council "
        "this is.",
    ),
    Rule(
        "F006",
        F,
        Kind.FILE,
        "no council named: la_code is not set and the families extract gives none",
        "Set la_code in the config file.",
    ),
    Rule(
        "F007",
        F,
        Kind.FILE,
        "extract holds no rows",
        "Export the {extract} extract again with the council's records: without families or "
        "people there is nothing to submit, and an empty submission would look finished.",
    ),
    Rule(
        "W205",
        W,
        Kind.FILE,
        "unknown extra column ignored",
        'Map the header to the contract column it means: "Header" = "column" under '
        "[column_map.{extract}]; or leave it out of the extract (it is never sent).",
    ),
    # --- cells that cannot be read --------------------------------------------------------------
    Rule(
        "E119",
        E,
        Kind.PARSE,
        "row has more fields than the header",
        "A value holds an unquoted comma, or the row has a value past the last column: quote "
        'the value ("Smith, John") or remove the stray value. The row is read no further.',
        c.whole_rows(),
        c.row_fault(EXTRA_FIELDS),
    ),
    Rule(
        "W206",
        W,
        Kind.PARSE,
        "control characters removed from the value",
        "Remove the control characters (NUL and the like, invisible in most tools) from "
        "{column} in the case system; the value is sent without them.",
        c.every_column(),
        c.characters_removed,
        keeps_value=True,
    ),
    Rule(
        "E103",
        E,
        Kind.PARSE,
        "date is not a valid date",
        "Write {column} as {format}.",
        c.of_kind("date"),
        c.parse_failure(INVALID_DATE),
    ),
    Rule(
        "E104",
        E,
        Kind.PARSE,
        "date is ambiguous (two-digit year or unknown layout)",
        "Write {column} with a four-digit year: {format}.",
        c.of_kind("date"),
        c.parse_failure(AMBIGUOUS_DATE),
    ),
    Rule(
        "E109",
        E,
        Kind.PARSE,
        "not a whole number of zero or more",
        "Write {column} as {format}.",
        c.of_kind("int"),
        c.parse_failure(NOT_WHOLE),
    ),
    Rule(
        "E126",
        E,
        Kind.PARSE,
        "nis_opt_out is not a flag",
        "Write {column} as {format}.",
        c.of_kind("flag"),
        c.parse_failure(NOT_FLAG),
    ),
    # --- one value ------------------------------------------------------------------------------
    Rule(
        "E101",
        E,
        Kind.FIELD,
        "required value missing",
        "Fill in {column}: it may not be empty.",
        c.not_nullable(),
        c.missing,
        pandera="nullable",
    ),
    Rule(
        "E117",
        E,
        Kind.FIELD,
        f"id longer than {ID_MAX_LENGTH} characters",
        f"Write {{column}} as the case system's id: at most {ID_MAX_LENGTH} characters (a "
        "longer value is usually a note pasted into the id column).",
        c.of_kind("id"),
        c.longer_than(ID_MAX_LENGTH),
    ),
    Rule(
        "E118",
        E,
        Kind.FIELD,
        "id begins with =, +, - or @ (a spreadsheet would run it as a formula)",
        "Write {column} as the case system's id: no council id begins with =, +, - or @, and a "
        "file holding one could run a formula on the recipient's machine.",
        c.of_kind("id"),
        c.formula_prefix,
    ),
    Rule(
        "E105",
        E,
        Kind.FIELD,
        "code not in the contract's code list",
        "Use one of: {allowed}.",
        c.with_check("isin"),
        c.pandera_check("isin"),
        pandera="isin",
    ),
    Rule(
        "E110",
        E,
        Kind.FIELD,
        "la_code is not an ONS upper-tier authority code",
        "Write la_code as {format}.",
        c.with_check("str_matches"),
        c.pandera_check("str_matches"),
        pandera="str_matches",
    ),
    Rule(
        "E122",
        E,
        Kind.FIELD,
        "date of birth after the extract date",
        "Correct the date of birth (or set extract_date in the config to the day the extract "
        "was taken).",
        (_T("people", "dob"),),
        c.born_after_extract_date,
    ),
    Rule(
        "E123",
        E,
        Kind.FIELD,
        "date of birth gives an age over 110",
        "Correct the date of birth: it makes the person 111 or older on the extract date.",
        (_T("people", "dob"),),
        c.older_than_110,
    ),
    Rule(
        "W201",
        W,
        Kind.FIELD,
        "NINO fails format",
        "Correct {column}: {format}. Until then it is sent empty.",
        (_T("people", "nino"),),
        c.NINO,
    ),
    Rule(
        "W202",
        W,
        Kind.FIELD,
        "UPN fails format or check letter",
        "Correct {column}: {format}. Until then it is sent empty.",
        (_T("people", "upn"),),
        c.UPN,
    ),
    Rule(
        "W203",
        W,
        Kind.FIELD,
        "NHS number fails format or modulus 11 check",
        "Correct {column}: {format}. It is never sent; it is checked to find typing slips.",
        (_T("people", "nhs_number"),),
        c.NHS_NUMBER,
    ),
    Rule(
        "W204",
        W,
        Kind.FIELD,
        "postcode fails UK format",
        "Correct {column}: {format}. Until then it is sent empty.",
        (_T("people", "postcode"),),
        c.POSTCODE,
    ),
    Rule(
        "W207",
        W,
        Kind.FIELD,
        "name begins with =, +, - or @ (a spreadsheet would run it as a formula)",
        "Correct {column} in the case system. Until then it is sent empty, so that no file "
        "sent can run a formula when opened in a spreadsheet.",
        (_T("people", "forename"), _T("people", "surname")),
        c.formula_prefix,
    ),
    Rule(
        "W208",
        W,
        Kind.FIELD,
        f"name longer than {NAME_MAX_LENGTH} characters",
        "Correct {column} in the case system (a longer value is usually a note pasted into the "
        "name column). Until then it is sent empty.",
        (_T("people", "forename"), _T("people", "surname")),
        c.longer_than(NAME_MAX_LENGTH),
    ),
    # --- several values of a row ----------------------------------------------------------------
    Rule(
        "E102",
        E,
        Kind.ROW,
        "duplicate key",
        "Give each record its own key: {key} together must be unique (every copy is "
        "quarantined, since neither can be trusted over the other).",
        c.keyed_extracts(),
        c.duplicate_key,
        pandera="unique",
    ),
    Rule(
        "E106",
        E,
        Kind.ROW,
        "end date before start date",
        "Check both dates: {column} must be on or after the start date.",
        (
            _T("families", "date_support_ended", ("date_support_started", "date_support_ended")),
            _T("social_care_episodes", "end_date", ("start_date", "end_date")),
            _T("employment_spells", "end_date", ("start_date", "end_date")),
        ),
        c.ends_before_start,
    ),
    Rule(
        "E111",
        E,
        Kind.ROW,
        "date_support_started before date_identified",
        "date_support_started must be on or after date_identified.",
        (_T("families", "date_support_started", ("date_identified", "date_support_started")),),
        c.ends_before_start,
    ),
    Rule(
        "E112",
        E,
        Kind.ROW,
        "status needs date_support_started",
        "Give date_support_started for an ATTACHED or CLOSED family (or correct the status).",
        (_T("families", "date_support_started", ("status", "date_support_started")),),
        c.required_when(c.support_started_needed),
    ),
    Rule(
        "E113",
        E,
        Kind.ROW,
        "CLOSED needs date_support_ended",
        "Give date_support_ended for a CLOSED family (or correct the status).",
        (_T("families", "date_support_ended", ("status", "date_support_ended")),),
        c.required_when(c.support_ended_needed),
    ),
    Rule(
        "E114",
        E,
        Kind.ROW,
        "claim_type needs claim_date",
        "Give the claim_date of the claim, or clear claim_type.",
        (_T("families", "claim_date", ("claim_type", "claim_date")),),
        c.required_when(c.claim_date_needed),
    ),
    Rule(
        "E115",
        E,
        Kind.ROW,
        "claim_date before date_support_started",
        "claim_date must be on or after date_support_started.",
        (_T("families", "claim_date", ("date_support_started", "claim_date")),),
        c.ends_before_start,
    ),
    Rule(
        "E116",
        E,
        Kind.ROW,
        "claim_date without claim_type",
        "Give claim_type (SSP or CE) for the claim, or clear claim_date.",
        (_T("families", "claim_type", ("claim_date", "claim_type")),),
        c.required_when(c.claim_type_needed),
    ),
    Rule(
        "E120",
        E,
        Kind.ROW,
        "UNBORN needs expected_dob and no dob",
        "For an UNBORN person give expected_dob and leave dob empty.",
        (_T("people", "expected_dob", ("role", "dob", "expected_dob")),),
        c.unborn_dates,
    ),
    Rule(
        "E121",
        E,
        Kind.ROW,
        "role other than UNBORN needs dob and no expected_dob",
        "Give dob, and leave expected_dob empty, for every role but UNBORN.",
        (_T("people", "dob", ("role", "dob", "expected_dob")),),
        c.born_dates,
    ),
    Rule(
        "E125",
        E,
        Kind.ROW,
        "date_left before date_joined",
        "date_left must be on or after date_joined.",
        (_T("people", "date_left", ("date_joined", "date_left")),),
        c.ends_before_start,
    ),
    Rule(
        "E130",
        E,
        Kind.ROW,
        "absence sessions exceed possible sessions",
        "authorised_absence_sessions + unauthorised_absence_sessions may not exceed "
        "possible_sessions.",
        (
            _T(
                "school_attendance",
                "possible_sessions",
                (
                    "possible_sessions",
                    "authorised_absence_sessions",
                    "unauthorised_absence_sessions",
                ),
            ),
        ),
        c.absences_above_possible,
    ),
    Rule(
        "E131",
        E,
        Kind.ROW,
        "term_end before term_start",
        "term_end must be on or after term_start.",
        (_T("school_attendance", "term_end", ("term_start", "term_end")),),
        c.ends_before_start,
    ),
    # --- a row against another extract ----------------------------------------------------------
    Rule(
        "E107",
        E,
        Kind.CROSS,
        "refers to a family that is not in the families extract",
        "Add the family to the families extract, or correct family_id.",
        c.referring_to("family_id"),
        c.unknown_reference,
    ),
    Rule(
        "E108",
        E,
        Kind.CROSS,
        "refers to a person that is not in the people extract",
        "Add the person to the people extract, or correct person_id.",
        c.referring_to("person_id"),
        c.unknown_reference,
    ),
    Rule(
        "E124",
        E,
        Kind.CROSS,
        "CHILD is 18 or over on the family's date_identified",
        "Correct dob or role: a CHILD is under 18 on the family's date_identified.",
        (_T("people", "dob", ("role", "dob", "family_id")),),
        c.adult_child,
    ),
    Rule(
        "E132",
        E,
        Kind.CROSS,
        "person named in the incident is not in the incident's family",
        "Record the incident under the named person's family, or correct person_id.",
        (_T("domestic_abuse_incidents", "person_id", ("family_id", "person_id")),),
        c.named_person_elsewhere,
    ),
    # Last: it takes the rows in error so far.
    Rule(
        "E190",
        E,
        Kind.CROSS,
        "quarantined because a record it depends on is quarantined",
        "Fix the quarantined family or person row with the same value of {column}; this row then "
        "comes back.",
        (
            _T("people", "family_id"),
            *c.referring_to("person_id"),
            *(t for t in c.referring_to("family_id") if t.extract != "people"),
        ),
        c.depends_on_quarantined,
    ),
]

# The one rule that reads which rows the others found in error (through CheckContext.errors):
# it runs last and alone; every other rule reads only the parsed values.
CASCADE_RULE = "E190"

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}
if len(RULES) != len(_RULES):  # pragma: no cover - a typo in the list above
    raise RuntimeError("a rule code is declared twice")
if _RULES[-1].code != CASCADE_RULE:  # pragma: no cover - a rule added after it
    raise RuntimeError(f"{CASCADE_RULE} must be the last rule")

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
