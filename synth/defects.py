"""Corrupt a share of rows so that each breaks exactly one rule, and ledger every one.

Each corrupted row breaks one rule of ``schemas.rules`` and nothing else, and no other row
becomes invalid through it. Quarantine cascades (E190) would make that hard to keep exact, so:

- a family given an error is *stripped*: its people, their events and its eligibility and
  domestic abuse rows are not written (the family row stands alone, with nothing depending on
  it);
- a person given an error is one that no event, eligibility or incident row refers to;
- references are broken by pointing at IDs that exist nowhere (orphans), never by removing a
  record something depends on; a duplicated key is made by giving one row another row's key,
  and both rows are ledgered;
- warnings (bad NINO, UPN, NHS number, postcode, names that would run as a formula or are too
  long) keep the row, so they may fall on any person.

Every extract gets ``rate`` of its rows corrupted (after stripping), spread evenly over the rules
that apply to it, and at least one row per rule when there are rows to take it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from synth import identifiers as ident
from synth.calendar import ACTIVITY_END
from synth.table import NAT, Table, days

S = np.strings


@dataclass
class Ledger:
    """Corrupted cells: extract, 0-based row position, column, rule code, what was done."""

    entries: list[tuple[str, np.ndarray, str, str, str]] = field(default_factory=list)

    def add(self, extract: str, rows: np.ndarray, column: str, rule: str, defect: str) -> None:
        if len(rows):
            self.entries.append((extract, np.asarray(rows, dtype=np.int64), column, rule, defect))

    def count(self) -> int:
        return sum(len(e[1]) for e in self.entries)


@dataclass
class Spec:
    """One rule to break: which rows may take it, and how to break it there."""

    rule: str
    candidates: np.ndarray
    apply: Callable[[np.ndarray], None]
    pair: bool = False  # takes two rows per defect (a duplicated key)


def _quotas(wanted: int, specs: list[Spec]) -> list[int]:
    base, extra = divmod(wanted, len(specs))
    quotas = [max(1, base + (i < extra)) for i in range(len(specs))]
    return [2 * max(1, q // 2) if s.pair else q for q, s in zip(quotas, specs, strict=True)]


def run_specs(rng: np.random.Generator, n_rows: int, rate: float, specs: list[Spec]) -> np.ndarray:
    """Pick rows for each spec (scarcest candidates first) and apply them; one defect per row.
    Returns the mask of rows used."""
    used = np.zeros(n_rows, dtype=bool)
    if n_rows == 0 or not specs:
        return used
    wanted = min(n_rows, max(math.ceil(rate * n_rows), len(specs)))
    quotas = _quotas(wanted, specs)
    order = sorted(range(len(specs)), key=lambda i: (int(specs[i].candidates.sum()), i))
    chosen: dict[int, np.ndarray] = {}
    for i in order:
        spec = specs[i]
        available = np.flatnonzero(spec.candidates & ~used)
        take = min(quotas[i], len(available))
        if spec.pair:
            take -= take % 2
        if take == 0:
            continue
        rows = rng.choice(available, size=take, replace=False)
        used[rows] = True
        chosen[i] = rows
    # Apply in spec order, so the result does not depend on how scarce candidates were.
    for i in sorted(chosen):
        specs[i].apply(chosen[i])
    return used


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


def impossible_dates(rng: np.random.Generator, dates: np.ndarray) -> list[str]:
    """Dates no calendar has, in the layouts people type (ISO and UK)."""
    years = np.where(np.isnat(dates), 2025, dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    templates = ["31/02/{y}", "{y}-02-30", "{y}-13-01", "31/04/{y}", "00/05/{y}", "{y}-06-31"]
    pick = rng.integers(0, len(templates), len(dates))
    return [templates[p].format(y=y) for p, y in zip(pick.tolist(), years.tolist(), strict=True)]


def ambiguous_dates(dates: np.ndarray, fallback: np.datetime64) -> list[str]:
    """UK dates with a two-digit year (``01/02/25``): the century cannot be known."""
    filled = np.where(np.isnat(dates), fallback, dates)
    iso = np.datetime_as_string(filled, unit="D")
    return [f"{d[8:10]}/{d[5:7]}/{d[2:4]}" for d in iso.tolist()]


def _blank(table: Table, column: str) -> Callable[[np.ndarray], None]:
    def apply(rows: np.ndarray) -> None:
        values = table.columns[column]
        if values.dtype.kind == "M":
            table.set_values(column, rows, NAT)
        elif values.dtype.kind == "f":
            table.set_values(column, rows, np.nan)
        else:
            table.set_text(column, rows, "")

    return apply


class Corrupter:
    """Builds and applies the defects of all ten extracts, in dependency order."""

    def __init__(self, rng: np.random.Generator, rate: float, n_people_ids: int) -> None:
        self.rng = rng
        self.rate = rate
        self.ledger = Ledger()
        self.n_people_ids = n_people_ids

    # -- helpers that both corrupt and ledger ------------------------------------------------

    def _record(
        self,
        table: Table,
        column: str,
        rule: str,
        defect: str,
        action: Callable[[np.ndarray], None],
    ) -> Callable[[np.ndarray], None]:
        def apply(rows: np.ndarray) -> None:
            action(rows)
            self.ledger.add(table.name, rows, column, rule, defect)

        return apply

    def _missing(self, table: Table, column: str, cand: np.ndarray) -> Spec:
        return Spec(
            "E101",
            cand,
            self._record(table, column, "E101", f"{column} left empty", _blank(table, column)),
        )

    def _impossible(self, table: Table, column: str, cand: np.ndarray) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.override(column, rows, impossible_dates(self.rng, table.columns[column][rows]))

        return Spec(
            "E103",
            cand,
            self._record(table, column, "E103", f"{column} is a date no calendar has", action),
        )

    def _ambiguous(self, table: Table, column: str, cand: np.ndarray) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.override(
                column,
                rows,
                ambiguous_dates(table.columns[column][rows], np.datetime64("2024-05-01", "D")),
            )

        return Spec(
            "E104",
            cand,
            self._record(table, column, "E104", f"{column} written with a two-digit year", action),
        )

    def _unknown_code(
        self, table: Table, column: str, cand: np.ndarray, words: tuple[str, ...]
    ) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.set_text(
                column, rows, np.array(words)[self.rng.integers(0, len(words), len(rows))]
            )

        return Spec(
            "E105",
            cand,
            self._record(table, column, "E105", f"{column} not in the code list", action),
        )

    def _orphan_family(self, table: Table, cand: np.ndarray) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.set_text("family_id", rows, self.orphans.families(len(rows)))

        return Spec(
            "E107", cand, self._record(table, "family_id", "E107", "family_id of no family", action)
        )

    def _orphan_person(self, table: Table, cand: np.ndarray) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.set_text("person_id", rows, self.orphans.people(len(rows)))

        return Spec(
            "E108", cand, self._record(table, "person_id", "E108", "person_id of no person", action)
        )

    def _duplicate(self, table: Table, key: tuple[str, ...], cand: np.ndarray) -> Spec:
        """The second half of the rows take the keys of the first half: both are duplicates."""

        def apply(rows: np.ndarray) -> None:
            half = len(rows) // 2
            first, second = rows[:half], rows[half:]
            for column in key:
                values = table.columns[column]
                if values.dtype.kind in "Mf":
                    table.set_values(column, second, values[first])
                else:
                    table.set_text(column, second, values[first])
            self.ledger.add(table.name, first, key[0], "E102", "key shared with another row")
            self.ledger.add(table.name, second, key[0], "E102", "key copied from another row")

        return Spec("E102", cand, apply, pair=True)

    def _not_whole(self, table: Table, column: str, cand: np.ndarray) -> Spec:
        words = ["-1", "-3", "two", "1.5", "n/a"]

        def action(rows: np.ndarray) -> None:
            picks = self.rng.integers(0, len(words), len(rows))
            table.override(column, rows, [words[p] for p in picks.tolist()])

        return Spec(
            "E109",
            cand,
            self._record(
                table, column, "E109", f"{column} not a whole number of zero or more", action
            ),
        )

    def _ends_early(self, table: Table, start: str, end: str, rule: str, cand: np.ndarray) -> Spec:
        def action(rows: np.ndarray) -> None:
            table.set_values(
                end, rows, table.columns[start][rows] - days(self.rng.integers(1, 61, len(rows)))
            )

        return Spec(rule, cand, self._record(table, end, rule, f"{end} before {start}", action))

    # -- families ----------------------------------------------------------------------------

    def families(self, families: Table) -> np.ndarray:
        """Corrupt family rows; returns the mask of families to strip of their dependants."""
        t = families
        n = len(t)
        self.orphans = Orphans(n, self.n_people_ids)
        status = t.columns["status"]
        every = np.ones(n, dtype=bool)
        supported = np.isin(status, ["ATTACHED", "CLOSED"])
        closed = status == "CLOSED"
        claimed = closed & (t.columns["claim_type"] != "")
        rng = self.rng

        def la_code(rows: np.ndarray) -> None:
            bad = np.array(["E07000117", "W06000015", "E0800012", "S12000049"])
            t.set_text("la_code", rows, bad[rng.integers(0, len(bad), len(rows))])

        def started_before_identified(rows: np.ndarray) -> None:
            t.set_values(
                "date_support_started",
                rows,
                t.columns["date_identified"][rows] - days(rng.integers(1, 61, len(rows))),
            )

        def claim_before_start(rows: np.ndarray) -> None:
            t.set_values(
                "claim_date",
                rows,
                t.columns["date_support_started"][rows] - days(rng.integers(1, 61, len(rows))),
            )

        rec = self._record
        specs = [
            self._missing(t, "date_identified", every),
            self._duplicate(t, ("family_id",), every),
            self._impossible(t, "date_identified", every),
            self._ambiguous(t, "date_identified", every),
            self._unknown_code(t, "status", every, ("OPEN", "ACTIVE", "CLOSED_SSP")),
            self._ends_early(t, "date_support_started", "date_support_ended", "E106", closed),
            Spec(
                "E110",
                every,
                rec(t, "la_code", "E110", "la_code not an upper-tier ONS code", la_code),
            ),
            Spec(
                "E111",
                supported,
                rec(
                    t,
                    "date_support_started",
                    "E111",
                    "support started before identification",
                    started_before_identified,
                ),
            ),
            Spec(
                "E112",
                status == "ATTACHED",
                rec(
                    t,
                    "date_support_started",
                    "E112",
                    "ATTACHED without a start date",
                    _blank(t, "date_support_started"),
                ),
            ),
            Spec(
                "E113",
                closed,
                rec(
                    t,
                    "date_support_ended",
                    "E113",
                    "CLOSED without an end date",
                    _blank(t, "date_support_ended"),
                ),
            ),
            Spec(
                "E114",
                claimed,
                rec(t, "claim_date", "E114", "claim without a claim_date", _blank(t, "claim_date")),
            ),
            Spec(
                "E115",
                claimed,
                rec(t, "claim_date", "E115", "claim dated before support", claim_before_start),
            ),
            Spec(
                "E116",
                claimed,
                rec(
                    t,
                    "claim_type",
                    "E116",
                    "claim_date without claim_type",
                    _blank(t, "claim_type"),
                ),
            ),
        ]
        return run_specs(self.rng, n, self.rate, specs)

    # -- people ------------------------------------------------------------------------------

    def people(self, people: Table, identified: np.ndarray, referenced: np.ndarray) -> np.ndarray:
        """Corrupt people rows; errors only on unreferenced people. Returns the error mask."""
        t = people
        n = len(t)
        rng = self.rng
        role = t.columns["role"]
        dob = t.columns["dob"]
        free = ~referenced
        has_dob = ~np.isnat(dob)
        adult = np.isin(role, ["MAIN_CARER", "OTHER_ADULT", "OTHER"]) & has_dob

        def future_dob(rows: np.ndarray) -> None:
            t.set_values(
                "dob",
                rows,
                np.datetime64("2085-01-01", "D") + days(rng.integers(0, 5000, len(rows))),
            )

        def ancient_dob(rows: np.ndarray) -> None:
            t.set_values(
                "dob",
                rows,
                np.datetime64("1880-01-01", "D") + days(rng.integers(0, 9000, len(rows))),
            )

        def adult_child(rows: np.ndarray) -> None:
            age = (18 * 365.25 + rng.integers(30, 1500, len(rows))).astype(np.int64)
            t.set_values("dob", rows, identified[rows] - days(age))

        def left_before_joined(rows: np.ndarray) -> None:
            joined = np.minimum(
                identified[rows] + days(rng.integers(10, 301, len(rows))), ACTIVITY_END
            )
            t.set_values("date_joined", rows, joined)
            t.set_values("date_left", rows, joined - days(rng.integers(1, 91, len(rows))))

        def opt_out(rows: np.ndarray) -> None:
            half = len(rows) // 2
            t.set_values("nis_opt_out", rows[:half], 2.0)
            t.override("nis_opt_out", rows[half:], ["unknown"] * (len(rows) - half))

        def bad_nino(rows: np.ndarray) -> None:
            t.set_text("nino", rows, ident.invalid_ninos(rng, t.columns["nino"][rows]))

        def bad_upn(rows: np.ndarray) -> None:
            t.set_text("upn", rows, ident.wrong_upn_check(rng, t.columns["upn"][rows]))

        def bad_nhs(rows: np.ndarray) -> None:
            compact = S.replace(t.columns["nhs_number"][rows], " ", "")
            t.set_text("nhs_number", rows, ident.wrong_nhs_check(rng, compact))

        def bad_postcode(rows: np.ndarray) -> None:
            compact = S.upper(S.replace(t.columns["postcode"][rows], " ", ""))
            outward = np.array([c[:-3] for c in compact.tolist()])
            t.set_text("postcode", rows, ident.invalid_postcodes(rng, outward))

        def unknown_role_or_gender(rows: np.ndarray) -> None:
            half = len(rows) // 2
            t.set_text("role", rows[:half], "STEP_PARENT")
            t.set_text("gender", rows[half:], "Q")
            self.ledger.add(t.name, rows[:half], "role", "E105", "role not in the code list")
            self.ledger.add(t.name, rows[half:], "gender", "E105", "gender not in the code list")

        def long_id(rows: np.ndarray) -> None:
            t.set_text("person_id", rows, S.add(t.columns["person_id"][rows], "X" * 60))

        def formula_id(rows: np.ndarray) -> None:
            # Never "=": a workbook writer would store that as a formula, not as the text.
            prefixes = np.array(["+", "-", "@"])[rng.integers(0, 3, len(rows))]
            t.set_text("person_id", rows, S.add(prefixes, t.columns["person_id"][rows]))

        def formula_name(rows: np.ndarray) -> None:
            t.set_text("forename", rows, S.add("@", t.columns["forename"][rows]))

        def long_name(rows: np.ndarray) -> None:
            t.set_text("surname", rows, S.add(t.columns["surname"][rows], "x" * 101))

        rec = self._record
        specs = [
            self._missing(t, "gender", free),
            Spec(
                "E117",
                free,
                rec(t, "person_id", "E117", "person_id longer than 64 characters", long_id),
            ),
            Spec(
                "E118",
                free,
                rec(t, "person_id", "E118", "person_id begins with +, - or @", formula_id),
            ),
            self._duplicate(t, ("person_id",), free),
            self._impossible(t, "date_joined", free),
            self._ambiguous(t, "date_joined", free),
            Spec("E105", free, unknown_role_or_gender),
            self._orphan_family(t, free),
            Spec(
                "E120",
                free & (role == "UNBORN"),
                rec(
                    t,
                    "expected_dob",
                    "E120",
                    "UNBORN without expected_dob",
                    _blank(t, "expected_dob"),
                ),
            ),
            Spec("E121", free & has_dob, rec(t, "dob", "E121", "dob missing", _blank(t, "dob"))),
            Spec("E122", free & adult, rec(t, "dob", "E122", "dob in the future", future_dob)),
            Spec(
                "E123",
                free & adult,
                rec(t, "dob", "E123", "dob more than 110 years ago", ancient_dob),
            ),
            Spec(
                "E124",
                free & (role == "CHILD") & has_dob,
                rec(t, "dob", "E124", "CHILD aged 18 or more when identified", adult_child),
            ),
            Spec(
                "E125",
                free,
                rec(t, "date_left", "E125", "date_left before date_joined", left_before_joined),
            ),
            Spec("E126", free, rec(t, "nis_opt_out", "E126", "nis_opt_out not 0 or 1", opt_out)),
            Spec(
                "W201",
                t.columns["nino"] != "",
                rec(t, "nino", "W201", "NINO of a format never issued", bad_nino),
            ),
            Spec(
                "W202",
                t.columns["upn"] != "",
                rec(t, "upn", "W202", "UPN with a wrong check letter", bad_upn),
            ),
            Spec(
                "W203",
                t.columns["nhs_number"] != "",
                rec(t, "nhs_number", "W203", "NHS number with a wrong check digit", bad_nhs),
            ),
            Spec(
                "W204",
                t.columns["postcode"] != "",
                rec(t, "postcode", "W204", "postcode with letters no postcode has", bad_postcode),
            ),
            Spec(
                "W207",
                np.ones(n, dtype=bool),
                rec(t, "forename", "W207", "forename begins with @", formula_name),
            ),
            Spec(
                "W208",
                np.ones(n, dtype=bool),
                rec(t, "surname", "W208", "surname longer than 100 characters", long_name),
            ),
        ]
        used = run_specs(rng, n, self.rate, specs)
        warned = np.zeros(n, dtype=bool)
        for extract, rows, _, rule, _ in self.ledger.entries:
            if extract == "people" and rule.startswith("W"):
                warned[rows] = True
        return used & ~warned

    # -- events ------------------------------------------------------------------------------

    def eligibility(self, t: Table) -> None:
        n = len(t)
        every = np.ones(n, dtype=bool)
        named = t.columns["person_id"] != ""
        family = t.columns["family_id"]
        first_of_family = np.ones(n, dtype=bool)
        first_of_family[1:] = family[1:] != family[:-1]
        specs = [
            self._missing(t, "date_met", every),
            self._duplicate(t, ("family_id", "problem", "person_id"), named),
            self._impossible(t, "date_met", every),
            self._ambiguous(t, "date_met", every),
            # One per family at most, so two rows never end up with the same unknown problem.
            self._unknown_code(t, "problem", first_of_family, ("HOUSING", "SUBSTANCE_MISUSE")),
            self._orphan_family(t, ~named),
            self._orphan_person(t, every),
        ]
        run_specs(self.rng, n, self.rate, specs)

    def school_attendance(self, t: Table) -> None:
        n = len(t)
        every = np.ones(n, dtype=bool)
        rng = self.rng

        def over_absent(rows: np.ndarray) -> None:
            possible = t.columns["possible_sessions"][rows]
            unauthorised = t.columns["unauthorised_absence_sessions"][rows]
            t.set_values(
                "authorised_absence_sessions",
                rows,
                possible - unauthorised + rng.integers(1, 11, len(rows)),
            )

        rec = self._record
        specs = [
            self._missing(t, "possible_sessions", every),
            self._duplicate(t, ("person_id", "term_start", "term_end"), every),
            self._impossible(t, "term_end", every),
            self._ambiguous(t, "term_end", every),
            self._orphan_person(t, every),
            self._not_whole(t, "unauthorised_absence_sessions", every),
            Spec(
                "E130",
                every,
                rec(
                    t,
                    "possible_sessions",
                    "E130",
                    "absences more than possible sessions",
                    over_absent,
                ),
            ),
            self._ends_early(t, "term_start", "term_end", "E131", every),
        ]
        run_specs(rng, n, self.rate, specs)

    def exclusions(self, t: Table) -> None:
        every = np.ones(len(t), dtype=bool)
        specs = [
            self._missing(t, "start_date", every),
            self._impossible(t, "start_date", every),
            self._ambiguous(t, "start_date", every),
            self._unknown_code(t, "exclusion_type", every, ("EXPULSION", "FIXED_TERM")),
            self._orphan_person(t, every),
            self._not_whole(t, "sessions", every),
        ]
        run_specs(self.rng, len(t), self.rate, specs)

    def incidents(self, t: Table, date_column: str) -> None:
        every = np.ones(len(t), dtype=bool)
        specs = [
            self._missing(t, date_column, every),
            self._impossible(t, date_column, every),
            self._ambiguous(t, date_column, every),
            self._orphan_person(t, every),
        ]
        run_specs(self.rng, len(t), self.rate, specs)

    def domestic_abuse(self, t: Table, people: Table, safe_people: np.ndarray) -> None:
        n = len(t)
        every = np.ones(n, dtype=bool)
        named = t.columns["person_id"] != ""
        rng = self.rng
        safe = np.flatnonzero(safe_people)
        safe_family = people.columns["family_id"][safe]
        safe_ids = people.columns["person_id"][safe]

        def elsewhere(rows: np.ndarray) -> np.ndarray:
            """A person (kept, valid) of another family for each row; -1 where none was found."""
            pick = np.full(len(rows), -1, dtype=np.int64)
            for _ in range(20):
                todo = np.flatnonzero(pick < 0)
                if not len(todo) or not len(safe):
                    break
                trial = rng.integers(0, len(safe), len(todo))
                ok = safe_family[trial] != t.columns["family_id"][rows[todo]]
                pick[todo[ok]] = trial[ok]
            return pick

        def not_in_family(rows: np.ndarray) -> None:
            pick = elsewhere(rows)
            rows = rows[pick >= 0]
            t.set_text("person_id", rows, safe_ids[pick[pick >= 0]])
            self.ledger.add(t.name, rows, "person_id", "E132", "person named is of another family")

        specs = [
            self._missing(t, "incident_date", every),
            self._impossible(t, "incident_date", every),
            self._ambiguous(t, "incident_date", every),
            self._unknown_code(t, "involvement", named, ("BYSTANDER", "REPORTER")),
            self._orphan_family(t, ~named),
            self._orphan_person(t, every),
            Spec("E132", named, not_in_family),
        ]
        run_specs(rng, n, self.rate, specs)

    def episodes(self, t: Table, type_column: str, unknown: tuple[str, ...]) -> None:
        every = np.ones(len(t), dtype=bool)
        specs = [
            self._missing(t, "start_date", every),
            self._impossible(t, "start_date", every),
            self._ambiguous(t, "start_date", every),
            self._unknown_code(t, type_column, every, unknown),
            self._ends_early(t, "start_date", "end_date", "E106", every),
            self._orphan_person(t, every),
        ]
        run_specs(self.rng, len(t), self.rate, specs)
