"""pandera models of the two submission tables (spec section 5) and of the pseudonymised research
extract (section 7): the single source of truth for their columns, order, types and definitions
(the workbook's data dictionary and ``docs/data-dictionary.md`` are generated from the
``description`` of each field).

Output dtypes:
- identifiers, pseudonyms, text and codes (including ``dob_month``, ``postcode_sector``): pandas
  ``str`` (missing = NaN);
- dates (including ``census_date``): ``datetime64[ns]`` at midnight (missing = NaT);
- counts and 0/1 flags: ``Int64`` (nullable only where the contract allows an empty value:
  ``age_at_census``, ``persistent_absence``, ``neet_at_census`` and the percentages);
- percentages: ``Float64`` holding exact tenths (rounded half up in integer arithmetic), written
  with one decimal by the exports.

Every FPD measure also says how the statistics file counts it, in its field's
``metadata["statistic"]`` (one of :data:`STATISTIC_KINDS`): ``count`` (people with a value above
0), ``flag`` (people with 1, and, when the field may be empty, people with a value) or
``recorded`` (people with a value).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import codes

Date = pd.Timestamp
Int = pd.Int64Dtype
Float = pd.Float64Dtype

# How the statistics file counts an FPD measure (the field's metadata["statistic"]).
STATISTIC_KINDS = ("count", "flag", "recorded")
# intervention_status values (section 4), in the order the rule tests them.
INTERVENTION_STATUSES = (
    "DECLINED",
    "NOT_ELIGIBLE",
    "IDENTIFIED",
    "ATTACHED",
    "CLAIMED_SSP",
    "CLAIMED_CE",
    "CLOSED",
)
# Output column of each headline problem, in the order of schemas.codes.PROBLEMS.
PROBLEM_COLUMNS: dict[str, str] = {problem: f"p_{problem.lower()}" for problem in codes.PROBLEMS}


def _id(description: str, *, nullable: bool = False) -> Any:
    return pa.Field(nullable=nullable, description=description)


def _text(description: str) -> Any:
    return pa.Field(nullable=True, description=description)


def _code(description: str, allowed: tuple[str, ...], *, nullable: bool = False) -> Any:
    return pa.Field(nullable=nullable, isin=list(allowed), description=description)


def _date(description: str, *, nullable: bool = True) -> Any:
    return pa.Field(nullable=nullable, description=description)


def _count(description: str) -> Any:
    return pa.Field(ge=0, nullable=False, description=description, metadata={"statistic": "count"})


def _flag(description: str, *, nullable: bool = False) -> Any:
    return pa.Field(
        isin=[0, 1], nullable=nullable, description=description, metadata={"statistic": "flag"}
    )


def _pct(description: str) -> Any:
    return pa.Field(
        ge=0, le=100, nullable=True, description=description, metadata={"statistic": "recorded"}
    )


def _is_tenths(series: pd.Series) -> pd.Series:
    tenths = series * 10
    return (series.isna() | ((tenths - tenths.round()).abs() < 1e-6)).astype(bool)


class OutputModel(pa.DataFrameModel):
    class Config:
        strict = True  # nothing outside the contract may reach a submission file
        ordered = True
        coerce = False


def _la_code() -> Any:
    return pa.Field(
        str_matches=codes.LA_CODE_PATTERN,
        description="ONS code of the upper-tier authority making the submission, e.g. E08000012",
    )


def _census_date() -> Any:
    return pa.Field(
        description=(
            "Census date of the period (31 March or 30 September); the period is the six months "
            "ending on it"
        )
    )


def _role() -> Any:
    return _code(f"Role of the person in the family ({', '.join(codes.ROLES)})", codes.ROLES)


def _gender() -> Any:
    return _code(
        "Gender as a CIN census code: 1 male, 2 female, 9 indeterminate, 0 not recorded",
        tuple(codes.GENDER_CIN_CODES.values()),
    )


def _intervention_status() -> Any:
    return _code(
        "Status of intervention on the census date C, the first that holds: DECLINED or "
        "NOT_ELIGIBLE when that is the recorded status; IDENTIFIED when support has not started "
        "on or before C (the comparison group); ATTACHED when date_support_ended is empty or "
        "after C; CLAIMED_SSP or CLAIMED_CE when a claim of that type has claim_date <= C; "
        "otherwise CLOSED",
        INTERVENTION_STATUSES,
    )


# The tables are assembled from the groups of columns below. pandera orders the columns of a
# model by its bases in reverse method resolution order, so a table class lists its groups last
# first: ``class T(C, B, A)`` has the columns of A, then B, then C.


class _Keys(OutputModel):
    la_code: Series[str] = _la_code()
    census_date: Series[Date] = _census_date()
    family_id: Series[str] = _id("The council's family identifier")
    person_id: Series[str] = _id("The council's person identifier")


class _Identifiers(OutputModel):
    role: Series[str] = _role()
    forename: Series[str] = _text("Forename")
    surname: Series[str] = _text("Surname")
    dob: Series[Date] = _date("Date of birth; empty for UNBORN")
    expected_dob: Series[Date] = _date("Expected date of birth; UNBORN only")
    gender: Series[str] = _gender()
    postcode: Series[str] = _text(
        "Home postcode, upper case with one space before the inward code; empty when invalid"
    )
    nino: Series[str] = _text("National Insurance number; empty when invalid")
    upn: Series[str] = _text("Unique Pupil Number; empty when invalid")
    intervention_status: Series[str] = _intervention_status()
    date_identified: Series[Date] = _date(
        "Date the family was identified as eligible", nullable=False
    )
    date_support_started: Series[Date] = _date(
        "Date support started, written only when on or before the census date, else empty"
    )
    date_support_ended: Series[Date] = _date(
        "Date support ended, written only when on or before the census date, else empty"
    )


class _Problems(OutputModel):
    p_crime_asb: Series[Int] = _flag(
        "1 when the family met the crime and anti-social behaviour problem on or before the "
        "census date (an eligibility row with date_met <= C), else 0"
    )
    p_education: Series[Int] = _flag(
        "1 when the family met the education problem on or before the census date, else 0"
    )
    p_children_need_help: Series[Int] = _flag(
        "1 when the family met the children who need help problem on or before the census "
        "date, else 0"
    )
    p_worklessness: Series[Int] = _flag(
        "1 when the family met the worklessness and financial difficulty problem on or before "
        "the census date, else 0"
    )
    p_domestic_abuse: Series[Int] = _flag(
        "1 when the family met the domestic abuse problem on or before the census date, else 0"
    )
    p_health: Series[Int] = _flag(
        "1 when the family met the physical and mental health problem on or before the census "
        "date, else 0"
    )


class _Measures(OutputModel):
    age_at_census: Series[Int] = pa.Field(
        ge=0,
        nullable=True,
        description="whole years on C (empty for UNBORN)",
        metadata={"statistic": "recorded"},
    )
    proven_offences: Series[Int] = _count("offences with offence_date in P")
    asb_incidents: Series[Int] = _count("ASB incidents with incident_date in P")
    da_incidents: Series[Int] = _count("domestic abuse incidents in P naming this person")
    family_da_incidents: Series[Int] = _count(
        "domestic abuse incidents in P of the person's family, named or not"
    )
    attendance_pct: Series[Float] = _pct(
        "over attendance rows with term_end in P: 100 x (possible - authorised - unauthorised) "
        "/ possible, rounded half up to 1 decimal; empty when no such rows or possible = 0"
    )
    unauthorised_absence_pct: Series[Float] = _pct(
        "100 x unauthorised / possible over the same rows, rounded half up to 1 decimal; "
        "empty likewise"
    )
    persistent_absence: Series[Int] = _flag(
        "1 when (authorised + unauthorised) / possible >= 0.10 over the same rows, 0 when "
        "below, empty likewise",
        nullable=True,
    )
    suspensions: Series[Int] = _count("SUSPENSION exclusions with start_date in P")
    permanent_exclusion: Series[Int] = _flag(
        "1 when a PERMANENT exclusion has start_date in P, else 0"
    )
    cin_any: Series[Int] = _flag("1 when an episode of type CIN overlaps P, else 0")
    cpp_any: Series[Int] = _flag("1 when an episode of type CPP overlaps P, else 0")
    lac_any: Series[Int] = _flag("1 when an episode of type LAC overlaps P, else 0")
    cin_at_census: Series[Int] = _flag("1 when an episode of type CIN is open on C, else 0")
    cpp_at_census: Series[Int] = _flag("1 when an episode of type CPP is open on C, else 0")
    lac_at_census: Series[Int] = _flag("1 when an episode of type LAC is open on C, else 0")
    out_of_work_benefit_at_census: Series[Int] = _flag(
        "1 when a spell of type OUT_OF_WORK_BENEFIT is open on C, else 0"
    )
    employed_at_census: Series[Int] = _flag("1 when a spell of type EMPLOYED is open on C, else 0")
    weeks_continuous_employment: Series[Int] = _count(
        "when employed on C: whole weeks from the start of the unbroken run of EMPLOYED spells "
        "(spells that overlap or touch, the next starting no later than the day after the last "
        "ends, join into one run) up to C inclusive, i.e. floor((C - run start + 1 day) / 7); "
        "else 0"
    )
    neet_at_census: Series[Int] = _flag(
        "for ages 16 to 18 on C: 1 when a NEET spell is open on C, else 0; empty at other ages",
        nullable=True,
    )

    @pa.check("attendance_pct", "unauthorised_absence_pct", name="tenths")
    def _tenths(cls, series: pd.Series) -> pd.Series:
        return _is_tenths(series)


class IndividualsRecord(_Problems, _Identifiers, _Keys):
    """One row per person of the NIS cohort (spec sections 1, 4 and 5)."""


class FpdRecord(_Measures, _Keys):
    """Family Progress Data: one row per person of the FPD cohort (spec section 3)."""


_PSEUDONYM_PATTERN = r"^[0-9a-f]{64}$"


class _ResearchHead(OutputModel):
    family_pseudonym: Series[str] = pa.Field(
        str_matches=_PSEUDONYM_PATTERN,
        description=(
            "Pseudonym of the family: lowercase hex HMAC-SHA256 of '{la_code}:family:{family_id}' "
            "keyed with the council's pseudonymisation secret; the same in every period"
        ),
    )
    person_pseudonym: Series[str] = pa.Field(
        str_matches=_PSEUDONYM_PATTERN,
        unique=True,
        description=(
            "Pseudonym of the person: lowercase hex HMAC-SHA256 of '{la_code}:person:{person_id}' "
            "keyed with the council's pseudonymisation secret; the same in every period"
        ),
    )
    la_code: Series[str] = _la_code()
    census_date: Series[Date] = _census_date()
    role: Series[str] = _role()
    gender: Series[str] = _gender()
    dob_month: Series[str] = pa.Field(
        nullable=True,
        str_matches=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Year and month of birth (YYYY-MM); empty when the date of birth is unknown",
    )
    postcode_sector: Series[str] = pa.Field(
        nullable=True,
        str_matches=r"^[A-Z0-9]{2,4} [0-9]$",
        description=(
            "Postcode sector: the outward code, a space and the first character of the inward "
            "code (L1 8JQ gives L1 8); empty when the postcode is unknown or invalid"
        ),
    )
    intervention_status: Series[str] = _intervention_status()


class ResearchRecord(_Measures, _Problems, _ResearchHead):
    """The pseudonymised research extract (spec section 7): one row per person of the FPD
    cohort, no identifier."""


def _columns(model: type[OutputModel]) -> list[str]:
    return list(model.to_schema().columns)


INDIVIDUALS_COLUMNS: list[str] = _columns(IndividualsRecord)
FPD_COLUMNS: list[str] = _columns(FpdRecord)
# Measures of section 3, in table order (FPD_COLUMNS after the four key columns).
FPD_MEASURES: list[str] = FPD_COLUMNS[4:]
RESEARCH_COLUMNS: list[str] = _columns(ResearchRecord)
# What the research extract must never hold (spec section 7): checked by its writer and its tests.
RESEARCH_FORBIDDEN_COLUMNS: tuple[str, ...] = (
    "family_id",
    "person_id",
    "forename",
    "surname",
    "dob",
    "expected_dob",
    "postcode",
    "nino",
    "upn",
    "nhs_number",
    "ethnicity",
)


# --- The changes file (spec section 6): internal, for the council's analyst, never submitted. ---

# Kinds of change, in the contract's order (the manifest counts them in this order).
CHANGE_KINDS = (
    "JOINED",
    "LEFT",
    "FAMILY",
    "STATUS",
    "ROLE",
    "PROBLEM_ADDED",
    "PROBLEM_REMOVED",
    "IDENTIFIER_ADDED",
    "IDENTIFIER_REMOVED",
    "IDENTIFIER_CHANGED",
    "DATE_REVISED",
)
# Kinds whose rows carry the two values; every other kind leaves previous/current empty
# (identifier values are personal data, dates are named only).
CHANGE_KINDS_WITH_VALUES = (
    "FAMILY",
    "STATUS",
    "ROLE",
    "PROBLEM_ADDED",
    "PROBLEM_REMOVED",
)
# Kinds about the person as a whole: no field.
CHANGE_KINDS_WITHOUT_FIELD = ("JOINED", "LEFT")
# Columns of the individuals table compared for IDENTIFIER_* and DATE_REVISED, in file order.
IDENTIFIER_FIELDS = (
    "forename",
    "surname",
    "dob",
    "expected_dob",
    "gender",
    "postcode",
    "nino",
    "upn",
)
REVISABLE_DATE_FIELDS = ("date_identified", "date_support_started", "date_support_ended")


class ChangesRecord(pa.DataFrameModel):
    """One row per change since the previous submission (spec section 6)."""

    family_id: Series[str] = pa.Field(
        description="The person's current family identifier; for LEFT, their previous one"
    )
    person_id: Series[str] = pa.Field(description="The council's person identifier")
    change: Series[str] = pa.Field(
        isin=list(CHANGE_KINDS),
        description=(
            "JOINED / LEFT: in this NIS cohort and not the previous one, or the reverse; "
            "FAMILY: now in another family; STATUS, ROLE: intervention_status or role differs; "
            "PROBLEM_ADDED / PROBLEM_REMOVED: a p_* flag went 0 to 1 / 1 to 0; "
            "IDENTIFIER_ADDED / _REMOVED / _CHANGED: an identifier went from empty to a value, "
            "from a value to empty, or from one value to another; DATE_REVISED: date_identified, "
            "date_support_started or date_support_ended differs from the previous submission "
            "(a retrospective edit), except a support date that was empty there and is now after "
            "the previous census date (progress, not an edit)"
        ),
    )
    field: Series[str] = pa.Field(
        nullable=True,
        description="The individuals column that changed; empty for JOINED and LEFT",
    )
    previous: Series[str] = pa.Field(
        nullable=True,
        description=(
            "The previous value for FAMILY, STATUS, ROLE and PROBLEM_* (a family id, a code, "
            "0 or 1); always empty for the other kinds (identifier values are personal data)"
        ),
    )
    current: Series[str] = pa.Field(
        nullable=True,
        description="The current value, on the same terms as previous",
    )

    class Config:
        strict = True
        ordered = True
        coerce = False

    @pa.dataframe_check(name="values only for FAMILY, STATUS, ROLE and PROBLEM_*")
    def _values_only_where_allowed(cls, df: pd.DataFrame) -> pd.Series:
        # The last guard against writing an identifier's value into a file.
        carries = df["change"].isin(list(CHANGE_KINDS_WITH_VALUES))
        empty = df["previous"].isna() & df["current"].isna()
        return (carries | empty).astype(bool)

    @pa.dataframe_check(name="field empty exactly for JOINED and LEFT")
    def _field_where_needed(cls, df: pd.DataFrame) -> pd.Series:
        whole = df["change"].isin(list(CHANGE_KINDS_WITHOUT_FIELD))
        return (whole == df["field"].isna()).astype(bool)


CHANGES_COLUMNS: list[str] = list(ChangesRecord.to_schema().columns)
