"""The vectorised checks behind the rules of ``schemas.rules``.

Every check takes the :class:`CheckContext` of a validation and the :class:`Target` it runs on,
and returns a boolean array over that extract's rows: True where the row breaks the rule. A
missing value never breaks a rule that compares values (E101 reports missing values on its own).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import codes
from schemas.ages import whole_years
from schemas.cleaning import FORMULA_PREFIXES, text_array
from schemas.identifiers import nhs_is_valid, nino_is_valid, postcode_is_valid, upn_is_valid
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
    _key_codes: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    # Rules run two at a time: the first to ask for a key encodes it, the others wait for it.
    _key_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict, compare=False, repr=False)

    def frame(self, extract: str) -> pd.DataFrame:
        return self.parsed[extract].frame

    def key_codes(self, key: str) -> dict[str, np.ndarray]:
        """The ``key`` column (family_id or person_id) of every extract that has one, as integer
        codes from one encoding of them all (-1 where missing): equal codes are equal keys.

        The cross-extract rules compare the same key columns many times over; hashing a column
        of text is what costs, so it is done once per validation, and the rules compare numbers.
        """
        with self._key_lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            return self._encoded(key)

    def _encoded(self, key: str) -> dict[str, np.ndarray]:
        if key not in self._key_codes:
            names = [n for n in self.parsed if key in self.frame(n).columns]
            columns = [text_array(self.frame(n)[key].astype("str")) for n in names]
            chunks = [c.cast(pa.large_string()) for column in columns for c in column.chunks]
            combined = pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())
            encoded = pc.dictionary_encode(combined)
            codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            codes = codes.astype(np.int64)
            ends = np.cumsum([len(self.frame(n)) for n in names])
            self._key_codes[key] = dict(zip(names, np.split(codes, ends[:-1]), strict=True))
        return self._key_codes[key]

    def key_count(self, key: str) -> int:
        """How many distinct codes :meth:`key_codes` can give (an upper bound: codes < this)."""
        codes = self.key_codes(key)
        return 1 + max((int(c.max()) for c in codes.values() if len(c)), default=-1)


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
    # The key as one integer per row (each part factorised, missing being a value of its own,
    # as DataFrame.duplicated counts it): no frame of the key columns is built.
    combined = np.zeros(len(frame), dtype=np.int64)
    for column in key:
        if column in ("family_id", "person_id"):
            codes = ctx.key_codes(column)[target.extract]
        else:
            codes = pd.factorize(frame[column])[0].astype(np.int64)
        width = int(codes.max(initial=-1)) + 2
        if int(combined.max(initial=0)) >= _COMBINED_LIMIT // width:
            combined = pd.factorize(combined)[0].astype(np.int64)  # renumbered 0.., to fit
        combined = combined * width + codes + 1
    # The keys that occur more than once among the complete rows, found between neighbours once
    # sorted (hashing a million distinct keys costs more than sorting them). A row missing a
    # required part has a key no complete row has (its code for that part is 0), so it is none.
    ordered = np.sort(combined[complete])
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(repeated):
        return np.zeros(len(frame), dtype=bool)
    return np.isin(combined, repeated)


# The combined key stays below this, so it never overflows an int64.
_COMBINED_LIMIT = 2**62


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
    """Aged 111 or more on the extract date: the contract allows an age of at most 110, and
    ages are whole years (someone 110 years and a day old is 110)."""
    dob = ctx.frame(target.extract)["dob"]
    return _mask(whole_years(dob, pd.Timestamp(ctx.extract_date)) > 110)


def adult_child(ctx: CheckContext, target: Target) -> np.ndarray:
    """A CHILD who was 18 or over on the family's date_identified."""
    people = ctx.frame(target.extract)
    families = ctx.frame("families")
    # The date of the family's first row in families (NaT when the family is not there; a
    # person without a family_id takes the first family without one, as Series.map did).
    codes = ctx.key_codes("family_id")
    row = _first_rows(codes["families"], ctx.key_count("family_id"))[codes[target.extract]]
    dates = families["date_identified"].to_numpy(dtype="datetime64[ns]")
    on_identified = pd.Series(
        np.where(row >= 0, dates[row], np.datetime64("NaT", "ns")),
        index=people.index,
        dtype="datetime64[ns]",
    )
    child = people["role"] == "CHILD"
    return _mask(child & (whole_years(people["dob"], on_identified) >= 18))


