"""How to break each rule of the registry (``schemas.rules``), found from the rule's declaration.

A recipe takes a :class:`Site` (a rule, one of its targets, the table of that target's extract)
and returns a :class:`Breakage`: the rows that may take the defect and how to make it there, so
that the row then breaks that rule at that column and nothing else. :func:`recipe_for` finds a
rule's recipe:

- by code, for the rules whose breaking needs knowing what the rule means: the parse rules (which
  failure a parse rule reports is only inside its check, so E103 and E104 are told apart by
  code, though each breaks any date column), and the row and cross-extract rules;
- else by the model declaration the rule reports (``pandera``): ``nullable`` (blank a required
  column), ``isin`` (a code outside the column's code list), ``unique`` (a key shared by two
  rows);
- else by the rule's check: an end before its start (any ``ends_before_start`` pair), a
  reference to a family or person that exists nowhere (``unknown_reference``).

A rule without a recipe is not generated (and reported so) rather than stopping the generator,
but the tests require a recipe for every rule of the registry: adding a rule means adding its
recipe here (or its reason to ``SKIPPED``; docs/adding-a-rule.md). Some rules are never
generated on purpose (:func:`skip_reason`).

What keeps a defect to one rule, besides the rows the generator chooses (see ``synth.defects``):

- a value is replaced only where it is present (an empty optional cell stays empty), so the rules
  that ask whether a value is present see the same row as before;
- a code column that is part of a key takes its unknown code on one row per key group at most;
- a family reference is changed only on rows that name no person (a named person ties the row to
  the family: E132);
- a duplicated key copies, with the key, the columns that row rules read together with it (a
  term's end with its start), so the copy breaks nothing but the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from schemas import checks, codes
from schemas.checks import Target
from schemas.cleaning import ID_MAX_LENGTH, NAME_MAX_LENGTH
from schemas.models import SCHEMAS, allowed_codes, unique_keys
from schemas.rules import RULES, Kind, Rule
from synth import identifiers as ident
from synth.calendar import ACTIVITY_END
from synth.table import NAT, Table, days
from synth.vocab import UNKNOWN_CODES

S = np.strings

# Rules never generated, and why: the ledger reports these with their reason.
FILE_RULE_REASON = (
    "a whole-extract rule (a file, a header or the council), not a cell of a row: the reader "
    "tests make these"
)
SKIPPED: dict[str, str] = {
    "E190": "a cascade, not a defect: a row given an error is one nothing depends on (its "
    "family's dependants are not written, a person in error is named by no row), so nothing "
    "cascades",
    "E119": "a fault of a file's structure (a row with more fields than the header), which the "
    "generator's tables cannot hold: the hostile-file corpus of the tests makes it",
    "W206": "a fault of a file's bytes (a NUL or control character in a value), which an xlsx "
    "extract cannot hold: the hostile-file corpus of the tests makes it",
}
NO_RECIPE = "no recipe in synth.recipes: add one, or a reason to SKIPPED"
NOT_COVERED = "its recipe cannot break it on the columns it targets"
NO_ROWS = "no row of this run could take it (too few rows of the kind it needs)"

# Roles that are adults with a date of birth (dob rules need a born adult to fall on).
ADULT_ROLES = tuple(r for r in codes.ROLES if r not in ("CHILD", "UNBORN"))


def skip_reason(rule: Rule) -> str | None:
    """Why ``rule`` is never generated, when that is by design (else None)."""
    if rule.kind is Kind.FILE:
        return FILE_RULE_REASON
    return SKIPPED.get(rule.code)


class Orphans:
    """IDs that no family or person has: every orphan reference is a distinct one."""

    def __init__(self, n_families: int, n_people: int) -> None:
        self.next_family = n_families + 1001
        self.next_person = n_people + 1001

    def families(self, n: int) -> np.ndarray:
        numbers = np.arange(self.next_family, self.next_family + n)
        self.next_family += n
        return S.add("F", S.zfill(numbers.astype(str), 7))

    def people(self, n: int) -> np.ndarray:
        numbers = np.arange(self.next_person, self.next_person + n)
        self.next_person += n
        return S.add("P", S.zfill(numbers.astype(str), 8))


@dataclass
class Context:
    """What recipes share: the defect stream, the orphan IDs, and what the people and event
    recipes need to know of the tables corrupted before theirs."""

    rng: np.random.Generator
    orphans: Orphans
    identified: np.ndarray | None = None  # per people row: the family's date_identified
    people: Table | None = None  # the people as written (set once they are corrupted)
    kept_people: np.ndarray | None = None  # people rows with no error


@dataclass(frozen=True)
class Site:
    """One (rule, target) to break, on the table of the target's extract."""

    rule: Rule
    target: Target
    table: Table

    @property
    def column(self) -> str:
        assert self.target.column is not None
        return self.target.column

    @property
    def extract(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class Breakage:
    """The rows that may take a defect, and how to make it on chosen rows. ``apply`` returns
    the rows it corrupted when that is fewer than it was given (None: all of them)."""

    candidates: np.ndarray
    apply: Callable[[np.ndarray], np.ndarray | None]
    defect: str  # what was done, in words: the ledger's text, never a value
    pair: bool = False  # takes two rows per defect (a duplicated key)


Recipe = Callable[[Context, Site], Breakage | None]


# --- helpers ------------------------------------------------------------------------------------


def present(table: Table, column: str) -> np.ndarray:
    return table.filled(column)


def column_kind(extract: str, column: str) -> str:
    return str((SCHEMAS[extract].columns[column].metadata or {}).get("kind", ""))


def blank(table: Table, column: str, rows: np.ndarray) -> None:
    values = table.columns[column]
    if values.dtype.kind == "M":
        table.set_values(column, rows, NAT)
    elif values.dtype.kind == "f":
        table.set_values(column, rows, np.nan)
    else:
        table.set_text(column, rows, "")


def _copy(table: Table, column: str, source: np.ndarray, dest: np.ndarray) -> None:
    values = table.columns[column]
    if values.dtype.kind in "Mf":
        table.set_values(column, dest, values[source])
    else:
        table.set_text(column, dest, values[source])


def may_change(table: Table, column: str) -> np.ndarray:
    """Rows whose ``column`` may be changed on its own: a family reference only where the row
    names no person (changing it there would also put the person in another family)."""
    if column == "family_id" and table.name != "people" and "person_id" in table.columns:
        return ~present(table, "person_id")
    return np.ones(len(table), dtype=bool)


def first_of_groups(table: Table, columns: list[str]) -> np.ndarray:
    """The first row of each group of rows sharing the values of ``columns``."""
    joined = table.columns[columns[0]].astype(str)
    for column in columns[1:]:
        joined = S.add(S.add(joined, "\x1f"), table.columns[column].astype(str))
    first = np.zeros(len(table), dtype=bool)
    if len(table):
        first[np.unique(joined, return_index=True)[1]] = True
    return first


def copied_with_key(extract: str, key: tuple[str, ...]) -> tuple[str, ...]:
    """The key and every column a row rule of ``extract`` reads together with part of it, so
    that a row given another row's key breaks no rule but the key's."""
    columns = list(key)
    grown = True
    while grown:
        grown = False
        for rule in RULES.values():
            if rule.kind not in (Kind.ROW, Kind.CROSS):
                continue
            for target in rule.applies_to(extract):
                reads = target.columns
                if set(reads) & set(columns) and not set(reads) <= set(columns):
                    columns.extend(c for c in reads if c not in columns)
                    grown = True
    return tuple(columns)


def unknown_codes(column: str, allowed: tuple[str, ...]) -> np.ndarray:
    """Plausible codes outside ``allowed`` (as the parser reads them: upper case, with the
    gender spellings it accepts)."""
    accepted = set(allowed) | set(codes.GENDER_ALIASES)
    words = UNKNOWN_CODES.get(column) or ("UNKNOWN", "NOT_KNOWN")
    return np.array([w for w in words if w.upper() not in accepted])


def impossible_dates(rng: np.random.Generator, dates: np.ndarray) -> np.ndarray:
    """Dates no calendar has, in the layouts people type (ISO and UK), in each date's year."""
    years = np.where(np.isnat(dates), 2025, dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    y = years.astype(str)
    layouts = np.stack(
        [
            S.add("31/02/", y),
            S.add(y, "-02-30"),
            S.add(y, "-13-01"),
            S.add("31/04/", y),
            S.add("00/05/", y),
            S.add(y, "-06-31"),
        ]
    )
    pick = rng.integers(0, len(layouts), len(dates))
    return layouts[pick, np.arange(len(dates))]


def ambiguous_dates(dates: np.ndarray, fallback: np.datetime64) -> np.ndarray:
    """UK dates with a two-digit year (``01/02/25``): the century cannot be known."""
    iso = np.datetime_as_string(np.where(np.isnat(dates), fallback, dates), unit="D")
    day_month = S.add(S.add(S.add(S.slice(iso, 8, 10), "/"), S.slice(iso, 5, 7)), "/")
    return S.add(day_month, S.slice(iso, 2, 4))


# --- generic recipes: any target of the rule --------------------------------------------------


def blank_required(ctx: Context, site: Site) -> Breakage | None:
    """pandera ``nullable=False``: leave the value empty."""
    t, column = site.table, site.column
    return Breakage(
        present(t, column) & may_change(t, column),
        lambda rows: blank(t, column, rows),
        f"{column} left empty",
    )


def unknown_code(ctx: Context, site: Site) -> Breakage | None:
    """pandera ``isin``: a code the column's code list does not have."""
    t, column = site.table, site.column
    allowed = allowed_codes(site.extract, column)
    words = unknown_codes(column, allowed)
    if not allowed or not len(words):
        return None
    candidates = present(t, column)
    key = unique_keys(site.extract)
    if key is not None and column in key:
        others = [c for c in key if c != column]
        if not others:
            return None  # a code that is a key on its own would need distinct unknown codes
        # Two rows of one group given the same unknown code would share a key.
        candidates = candidates & first_of_groups(t, others)

    def apply(rows: np.ndarray) -> None:
        t.set_text(column, rows, words[ctx.rng.integers(0, len(words), len(rows))])

    return Breakage(candidates, apply, f"{column} not in the code list")


def duplicate_key(ctx: Context, site: Site) -> Breakage | None:
    """pandera ``unique``: the second half of the rows take the key of the first half (both
    halves are then duplicates)."""
    t = site.table
    key = site.target.columns
    copied = copied_with_key(site.extract, key)
    spec = SCHEMAS[site.extract].columns
    complete = np.ones(len(t), dtype=bool)
    for column in key:
        if not spec[column].nullable:
            complete &= present(t, column)

    def apply(rows: np.ndarray) -> None:
        half = len(rows) // 2
        for column in copied:
            _copy(t, column, rows[:half], rows[half:])

    return Breakage(complete, apply, "key shared with another row", pair=True)


def orphan_reference(ctx: Context, site: Site) -> Breakage | None:
    """``unknown_reference``: name a family or person that exists nowhere."""
    t, column = site.table, site.column
    make = {"family_id": ctx.orphans.families, "person_id": ctx.orphans.people}.get(column)
    if make is None:
        return None
    owner = "family" if column == "family_id" else "person"

    def apply(rows: np.ndarray) -> None:
        t.set_text(column, rows, make(len(rows)))

    return Breakage(present(t, column) & may_change(t, column), apply, f"{column} of no {owner}")


def end_before_start(ctx: Context, site: Site) -> Breakage | None:
    """``ends_before_start``: move the end to 1 to 60 days before the start."""
    t = site.table
    if len(site.target.columns) != 2 or site.target.columns[1] != site.column:
        return None
    start, end = site.target.columns
    if t.columns[start].dtype.kind != "M" or t.columns[end].dtype.kind != "M":
        return None  # only dates are moved by days

    def apply(rows: np.ndarray) -> None:
        moved = t.columns[start][rows] - days(ctx.rng.integers(1, 61, len(rows)))
        t.set_values(end, rows, moved)

    return Breakage(present(t, start) & present(t, end), apply, f"{end} before {start}")


# --- parse rules: any column of the kind ----------------------------------------------------


def _parse_recipe(
    kind: str, defect: str, make: Callable[[Context, Table, str, np.ndarray], None]
) -> Recipe:
    def recipe(ctx: Context, site: Site) -> Breakage | None:
        if column_kind(site.extract, site.column) != kind:
            return None
        t, column = site.table, site.column
        return Breakage(
            present(t, column),
            lambda rows: make(ctx, t, column, rows),
            defect.format(column=column),
        )

    return recipe


def _impossible(ctx: Context, t: Table, column: str, rows: np.ndarray) -> None:
    t.override(column, rows, impossible_dates(ctx.rng, t.columns[column][rows]))


def _ambiguous(ctx: Context, t: Table, column: str, rows: np.ndarray) -> None:
    fallback = np.datetime64("2024-05-01", "D")
    t.override(column, rows, ambiguous_dates(t.columns[column][rows], fallback))


NOT_WHOLE = np.array(["-1", "-3", "two", "1.5", "n/a"])


def _not_whole(ctx: Context, t: Table, column: str, rows: np.ndarray) -> None:
    t.override(column, rows, NOT_WHOLE[ctx.rng.integers(0, len(NOT_WHOLE), len(rows))])


def _not_a_flag(ctx: Context, t: Table, column: str, rows: np.ndarray) -> None:
    # Half a number that is not 0 or 1 (typed, as a number cell), half a word.
    half = len(rows) // 2
    t.set_values(column, rows[:half], 2.0)
    t.override(column, rows[half:], np.full(len(rows) - half, "unknown"))


# --- named recipes: what the rule means -------------------------------------------------------


def _on(extract: str, column: str, recipe: Recipe) -> Recipe:
    """``recipe``, for the one target it was written for."""

    def only(ctx: Context, site: Site) -> Breakage | None:
        if (site.extract, site.target.column) != (extract, column):
            return None
        return recipe(ctx, site)

    return only


def _blank_where(
    condition: Callable[[Table], np.ndarray], defect: str
) -> Callable[[Context, Site], Breakage | None]:
    """``required_when``: empty the target column on a row that needs it."""

    def recipe(ctx: Context, site: Site) -> Breakage | None:
        t, column = site.table, site.column
        return Breakage(
            condition(t) & present(t, column),
            lambda rows: blank(t, column, rows),
            defect,
        )

    return recipe


def _status(*statuses: str) -> Callable[[Table], np.ndarray]:
    return lambda t: np.isin(t.columns["status"], statuses)


def _filled(column: str) -> Callable[[Table], np.ndarray]:
    return lambda t: present(t, column)


def _role(*roles: str) -> Callable[[Table], np.ndarray]:
    return lambda t: np.isin(t.columns["role"], roles)


BORN_ROLES = tuple(r for r in codes.ROLES if r != "UNBORN")


def other_council(ctx: Context, site: Site) -> Breakage | None:
    """E110: a code of another tier or nation, or one digit short."""
    t = site.table
    bad = np.array(["E07000117", "W06000015", "E0800012", "S12000049"])

    def apply(rows: np.ndarray) -> None:
        t.set_text("la_code", rows, bad[ctx.rng.integers(0, len(bad), len(rows))])

    return Breakage(present(t, "la_code"), apply, "la_code not an upper-tier ONS code")


def _dob_shift(base: str, spread: int, defect: str) -> Recipe:
    """A date of birth from ``base`` plus up to ``spread`` days, for adults (a CHILD born so
    long ago would also be 18 on identification: E124)."""

    def recipe(ctx: Context, site: Site) -> Breakage | None:
        t = site.table

        def apply(rows: np.ndarray) -> None:
            dob = np.datetime64(base, "D") + days(ctx.rng.integers(0, spread, len(rows)))
            t.set_values("dob", rows, dob)

        return Breakage(np.isin(t.columns["role"], ADULT_ROLES) & present(t, "dob"), apply, defect)

    return recipe


def adult_child(ctx: Context, site: Site) -> Breakage | None:
    """E124: a CHILD born 18 years and a month to four years before the family's
    identification."""
    t, identified = site.table, ctx.identified
    if identified is None:
        return None

    def apply(rows: np.ndarray) -> None:
        age = (18 * 365.25 + ctx.rng.integers(30, 1500, len(rows))).astype(np.int64)
        t.set_values("dob", rows, identified[rows] - days(age))

    return Breakage(
        (t.columns["role"] == "CHILD") & present(t, "dob"),
        apply,
        "CHILD aged 18 or more when identified",
    )


def left_before_joined(ctx: Context, site: Site) -> Breakage | None:
    """E125: a join date after identification, and a leaving date before it (few people have
    both dates, so the recipe writes both)."""
    t, identified = site.table, ctx.identified
    if identified is None:
        return None

    def apply(rows: np.ndarray) -> None:
        joined = np.minimum(
            identified[rows] + days(ctx.rng.integers(10, 301, len(rows))), ACTIVITY_END
        )
        t.set_values("date_joined", rows, joined)
        t.set_values("date_left", rows, joined - days(ctx.rng.integers(1, 91, len(rows))))

    return Breakage(np.ones(len(t), dtype=bool), apply, "date_left before date_joined")


def over_absent(ctx: Context, site: Site) -> Breakage | None:
    """E130: authorised absences that take the total past the possible sessions."""
    t = site.table
    read = ("possible_sessions", "authorised_absence_sessions", "unauthorised_absence_sessions")

    def apply(rows: np.ndarray) -> None:
        possible = t.columns["possible_sessions"][rows]
        unauthorised = t.columns["unauthorised_absence_sessions"][rows]
        extra = ctx.rng.integers(1, 11, len(rows))
        t.set_values("authorised_absence_sessions", rows, possible - unauthorised + extra)

    candidates = np.ones(len(t), dtype=bool)
    for column in read:
        candidates &= present(t, column)
    return Breakage(candidates, apply, "absences more than possible sessions")


def person_of_another_family(ctx: Context, site: Site) -> Breakage | None:
    """E132: name a person (kept, with no error) of another family."""
    t, people, kept = site.table, ctx.people, ctx.kept_people
    if people is None or kept is None:
        return None
    safe = np.flatnonzero(kept)
    safe_family = people.columns["family_id"][safe]
    safe_ids = people.columns["person_id"][safe]

    def apply(rows: np.ndarray) -> np.ndarray:
        pick = np.full(len(rows), -1, dtype=np.int64)
        for _ in range(20):  # a few vectorised draws: almost every person is of another family
            todo = np.flatnonzero(pick < 0)
            if not len(todo) or not len(safe):
                break
            trial = ctx.rng.integers(0, len(safe), len(todo))
            ok = safe_family[trial] != t.columns["family_id"][rows[todo]]
            pick[todo[ok]] = trial[ok]
        done = rows[pick >= 0]
        t.set_text("person_id", done, safe_ids[pick[pick >= 0]])
        return done

    return Breakage(present(t, "person_id"), apply, "person named is of another family")


def _identifier(
    defect: str, make: Callable[[np.random.Generator, np.ndarray], np.ndarray]
) -> Recipe:
    def recipe(ctx: Context, site: Site) -> Breakage | None:
        t, column = site.table, site.column

        def apply(rows: np.ndarray) -> None:
            t.set_text(column, rows, make(ctx.rng, t.columns[column][rows]))

        return Breakage(present(t, column), apply, defect)

    return recipe


def _bad_nhs(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    return ident.wrong_nhs_check(rng, S.replace(values, " ", ""))


def _bad_postcode(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    compact = S.upper(S.replace(values, " ", ""))
    return ident.invalid_postcodes(rng, S.slice(compact, 0, S.str_len(compact) - 3))


def _on_keys(recipe: Recipe) -> Recipe:
    """``recipe`` on a record's own key only (a family's family_id, a person's person_id): on a
    reference it would also break the reference (E107/E108), two rules at once."""

    def only(ctx: Context, site: Site) -> Breakage | None:
        if (site.extract, site.target.column) not in (
            ("families", "family_id"),
            ("people", "person_id"),
        ):
            return None
        return recipe(ctx, site)

    return only


def _text_edit(defect: str, edit: Callable[[Context, np.ndarray], np.ndarray]) -> Recipe:
    """Rewrite the target column's present values with ``edit``."""

    def recipe(ctx: Context, site: Site) -> Breakage | None:
        t, column = site.table, site.column

        def apply(rows: np.ndarray) -> None:
            t.set_text(column, rows, edit(ctx, t.columns[column][rows]))

        return Breakage(present(t, column), apply, defect.format(column=column))

    return recipe


def _formula_prefix(ctx: Context, values: np.ndarray) -> np.ndarray:
    # Never "=": the xlsx extracts the generator also writes would hold a real formula.
    prefixes = np.array(["+", "-", "@"])[ctx.rng.integers(0, 3, len(values))]
    return S.add(prefixes, values.astype(str))


def _too_long(limit: int) -> Callable[[Context, np.ndarray], np.ndarray]:
    def edit(ctx: Context, values: np.ndarray) -> np.ndarray:
        return S.add(values.astype(str), "X" * limit)

    return edit


NAMED: dict[str, Recipe] = {
    "E103": _parse_recipe("date", "{column} is a date no calendar has", _impossible),
    "E104": _parse_recipe("date", "{column} written with a two-digit year", _ambiguous),
    "E109": _parse_recipe("int", "{column} not a whole number of zero or more", _not_whole),
    "E126": _parse_recipe("flag", "{column} not 0 or 1", _not_a_flag),
    "E110": _on("families", "la_code", other_council),
    "E112": _on(
        "families",
        "date_support_started",
        _blank_where(_status("ATTACHED", "CLOSED"), "ATTACHED or CLOSED without a start date"),
    ),
    "E113": _on(
        "families",
        "date_support_ended",
        _blank_where(_status("CLOSED"), "CLOSED without an end date"),
    ),
    "E114": _on(
        "families", "claim_date", _blank_where(_filled("claim_type"), "claim without a claim_date")
    ),
    "E116": _on(
        "families",
        "claim_type",
        _blank_where(_filled("claim_date"), "claim_date without claim_type"),
    ),
    "E120": _on(
        "people", "expected_dob", _blank_where(_role("UNBORN"), "UNBORN without expected_dob")
    ),
    "E121": _on("people", "dob", _blank_where(_role(*BORN_ROLES), "dob missing")),
    "E122": _on("people", "dob", _dob_shift("2085-01-01", 5000, "dob in the future")),
    "E123": _on("people", "dob", _dob_shift("1880-01-01", 9000, "dob more than 110 years ago")),
    "E124": _on("people", "dob", adult_child),
    "E125": _on("people", "date_left", left_before_joined),
    "E130": _on("school_attendance", "possible_sessions", over_absent),
    "E132": _on("domestic_abuse_incidents", "person_id", person_of_another_family),
    "W201": _on(
        "people", "nino", _identifier("NINO of a format never issued", ident.invalid_ninos)
    ),
    "W202": _on(
        "people", "upn", _identifier("UPN with a wrong check letter", ident.wrong_upn_check)
    ),
    "W203": _on(
        "people", "nhs_number", _identifier("NHS number with a wrong check digit", _bad_nhs)
    ),
    "W204": _on(
        "people",
        "postcode",
        _identifier("postcode with letters no postcode has", _bad_postcode),
    ),
    "E117": _on_keys(_text_edit("{column} longer than the id limit", _too_long(ID_MAX_LENGTH))),
    "E118": _on_keys(_text_edit("{column} begins with +, - or @", _formula_prefix)),
    "W207": _text_edit("{column} begins with +, - or @", _formula_prefix),
    "W208": _text_edit("{column} longer than the name limit", _too_long(NAME_MAX_LENGTH)),
}
BY_PANDERA: dict[str, Recipe] = {
    "nullable": blank_required,
    "isin": unknown_code,
    "unique": duplicate_key,
}
BY_CHECK: dict[checks.Check, Recipe] = {
    checks.ends_before_start: end_before_start,
    checks.unknown_reference: orphan_reference,
}


def recipe_for(rule: Rule) -> Recipe | None:
    """The recipe that breaks ``rule``: by code, else by its pandera declaration, else by its
    check; None when there is none."""
    if rule.code in NAMED:
        return NAMED[rule.code]
    if rule.pandera is not None and rule.pandera in BY_PANDERA:
        return BY_PANDERA[rule.pandera]
    if rule.check is not None:
        return BY_CHECK.get(rule.check)
    return None
