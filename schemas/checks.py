"""The vectorised checks behind the rules of ``schemas.rules``.

Every check takes the :class:`CheckContext` of a validation and the :class:`Target` it runs on,
and returns a boolean array over that extract's rows: True where the row breaks the rule. A
missing value never breaks a rule that compares values (E101 reports missing values on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from schemas import codes
from schemas.cleaning import FORMULA_PREFIXES
from schemas.identifiers import nhs_is_valid, nino_is_valid, postcode_is_valid, upn_is_valid
from schemas.keys import isin
from schemas.models import EXTRACT_NAMES, RECORD_KEYS, SCHEMAS, unique_keys
from schemas.parsing import ParsedExtract


@dataclass(frozen=True)
class Target:
    """Where a rule applies: an extract, the column its findings name (None for a whole-extract
    rule), and the columns its check reads (the named column when not given)."""

    extract: str
    column: str | None = None
    reads: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.reads or ((self.column,) if self.column else ())


@dataclass
class CheckContext:
    """What the checks of one validation see: the parsed extracts, the extract date, and the
    rows already in error (filled in as the rules run, for the cascade)."""

    parsed: Mapping[str, ParsedExtract]
    extract_date: date
    errors: dict[str, np.ndarray] = field(default_factory=dict)

    def frame(self, extract: str) -> pd.DataFrame:
        return self.parsed[extract].frame


Check = Callable[[CheckContext, Target], np.ndarray]


def _mask(values: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


# --- targets derived from the models ------------------------------------------------------


def columns_where(keep: Callable[[str, str], bool]) -> tuple[Target, ...]:
    """A target per column of every extract for which ``keep(extract, column)`` holds."""
    return tuple(
        Target(name, column)
        for name in EXTRACT_NAMES
        for column in SCHEMAS[name].columns
        if keep(name, column)
    )


def of_kind(kind: str) -> tuple[Target, ...]:
    return columns_where(lambda n, c: (SCHEMAS[n].columns[c].metadata or {}).get("kind") == kind)


def with_check(check_name: str) -> tuple[Target, ...]:
    """Columns that carry the pandera check ``check_name`` (``isin``, ``str_matches``...)."""
    return columns_where(
        lambda n, c: any(k.name == check_name for k in SCHEMAS[n].columns[c].checks)
    )


def every_column() -> tuple[Target, ...]:
    return columns_where(lambda n, c: True)


def whole_rows() -> tuple[Target, ...]:
    """One target per extract naming no column: a rule about the row as a whole."""
    return tuple(Target(name) for name in EXTRACT_NAMES)


def not_nullable() -> tuple[Target, ...]:
    return columns_where(lambda n, c: not SCHEMAS[n].columns[c].nullable)


def keyed_extracts() -> tuple[Target, ...]:
    """One target per extract with a unique key, named on its first column."""
    targets = []
    for name in EXTRACT_NAMES:
        key = unique_keys(name)
        if key:
            targets.append(Target(name, key[0], key))
    return tuple(targets)


def referring_to(key: str) -> tuple[Target, ...]:
    """Extracts (other than the one that owns ``key``) whose rows refer to a family or person."""
    owner = "families" if key == "family_id" else "people"
    return tuple(
        Target(name, key) for name in EXTRACT_NAMES if name != owner and key in RECORD_KEYS[name]
    )


# --- checks -----------------------------------------------------------------------------------


def parse_failure(failure: str) -> Check:
    """The cells of the target column that its parser could not read as ``failure``."""

    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        parsed = ctx.parsed[target.extract]
        assert target.column is not None
        failed = parsed.failed(target.column, failure)
        return np.zeros(len(parsed.frame), dtype=bool) if failed is None else _mask(failed)

    return check


def row_fault(fault: str) -> Check:
    """The rows the reader found broken as a whole with ``fault``."""

    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        parsed = ctx.parsed[target.extract]
        mask = parsed.row_faults.get(fault)
        return np.zeros(len(parsed.frame), dtype=bool) if mask is None else _mask(mask)

    return check


def characters_removed(ctx: CheckContext, target: Target) -> np.ndarray:
    """The cells of the target column that lost characters no file can carry while parsing."""
    assert target.column is not None
    parsed = ctx.parsed[target.extract]
    mask = parsed.cleaned.get(target.column)
    return np.zeros(len(parsed.frame), dtype=bool) if mask is None else _mask(mask)


def longer_than(limit: int) -> Check:
    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        assert target.column is not None
        return _mask(ctx.frame(target.extract)[target.column].str.len() > limit)

    return check


def formula_prefix(ctx: CheckContext, target: Target) -> np.ndarray:
    """The value begins with a character that makes a spreadsheet run it as a formula."""
    assert target.column is not None
    return _mask(ctx.frame(target.extract)[target.column].str.startswith(FORMULA_PREFIXES))


def pandera_check(check_name: str) -> Check:
    """The model's own pandera check ``check_name`` on the target column, run on the values
    present (missing values are E101's, or allowed)."""

    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        assert target.column is not None
        values = ctx.frame(target.extract)[target.column]
        spec = SCHEMAS[target.extract].columns[target.column]
        pandera = next(k for k in spec.checks if k.name == check_name)
        present = values.notna().to_numpy(dtype=bool)
        broken = np.zeros(len(values), dtype=bool)
        if present.any():
            passed = pandera(values[present]).check_output
            broken[present] = ~_mask(passed)
        return broken

    return check


def missing(ctx: CheckContext, target: Target) -> np.ndarray:
    assert target.column is not None
    return ctx.frame(target.extract)[target.column].isna().to_numpy(dtype=bool)


def duplicate_key(ctx: CheckContext, target: Target) -> np.ndarray:
    """Every copy of a key that occurs more than once; a row missing a required part of its key
    is E101's, not a duplicate."""
    frame = ctx.frame(target.extract)
    key = list(target.columns)
    spec = SCHEMAS[target.extract].columns
    complete = np.ones(len(frame), dtype=bool)
    for column in key:
        if not spec[column].nullable:
            complete &= frame[column].notna().to_numpy(dtype=bool)
    duplicated = np.zeros(len(frame), dtype=bool)
    duplicated[complete] = frame.loc[complete, key].duplicated(keep=False).to_numpy(dtype=bool)
    return duplicated


def identifier(is_valid: Callable[[pd.Series], pd.Series]) -> Check:
    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        assert target.column is not None
        return ~_mask(is_valid(ctx.frame(target.extract)[target.column]))

    return check


NINO = identifier(nino_is_valid)
UPN = identifier(upn_is_valid)
NHS_NUMBER = identifier(nhs_is_valid)
POSTCODE = identifier(postcode_is_valid)


def ends_before_start(ctx: CheckContext, target: Target) -> np.ndarray:
    """``reads`` = (start, end): the end is before the start."""
    frame = ctx.frame(target.extract)
    start, end = target.columns
    return _mask(frame[end] < frame[start])


def required_when(condition: Callable[[pd.DataFrame], pd.Series]) -> Check:
    """The target column is empty on a row where ``condition`` holds."""

    def check(ctx: CheckContext, target: Target) -> np.ndarray:
        assert target.column is not None
        frame = ctx.frame(target.extract)
        return _mask(condition(frame) & frame[target.column].isna())

    return check


def support_started_needed(frame: pd.DataFrame) -> pd.Series:
    return frame["status"].isin(["ATTACHED", "CLOSED"])


def support_ended_needed(frame: pd.DataFrame) -> pd.Series:
    return frame["status"] == "CLOSED"


def claim_date_needed(frame: pd.DataFrame) -> pd.Series:
    return frame["claim_type"].notna()


def claim_type_needed(frame: pd.DataFrame) -> pd.Series:
    return frame["claim_date"].notna()


def unborn_dates(ctx: CheckContext, target: Target) -> np.ndarray:
    """An UNBORN person needs expected_dob and no dob."""
    people = ctx.frame(target.extract)
    unborn = people["role"] == "UNBORN"
    return _mask(unborn & (people["expected_dob"].isna() | people["dob"].notna()))


def born_dates(ctx: CheckContext, target: Target) -> np.ndarray:
    """Any other known role needs dob and no expected_dob."""
    people = ctx.frame(target.extract)
    role = people["role"]
    born = role.notna() & (role != "UNBORN") & role.isin(codes.ROLES)
    return _mask(born & (people["dob"].isna() | people["expected_dob"].notna()))


def born_after_extract_date(ctx: CheckContext, target: Target) -> np.ndarray:
    dob = ctx.frame(target.extract)["dob"]
    return _mask(dob > pd.Timestamp(ctx.extract_date))


def older_than_110(ctx: CheckContext, target: Target) -> np.ndarray:
    dob = ctx.frame(target.extract)["dob"]
    return _mask(dob < pd.Timestamp(ctx.extract_date) - pd.DateOffset(years=110))


def adult_child(ctx: CheckContext, target: Target) -> np.ndarray:
    """A CHILD who was 18 or over on the family's date_identified."""
    people = ctx.frame(target.extract)
    families = ctx.frame("families")
    identified = families.drop_duplicates("family_id").set_index("family_id")["date_identified"]
    on_identified = people["family_id"].map(identified)
    child = people["role"] == "CHILD"
    return _mask(child & (people["dob"] + pd.DateOffset(years=18) <= on_identified))


def absences_above_possible(ctx: CheckContext, target: Target) -> np.ndarray:
    frame = ctx.frame(target.extract)
    absent = frame["authorised_absence_sessions"] + frame["unauthorised_absence_sessions"]
    return _mask(absent > frame["possible_sessions"])


def unknown_reference(ctx: CheckContext, target: Target) -> np.ndarray:
    """The row names a family (or person) that its extract does not hold."""
    assert target.column is not None
    owner = "families" if target.column == "family_id" else "people"
    refs = ctx.frame(target.extract)[target.column]
    known = ctx.frame(owner)[target.column].dropna()
    return refs.notna().to_numpy(dtype=bool) & ~isin(refs, known)


def named_person_elsewhere(ctx: CheckContext, target: Target) -> np.ndarray:
    """A domestic abuse incident naming a person of another family."""
    incidents = ctx.frame(target.extract)
    people = ctx.frame("people")
    home = people.drop_duplicates("person_id").set_index("person_id")["family_id"]
    named_home = incidents["person_id"].map(home)
    return _mask(
        incidents["person_id"].notna() & named_home.notna() & (named_home != incidents["family_id"])
    )


def depends_on_quarantined(ctx: CheckContext, target: Target) -> np.ndarray:
    """The row belongs to a family, or is about a person, whose own row is in error (and so,
    through the family, a person of a quarantined family takes their events with them).

    ``target.column`` is the key the finding names: ``family_id`` rows are those whose family
    is quarantined; ``person_id`` rows those whose person is (and who are not already taken by
    their family)."""
    frame = ctx.frame(target.extract)
    own_error = ctx.errors.get(target.extract, np.zeros(len(frame), dtype=bool))
    families, people = ctx.frame("families"), ctx.frame("people")
    bad_families = families.loc[ctx.errors["families"], "family_id"].dropna()
    people_of_bad_families = isin(people["family_id"], bad_families)
    if target.extract == "people":
        return people_of_bad_families & ~own_error
    bad_people = people.loc[ctx.errors["people"] | people_of_bad_families, "person_id"].dropna()
    via_person = (
        isin(frame["person_id"], bad_people)
        if "person_id" in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    if target.column == "person_id":
        return via_person & ~own_error
    return isin(frame["family_id"], bad_families) & ~own_error & ~via_person