def absences_above_possible(ctx: CheckContext, target: Target) -> np.ndarray:
    frame = ctx.frame(target.extract)
    absent = frame["authorised_absence_sessions"] + frame["unauthorised_absence_sessions"]
    return _mask(absent > frame["possible_sessions"])


def unknown_reference(ctx: CheckContext, target: Target) -> np.ndarray:
    """The row names a family (or person) that its extract does not hold."""
    assert target.column is not None
    owner = "families" if target.column == "family_id" else "people"
    codes = ctx.key_codes(target.column)
    known = _code_set(codes[owner], ctx.key_count(target.column))
    refs = codes[target.extract]
    return (refs >= 0) & ~known[refs]


def named_person_elsewhere(ctx: CheckContext, target: Target) -> np.ndarray:
    """A domestic abuse incident naming a person of another family."""
    people_of, families_of = ctx.key_codes("person_id"), ctx.key_codes("family_id")
    named = people_of[target.extract]
    # The family of the person's first row in people (-1 when the person is not there).
    row = _first_rows(people_of["people"], ctx.key_count("person_id"))[named]
    home = np.where(row >= 0, families_of["people"][row], -1)
    return (named >= 0) & (home >= 0) & (home != families_of[target.extract])


def depends_on_quarantined(ctx: CheckContext, target: Target) -> np.ndarray:
    """The row belongs to a family, or is about a person, whose own row is in error (and so,
    through the family, a person of a quarantined family takes their events with them).

    ``target.column`` is the key the finding names: ``family_id`` rows are those whose family
    is quarantined; ``person_id`` rows those whose person is (and who are not already taken by
    their family)."""
    frame = ctx.frame(target.extract)
    own_error = ctx.errors.get(target.extract, np.zeros(len(frame), dtype=bool))
    family_codes, person_codes = ctx.key_codes("family_id"), ctx.key_codes("person_id")
    family_count, person_count = ctx.key_count("family_id"), ctx.key_count("person_id")
    bad_families = _code_set(family_codes["families"][ctx.errors["families"]], family_count)
    of_people = family_codes["people"]
    people_of_bad_families = (of_people >= 0) & bad_families[of_people]
    if target.extract == "people":
        return people_of_bad_families & ~own_error
    bad_people = _code_set(
        person_codes["people"][ctx.errors["people"] | people_of_bad_families], person_count
    )
    via_person = np.zeros(len(frame), dtype=bool)
    if target.extract in person_codes:
        mine = person_codes[target.extract]
        via_person = (mine >= 0) & bad_people[mine]
    if target.column == "person_id":
        return via_person & ~own_error
    mine = family_codes[target.extract]
    return (mine >= 0) & bad_families[mine] & ~own_error & ~via_person


def _code_set(codes: np.ndarray, count: int) -> np.ndarray:
    """Membership by code: a boolean array over codes 0..count-1 and one more, for -1 (never a
    member), so that ``members[codes]`` needs no test for missing keys."""
    members = np.zeros(count + 1, dtype=bool)
    members[codes[codes >= 0]] = True
    return members


def _first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    """For each code 0..count-1, and last for -1, the first row holding it, or -1. A missing key
    finds the first row missing it, as pandas' ``Series.map`` matches NaN to a NaN label."""
    first = np.full(count + 1, -1, dtype=np.int64)
    rows = np.arange(len(codes))
    # Assigned last row first, so the first row's assignment is the one that stays.
    first[codes[::-1]] = rows[::-1]
    return first
