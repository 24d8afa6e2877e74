"""pandera models of the ten case extracts, after parsing: the single source of truth for the
input columns, their types, code lists, keys and descriptions (the data dictionary is generated
from these classes, and the rule registry in ``schemas.rules`` reads them).

Conventions:
- ``Optional[...]`` marks a contract column written with ``?``: it may be absent from an extract
  (the parser then adds it as all-missing) and its values may be empty.
- Dates are ``datetime64`` at midnight, whole numbers ``Int64``, text and codes pandas ``str``.
- ``metadata["kind"]`` tells the parser how to read the raw text: ``id``, ``text``, ``code``,
  ``date``, ``int``, ``flag`` (0/1, yes/no) or ``identifier``; ``metadata["format"]`` says what a
  valid value looks like, for the "how to fix" of the validation report.
- The models declare what a column may hold (``nullable``, ``unique``, ``isin``,
  ``str_matches``); which rule reports a breach, and how, is declared once in ``schemas.rules``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import codes

Date = pd.Timestamp
Int = pd.Int64Dtype

DATE_FORMAT = "an ISO date (2025-04-01) or a UK date (01/04/2025), with a four-digit year"


# Common local spellings of a column, for the column-map suggestions (schemas.columns); matched
# on letters and digits only, so "Date of Birth" and "date_of_birth" are the same spelling.
_FAMILY_ALIASES = ("family ref", "family reference", "family number", "family no", "case id")
_PERSON_ALIASES = ("person ref", "person reference", "person number", "client id", "client ref")


def _id(
    description: str, *, unique: bool = False, nullable: bool = False, aliases: tuple[str, ...] = ()
) -> Any:
    return pa.Field(
        nullable=nullable,
        unique=unique,
        description=description,
        metadata={"kind": "id", "aliases": aliases},
    )


def _date(description: str, *, nullable: bool = False, aliases: tuple[str, ...] = ()) -> Any:
    return pa.Field(
        nullable=nullable,
        description=description,
        metadata={"kind": "date", "format": DATE_FORMAT, "aliases": aliases},
    )


def _code(
    description: str,
    allowed: tuple[str, ...],
    *,
    nullable: bool = False,
    aliases: tuple[str, ...] = (),
) -> Any:
    return pa.Field(
        nullable=nullable,
        isin=list(allowed),
        description=f"{description} ({', '.join(allowed)})",
        metadata={"kind": "code", "aliases": aliases},
    )


def _text(description: str, *, aliases: tuple[str, ...] = ()) -> Any:
    return pa.Field(
        nullable=True, description=description, metadata={"kind": "text", "aliases": aliases}
    )


def _count(description: str, *, nullable: bool = False) -> Any:
    return pa.Field(
        nullable=nullable,
        description=description,
        metadata={"kind": "int", "format": "a whole number of zero or more, in digits"},
    )


def _identifier(description: str, fmt: str, *, aliases: tuple[str, ...] = ()) -> Any:
    return pa.Field(
        nullable=True,
        description=description,
        metadata={"kind": "identifier", "format": fmt, "aliases": aliases},
    )


class ExtractModel(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are dropped and reported by the reader, not here
        coerce = False


class Families(ExtractModel):
    """One row per family on the programme."""

    family_id: Series[str] = _id(
        "The council's family identifier", unique=True, aliases=_FAMILY_ALIASES
    )
    la_code: Series[str] = pa.Field(
        str_matches=codes.LA_CODE_PATTERN,
        description="ONS code of the upper-tier authority, e.g. E08000012",
        metadata={
            "kind": "code",
            "format": "an ONS code: E06, E08, E09 or E10 and six digits, e.g. E08000012",
            "aliases": ("la", "local authority", "local authority code", "ons code"),
        },
    )
    date_identified: Series[Date] = _date(
        "Date the family was identified as eligible",
        aliases=("identified", "date of identification", "identification date"),
    )
    date_support_started: Series[Date] | None = _date(
        "Date support (attachment) started; empty for the comparison group",
        nullable=True,
        aliases=("support start date", "support started", "attachment date", "date attached"),
    )
    date_support_ended: Series[Date] | None = _date(
        "Date support ended",
        nullable=True,
        aliases=("support end date", "support ended", "closure date", "date closed"),
    )
    status: Series[str] = _code("Recorded status of the family", codes.FAMILY_STATUSES)
    claim_type: Series[str] | None = _code(
        "Results claim made for the family", codes.CLAIM_TYPES, nullable=True
    )
    claim_date: Series[Date] | None = _date("Date of the results claim", nullable=True)
    intensity: Series[str] | None = _text("Intensity of support, as recorded locally")


class People(ExtractModel):
    """One row per person in a family."""

    person_id: Series[str] = _id(
        "The council's person identifier", unique=True, aliases=_PERSON_ALIASES
    )
    family_id: Series[str] = _id("Family the person belongs to", aliases=_FAMILY_ALIASES)
    role: Series[str] = _code(
        "Role of the person in the family", codes.ROLES, aliases=("family role", "relationship")
    )
    forename: Series[str] | None = _text(
        "Forename", aliases=("first name", "given name", "forenames", "firstname")
    )
    surname: Series[str] | None = _text("Surname", aliases=("last name", "family name", "lastname"))
    dob: Series[Date] | None = _date(
        "Date of birth; empty for UNBORN",
        nullable=True,
        aliases=("date of birth", "birth date", "birthdate", "d.o.b."),
    )
    expected_dob: Series[Date] | None = _date(
        "Expected date of birth; UNBORN only",
        nullable=True,
        aliases=("expected date of birth", "due date", "edd"),
    )
    gender: Series[str] = _code(
        "Gender as recorded, written in the submission as the CIN census codes 1, 2, 9 and 0; "
        "accepted here as these codes, or Male and Female, in any case",
        codes.GENDERS,
        aliases=("sex",),
    )
    postcode: Series[str] | None = _identifier(
        "Home postcode, UK format",
        "a UK postcode, e.g. L1 8JQ",
        aliases=("post code", "postal code", "home postcode"),
    )
    nino: Series[str] | None = _identifier(
        "National Insurance number",
        "two letters, six digits and a final letter A to D; spaces are ignored",
        aliases=("ni number", "ni no", "national insurance number", "nino number"),
    )
    upn: Series[str] | None = _identifier(
        "Unique Pupil Number (13 characters, check letter)",
        "13 characters: the check letter, 11 digits, then a digit or letter; the check letter "
        "must match the rest",
        aliases=("unique pupil number", "pupil number"),
    )
    nhs_number: Series[str] | None = _identifier(
        "NHS number (10 digits, modulus 11); validated, never submitted",
        "10 digits, the last being the modulus 11 check digit; spaces are ignored",
        aliases=("nhs no", "nhs num", "nhs"),
    )
    ethnicity: Series[str] | None = _text(
        "Ethnicity as recorded; never submitted", aliases=("ethnic group", "ethnic origin")
    )
    date_joined: Series[Date] | None = _date("Date the person joined the family", nullable=True)
    date_left: Series[Date] | None = _date("Date the person left the family", nullable=True)
    nis_opt_out: Series[Int] | None = pa.Field(
        nullable=True,
        description="1 when the person opted out of the National Impact Study",
        metadata={
            "kind": "flag",
            "format": "1 or 0 (also Y/N, YES/NO, TRUE/FALSE); empty means 0",
            "aliases": ("opt out", "opted out", "nis opt out flag"),
        },
    )


class Eligibility(ExtractModel):
    """Headline problems a family met, and when."""

    family_id: Series[str] = _id("Family that met the problem")
    problem: Series[str] = _code("Headline problem", codes.PROBLEMS)
    person_id: Series[str] | None = _id("Person the problem is about, if any", nullable=True)
    date_met: Series[Date] = _date("Date the problem was evidenced")

    class Config:
        unique = ["family_id", "problem", "person_id"]


class SchoolAttendance(ExtractModel):
    """School attendance per pupil per term."""

    person_id: Series[str] = _id("Pupil")
    term_start: Series[Date] = _date("First day of the term")
    term_end: Series[Date] = _date("Last day of the term")
    possible_sessions: Series[Int] = _count("Possible sessions in the term")
    authorised_absence_sessions: Series[Int] = _count("Sessions of authorised absence")
    unauthorised_absence_sessions: Series[Int] = _count("Sessions of unauthorised absence")

    class Config:
        unique = ["person_id", "term_start"]


class Exclusions(ExtractModel):
    """Suspensions and permanent exclusions from school."""

    person_id: Series[str] = _id("Pupil")
    start_date: Series[Date] = _date("First day of the exclusion")
    exclusion_type: Series[str] = _code("Type of exclusion", codes.EXCLUSION_TYPES)
    sessions: Series[Int] | None = _count("Sessions missed", nullable=True)


class Offences(ExtractModel):
    """Proven offences."""

    person_id: Series[str] = _id("Offender")
    offence_date: Series[Date] = _date("Date of the offence")
    offence_category: Series[str] | None = _text("Category of offence, as recorded")


class AsbIncidents(ExtractModel):
    """Anti-social behaviour incidents."""

    person_id: Series[str] = _id("Person responsible")
    incident_date: Series[Date] = _date("Date of the incident")
    incident_category: Series[str] | None = _text("Category, as recorded")


class DomesticAbuseIncidents(ExtractModel):
    """Domestic abuse incidents of a family, naming a person where known."""

    family_id: Series[str] = _id("Family of the incident")
    person_id: Series[str] | None = _id("Person named in the incident, if any", nullable=True)
    incident_date: Series[Date] = _date("Date of the incident")
    involvement: Series[str] | None = _code(
        "How the named person was involved", codes.DA_INVOLVEMENTS, nullable=True
    )


class SocialCareEpisodes(ExtractModel):
    """Child in need, child protection plan and looked-after episodes."""

    person_id: Series[str] = _id("Child")
    episode_type: Series[str] = _code("Type of episode", codes.EPISODE_TYPES)
    start_date: Series[Date] = _date("First day of the episode")
    end_date: Series[Date] | None = _date("Last day of the episode; empty if open", nullable=True)


class EmploymentSpells(ExtractModel):
    """Spells of employment, out-of-work benefit and NEET."""

    person_id: Series[str] = _id("Person")
    spell_type: Series[str] = _code("Type of spell", codes.SPELL_TYPES)
    start_date: Series[Date] = _date("First day of the spell")
    end_date: Series[Date] | None = _date("Last day of the spell; empty if open", nullable=True)


MODELS: dict[str, type[ExtractModel]] = {
    "families": Families,
    "people": People,
    "eligibility": Eligibility,
    "school_attendance": SchoolAttendance,
    "exclusions": Exclusions,
    "offences": Offences,
    "asb_incidents": AsbIncidents,
    "domestic_abuse_incidents": DomesticAbuseIncidents,
    "social_care_episodes": SocialCareEpisodes,
    "employment_spells": EmploymentSpells,
}

# The ten extracts, in contract order (spec section 2): every loop over extracts uses this.
EXTRACT_NAMES: tuple[str, ...] = tuple(MODELS)

SCHEMAS: dict[str, pa.DataFrameSchema] = {name: model.to_schema() for name, model in MODELS.items()}

# The key that names a record in the validation report, per extract.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in ("family_id", "person_id") if c in schema.columns)
    for name, schema in SCHEMAS.items()
}


def unique_keys(name: str) -> tuple[str, ...] | None:
    """The columns whose values together must be unique in extract ``name`` (a single
    ``unique=True`` column, or the model's ``Config.unique``), or None."""
    schema = SCHEMAS[name]
    if schema.unique:
        return tuple(schema.unique)
    single = [column for column, spec in schema.columns.items() if spec.unique]
    return tuple(single) if single else None


def column_format(name: str, column: str) -> str:
    return str((SCHEMAS[name].columns[column].metadata or {}).get("format", ""))


def allowed_codes(name: str, column: str) -> tuple[str, ...]:
    """The code list of a ``code`` column (its pandera ``isin`` check), or ()."""
    for check in SCHEMAS[name].columns[column].checks:
        if check.name == "isin":
            return tuple(check.statistics["allowed_values"])
    return ()
