"""pandera models of the ten case extracts, after parsing: the single source of truth for the
input columns, their types, their rules and their descriptions (the data dictionary is generated
from these classes).

Conventions:
- ``Optional[...]`` marks a contract column written with ``?``: it may be absent from an extract
  (the parser then adds it as all-missing) and its values may be empty.
- Dates are ``datetime64`` at midnight, whole numbers ``Int64``, text and codes pandas ``str``.
- ``metadata["kind"]`` tells the parser how to read the raw text: ``id``, ``text``, ``code``,
  ``date``, ``int`` or ``identifier``.
- Check names are rule codes (``E106:end_date`` = rule E106 reported on column ``end_date``), so a
  pandera failure maps to a coded finding without any lookup table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import codes
from schemas.identifiers import nhs_is_valid, nino_is_valid, postcode_is_valid, upn_is_valid

Date = pd.Timestamp
Int = pd.Int64Dtype


def _id(description: str, *, unique: bool = False, nullable: bool = False) -> Any:
    return pa.Field(
        nullable=nullable, unique=unique, description=description, metadata={"kind": "id"}
    )


def _date(description: str, *, nullable: bool = False) -> Any:
    return pa.Field(nullable=nullable, description=description, metadata={"kind": "date"})


def _code(description: str, allowed: tuple[str, ...], *, nullable: bool = False) -> Any:
    return pa.Field(
        nullable=nullable,
        isin=list(allowed),
        description=f"{description} ({', '.join(allowed)})",
        metadata={"kind": "code"},
    )


def _text(description: str) -> Any:
    return pa.Field(nullable=True, description=description, metadata={"kind": "text"})


def _count(description: str, *, nullable: bool = False) -> Any:
    return pa.Field(nullable=nullable, ge=0, description=description, metadata={"kind": "int"})


def _identifier(description: str) -> Any:
    return pa.Field(nullable=True, description=description, metadata={"kind": "identifier"})


def _ends_after_starts(df: pd.DataFrame, start: str, end: str) -> pd.Series:
    return df[end].isna() | df[start].isna() | (df[end] >= df[start])


class ExtractModel(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are dropped and reported by the reader, not here
        coerce = False


class Families(ExtractModel):
    """One row per family on the programme."""

    family_id: Series[str] = _id("The council's family identifier", unique=True)
    la_code: Series[str] = pa.Field(
        str_matches=codes.LA_CODE_PATTERN,
        description="ONS code of the upper-tier authority, e.g. E08000012",
        metadata={"kind": "code"},
    )
    date_identified: Series[Date] = _date("Date the family was identified as eligible")
    date_support_started: Series[Date] | None = _date(
        "Date support (attachment) started; empty for the comparison group", nullable=True
    )
    date_support_ended: Series[Date] | None = _date("Date support ended", nullable=True)
    status: Series[str] = _code("Recorded status of the family", codes.FAMILY_STATUSES)
    claim_type: Series[str] | None = _code(
        "Results claim made for the family", codes.CLAIM_TYPES, nullable=True
    )
    claim_date: Series[Date] | None = _date("Date of the results claim", nullable=True)
    intensity: Series[str] | None = _text("Intensity of support, as recorded locally")

    @pa.dataframe_check(name="E111:date_support_started")
    def _support_after_identified(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "date_identified", "date_support_started")

    @pa.dataframe_check(name="E106:date_support_ended")
    def _support_ends_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "date_support_started", "date_support_ended")

    @pa.dataframe_check(name="E112:date_support_started")
    def _attached_needs_start(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["status"].isin(["ATTACHED", "CLOSED"]) & df["date_support_started"].isna())

    @pa.dataframe_check(name="E113:date_support_ended")
    def _closed_needs_end(cls, df: pd.DataFrame) -> pd.Series:
        return ~((df["status"] == "CLOSED") & df["date_support_ended"].isna())

    @pa.dataframe_check(name="E114:claim_date")
    def _claim_needs_date(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["claim_type"].notna() & df["claim_date"].isna())

    @pa.dataframe_check(name="E116:claim_type")
    def _claim_date_needs_type(cls, df: pd.DataFrame) -> pd.Series:
        return ~(df["claim_type"].isna() & df["claim_date"].notna())

    @pa.dataframe_check(name="E115:claim_date")
    def _claim_after_support(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "date_support_started", "claim_date")


class People(ExtractModel):
    """One row per person in a family."""

    person_id: Series[str] = _id("The council's person identifier", unique=True)
    family_id: Series[str] = _id("Family the person belongs to")
    role: Series[str] = _code("Role of the person in the family", codes.ROLES)
    forename: Series[str] | None = _text("Forename")
    surname: Series[str] | None = _text("Surname")
    dob: Series[Date] | None = _date("Date of birth; empty for UNBORN", nullable=True)
    expected_dob: Series[Date] | None = _date("Expected date of birth; UNBORN only", nullable=True)
    gender: Series[str] = _code(
        "Gender as recorded (Male and Female are accepted); written as CIN census codes",
        codes.GENDERS,
    )
    postcode: Series[str] | None = _identifier("Home postcode, UK format")
    nino: Series[str] | None = _identifier("National Insurance number")
    upn: Series[str] | None = _identifier("Unique Pupil Number (13 characters, check letter)")
    nhs_number: Series[str] | None = _identifier(
        "NHS number (10 digits, modulus 11); validated, never submitted"
    )
    ethnicity: Series[str] | None = _text("Ethnicity as recorded; never submitted")
    date_joined: Series[Date] | None = _date("Date the person joined the family", nullable=True)
    date_left: Series[Date] | None = _date("Date the person left the family", nullable=True)
    nis_opt_out: Series[Int] | None = pa.Field(
        nullable=True,
        isin=[0, 1],
        description="1 when the person opted out of the National Impact Study",
        metadata={"kind": "int"},
    )

    @pa.check("nino", name="W201:nino")
    def _nino(cls, nino: pd.Series) -> pd.Series:
        return nino_is_valid(nino)

    @pa.check("upn", name="W202:upn")
    def _upn(cls, upn: pd.Series) -> pd.Series:
        return upn_is_valid(upn)

    @pa.check("nhs_number", name="W203:nhs_number")
    def _nhs(cls, nhs: pd.Series) -> pd.Series:
        return nhs_is_valid(nhs)

    @pa.check("postcode", name="W204:postcode")
    def _postcode(cls, postcode: pd.Series) -> pd.Series:
        return postcode_is_valid(postcode)

    @pa.dataframe_check(name="E120:expected_dob")
    def _unborn_dates(cls, df: pd.DataFrame) -> pd.Series:
        unborn = df["role"] == "UNBORN"
        return ~unborn | (df["expected_dob"].notna() & df["dob"].isna())

    @pa.dataframe_check(name="E121:dob")
    def _born_dates(cls, df: pd.DataFrame) -> pd.Series:
        born = df["role"].notna() & (df["role"] != "UNBORN") & df["role"].isin(codes.ROLES)
        return ~born | (df["dob"].notna() & df["expected_dob"].isna())

    @pa.dataframe_check(name="E125:date_left")
    def _left_after_joined(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "date_joined", "date_left")


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

    @pa.dataframe_check(name="E131:term_end")
    def _term_order(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "term_start", "term_end")

    @pa.dataframe_check(name="E130:possible_sessions")
    def _absence_within_possible(cls, df: pd.DataFrame) -> pd.Series:
        absent = df["authorised_absence_sessions"] + df["unauthorised_absence_sessions"]
        return (absent <= df["possible_sessions"]).fillna(True).astype(bool)


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

    @pa.dataframe_check(name="E106:end_date")
    def _ends_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "start_date", "end_date")


class EmploymentSpells(ExtractModel):
    """Spells of employment, out-of-work benefit and NEET."""

    person_id: Series[str] = _id("Person")
    spell_type: Series[str] = _code("Type of spell", codes.SPELL_TYPES)
    start_date: Series[Date] = _date("First day of the spell")
    end_date: Series[Date] | None = _date("Last day of the spell; empty if open", nullable=True)

    @pa.dataframe_check(name="E106:end_date")
    def _ends_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return _ends_after_starts(df, "start_date", "end_date")


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

# The key that names a record in the validation report, per extract.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in ("family_id", "person_id") if c in model.to_schema().columns)
    for name, model in MODELS.items()
}
