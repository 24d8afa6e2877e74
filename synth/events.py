"""The eight event extracts: eligibility, school terms and exclusions, offences, ASB, domestic
abuse, social care episodes, employment spells.

Every generator works on whole arrays: a per-owner count is drawn, owners are repeated that many
times (``_expand``), and each event's dates come from its owner's dates. Events fall around the
family's identification (from a year or two before to a few years after) and never after
``ACTIVITY_END``.
"""

from __future__ import annotations

import numpy as np

from schemas.codes import PROBLEMS
from synth.calendar import ACTIVITY_END, YEAR, school_terms
from synth.people import age_in_days
from synth.table import NAT, Table, days, group_positions
from synth.vocab import ASB_CATEGORIES, OFFENCE_CATEGORIES

PROBLEM_WEIGHTS = np.array([0.15, 0.20, 0.20, 0.20, 0.15, 0.10])


class Households:
    """Per-person and per-family arrays the event generators share."""

    def __init__(self, families: Table, people: Table) -> None:
        self.family_ids = families.columns["family_id"]
        self.identified_f = families.columns["date_identified"]
        self.family = people.columns["_family"]
        self.person_ids = people.columns["person_id"]
        self.role = people.columns["role"]
        self.dob = people.columns["dob"]
        self.identified = self.identified_f[self.family]
        n_families = len(self.family_ids)
        self.size = np.bincount(self.family, minlength=n_families)
        self.first = np.cumsum(self.size) - self.size

    def random_member(self, rng: np.random.Generator, family: np.ndarray) -> np.ndarray:
        """A random person of each given family (people rows are grouped by family)."""
        return self.first[family] + (rng.random(len(family)) * self.size[family]).astype(np.int64)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of each event, for ``counts[i]`` events of owner ``i``."""
    owner = np.repeat(np.arange(len(counts)), counts)
    return owner, group_positions(counts)


def _uniform_dates(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    width = (high - low).astype(np.int64)
    return low + days((rng.random(len(low)) * (width + 1)).astype(np.int64))


def _person_ids(h: Households, person: np.ndarray) -> np.ndarray:
    return np.where(person >= 0, h.person_ids[np.maximum(person, 0)], "")


def make_eligibility(rng: np.random.Generator, h: Households) -> Table:
    n_families = len(h.family_ids)
    k = rng.choice([2, 3, 4, 5, 6], size=n_families, p=[0.5, 0.3, 0.15, 0.04, 0.01])
    # Weighted sampling without replacement: the k largest of u ** (1 / weight).
    keys = rng.random((n_families, len(PROBLEMS))) ** (1.0 / PROBLEM_WEIGHTS)
    preference = np.argsort(-keys, axis=1)
    chosen = np.arange(len(PROBLEMS))[None, :] < k[:, None]
    problem_index = np.sort(np.where(chosen, preference, len(PROBLEMS)), axis=1)[chosen]
    family = np.repeat(np.arange(n_families), k)
    n = len(family)
    identified = h.identified_f[family]
    before = identified - days(rng.integers(0, 181, n))
    after = np.minimum(identified + days(rng.integers(1, 366, n)), ACTIVITY_END)
    date_met = np.where(rng.random(n) < 0.85, before, after)
    person = h.random_member(rng, family)
    named = (rng.random(n) < 0.4) & (h.role[person] != "UNBORN")
    person = np.where(named, person, -1)
    return Table(
        "eligibility",
        {
            "family_id": h.family_ids[family],
            "problem": np.array(PROBLEMS)[problem_index],
            "person_id": _person_ids(h, person),
            "date_met": date_met,
            "_family": family,
            "_person": person,
        },
    )


def make_school(rng: np.random.Generator, h: Households) -> tuple[Table, Table]:
    """School attendance per child per term, and the exclusions of those terms."""
    term_start, term_end, base_possible, year_start = school_terms()
    child = np.flatnonzero((h.role == "CHILD") & ~np.isnat(h.dob))
    identified = h.identified[child]
    window_end = np.minimum(identified + days(3 * 365), ACTIVITY_END)
    first = np.searchsorted(term_start, identified - days(365), side="left")
    last = np.searchsorted(term_start, window_end, side="right") - 1
    counts = np.clip(last - first + 1, 0, None)
    counts = np.where(rng.random(len(child)) < 0.93, counts, 0)  # some have no school record
    # Each child's tendency to miss school: most a little, some persistently.
    propensity = np.where(
        rng.random(len(child)) < 0.12,
        rng.beta(3.0, 9.0, len(child)),
        rng.beta(1.5, 16.0, len(child)),
    )
    owner, position = _expand(counts)
    term = first[owner] + position
    person = child[owner]
    age = age_in_days(h.dob[person], year_start[term])
    in_school = (age >= 4 * YEAR) & (age < 16 * YEAR)
    owner, term, person = owner[in_school], term[in_school], person[in_school]
    n = len(person)

    possible = base_possible[term] - rng.integers(0, 5, n)
    partial = rng.random(n) < 0.06
    possible = np.where(partial, rng.integers(30, possible + 1), possible)
    rate = np.clip(propensity[owner] * rng.gamma(4.0, 0.25, n), 0.0, 0.9)
    authorised = rng.binomial(possible, rate * 0.65)
    unauthorised = rng.binomial(possible - authorised, rate * 0.35 / (1.0 - rate * 0.65))
    attendance = Table(
        "school_attendance",
        {
            "person_id": h.person_ids[person],
            "term_start": term_start[term],
            "term_end": term_end[term],
            "possible_sessions": possible.astype(float),
            "authorised_absence_sessions": authorised.astype(float),
            "unauthorised_absence_sessions": unauthorised.astype(float),
            "_person": person,
        },
    )

    excluded = rng.random(n) < 0.012 + 0.15 * rate
    ex_term, ex_person = term[excluded], person[excluded]
    m = len(ex_person)
    start = _uniform_dates(rng, term_start[ex_term], term_end[ex_term])
    permanent = rng.random(m) < 0.03
    sessions = np.where(permanent | (rng.random(m) < 0.1), np.nan, rng.integers(1, 11, m))
    exclusions = Table(
        "exclusions",
        {
            "person_id": h.person_ids[ex_person],
            "start_date": start,
            "exclusion_type": np.where(permanent, "PERMANENT", "SUSPENSION"),
            "sessions": sessions.astype(float),
            "_person": ex_person,
        },
    )
    return attendance, exclusions


def _person_incidents(
    rng: np.random.Generator,
    h: Households,
    min_age_years: float,
    share: np.ndarray,
    mean_extra: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(person, date) of incidents by people old enough, around their family's identification."""
    n = len(h.role)
    adult_from = h.dob + days(int(min_age_years * YEAR) + 1)
    eligible = ~np.isnat(h.dob) & (adult_from <= ACTIVITY_END)
    counts = np.where(eligible & (rng.random(n) < share), 1 + rng.poisson(mean_extra, n), 0)
    person, _ = _expand(counts)
    low = np.maximum(h.identified[person] - days(730), adult_from[person])
    high = np.minimum(h.identified[person] + days(1095), ACTIVITY_END)
    keep = low <= high
    person, low, high = person[keep], low[keep], high[keep]
    date = _uniform_dates(rng, low, high)
    order = np.lexsort((date, person))
    return person[order], date[order]


def _youth_share(h: Households, adult: float, young: float) -> np.ndarray:
    age = age_in_days(h.dob, h.identified)
    return np.where((age >= 10 * YEAR) & (age < 25 * YEAR), young, adult)


def _person_events(
    rng: np.random.Generator,
    h: Households,
    name: str,
    columns: tuple[str, str],
    categories: np.ndarray,
    rates: tuple[float, float, float, float],
) -> Table:
    """Dated events of one person each, with a category left empty 5% of the time.

    ``rates``: (events per year of the busiest, adult share, young share, spread), as
    ``_person_incidents`` and ``_youth_share`` take them.
    """
    per_year, adult, young, spread = rates
    person, date = _person_incidents(rng, h, per_year, _youth_share(h, adult, young), spread)
    n = len(person)
    category = categories[rng.integers(0, len(categories), n)]
    date_column, category_column = columns
    return Table(
        name,
        {
            "person_id": h.person_ids[person],
            date_column: date,
            category_column: np.where(rng.random(n) < 0.05, "", category),
            "_person": person,
        },
    )


def make_offences(rng: np.random.Generator, h: Households) -> Table:
    columns = ("offence_date", "offence_category")
    return _person_events(rng, h, "offences", columns, OFFENCE_CATEGORIES, (10.0, 0.05, 0.12, 1.2))


def make_asb(rng: np.random.Generator, h: Households) -> Table:
    columns = ("incident_date", "incident_category")
    return _person_events(rng, h, "asb_incidents", columns, ASB_CATEGORIES, (8.0, 0.06, 0.12, 1.0))


def make_domestic_abuse(rng: np.random.Generator, h: Households, eligibility: Table) -> Table:
    n_families = len(h.family_ids)
    flagged = np.zeros(n_families, dtype=bool)
    da_rows = eligibility.columns["problem"] == "DOMESTIC_ABUSE"
    flagged[eligibility.columns["_family"][da_rows]] = True
    share = np.where(flagged, 0.6, 0.12)
    counts = np.where(rng.random(n_families) < share, 1 + rng.poisson(1.3, n_families), 0)
    family, _ = _expand(counts)
    n = len(family)
    identified = h.identified_f[family]
    date = _uniform_dates(
        rng, identified - days(365), np.minimum(identified + days(1095), ACTIVITY_END)
    )
    person = h.random_member(rng, family)
    named = (rng.random(n) < 0.65) & ~np.isnat(h.dob[person]) & (h.dob[person] <= date)
    person = np.where(named, person, -1)
    child = h.role[np.maximum(person, 0)] == "CHILD"
    u = rng.random(n)
    adult_involvement = np.where(u < 0.55, "VICTIM", np.where(u < 0.95, "PERPETRATOR", ""))
    child_involvement = np.where(u < 0.8, "WITNESS", "VICTIM")
    involvement = np.where(named, np.where(child, child_involvement, adult_involvement), "")
    order = np.lexsort((date, family))
    return Table(
        "domestic_abuse_incidents",
        {
            "family_id": h.family_ids[family][order],
            "person_id": _person_ids(h, person)[order],
            "incident_date": date[order],
            "involvement": involvement[order].astype("<U11"),
            "_family": family[order],
            "_person": person[order],
        },
    )


def _spells(
    rng: np.random.Generator,
    owners: np.ndarray,
    counts: np.ndarray,
    base: np.ndarray,
    duration: tuple[int, int],
    gap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive spells per owner: (owner, position, start, end, is_last). ``gap`` gives the
    days between one spell's end and the next start minus one (0 = touching, < 0 = overlap)."""
    index, position = _expand(counts)
    n = len(index)
    length = rng.integers(duration[0], duration[1] + 1, n)
    between = rng.integers(1, 201, n) if gap is None else gap
    # Spell i starts where spell i-1 started, plus its length, plus the gap: a running sum of
    # "advances" within the owner's run (the first spell advances nothing).
    previous_length = np.concatenate([np.zeros(1, np.int64), length[:-1]])
    advance = np.where(position == 0, 0, previous_length + between)
    total = np.cumsum(advance)
    run_first = np.repeat(np.cumsum(counts) - counts, counts)
    start = base[index] + days(total - total[run_first])
    end = start + days(length - 1)
    is_last = position == counts[index] - 1
    return owners[index], position, start, end, is_last


def make_social_care(rng: np.random.Generator, h: Households, eligibility: Table) -> Table:
    n_families = len(h.family_ids)
    needs_help = np.zeros(n_families, dtype=bool)
    rows = eligibility.columns["problem"] == "CHILDREN_NEED_HELP"
    needs_help[eligibility.columns["_family"][rows]] = True
    child = np.flatnonzero((h.role == "CHILD") & ~np.isnat(h.dob))
    share = np.where(needs_help[h.family[child]], 0.45, 0.08)
    counts = np.where(rng.random(len(child)) < share, 1 + rng.binomial(2, 0.3, len(child)), 0)
    base = np.maximum(h.identified[child] - days(rng.integers(0, 701, len(child))), h.dob[child])
    person, _, start, end, is_last = _spells(rng, child, counts, base, (30, 800))
    n = len(person)
    keep = (start <= ACTIVITY_END) & (start < h.dob[person] + days(int(18 * YEAR)))
    open_ = (end > ACTIVITY_END) | (is_last & (rng.random(n) < 0.15))
    end = np.where(open_, NAT, end)
    kind = np.array(["CIN", "CPP", "LAC"])[rng.choice(3, size=n, p=[0.65, 0.25, 0.10])]
    return Table(
        "social_care_episodes",
        {
            "person_id": h.person_ids[person][keep],
            "episode_type": kind[keep],
            "start_date": start[keep],
            "end_date": end[keep],
            "_person": person[keep],
        },
    )


def make_employment(rng: np.random.Generator, h: Households) -> Table:
    age = age_in_days(h.dob, h.identified)
    adult = np.flatnonzero(
        np.isin(h.role, ["MAIN_CARER", "OTHER_ADULT", "OTHER"]) & (age >= 18 * YEAR)
    )
    m = len(adult)
    counts = np.where(rng.random(m) < 0.75, 1 + rng.binomial(4, 0.35, m), 0)
    base = h.identified[adult] - days(rng.integers(0, 901, m))
    total = int(counts.sum())
    # Between spells: a new one the day after (touching, 35%), one that overlaps the last by up
    # to a month (10%), or a gap of up to ten months.
    mode = rng.random(total)
    gap = np.where(
        mode < 0.35,
        0,
        np.where(mode < 0.45, -rng.integers(1, 31, total), rng.integers(1, 301, total)),
    )
    person, position, start, end, is_last = _spells(rng, adult, counts, base, (30, 900), gap)
    n = len(person)
    first_type = (rng.random(m) < 0.4).astype(np.int64)  # 1 = employed first
    switch = np.where(position == 0, 0, (rng.random(n) < 0.75).astype(np.int64))
    switches = np.cumsum(switch)
    run_first = np.repeat(np.cumsum(counts) - counts, counts)
    employed = (first_type[np.repeat(np.arange(m), counts)] + switches - switches[run_first]) % 2
    spell_type = np.where(employed == 1, "EMPLOYED", "OUT_OF_WORK_BENEFIT")

    # Young people not in education, employment or training at 16 to 18.
    young = np.flatnonzero(
        (h.role != "UNBORN") & ~np.isnat(h.dob) & (age >= 14 * YEAR) & (age < 19 * YEAR)
    )
    neet = young[rng.random(len(young)) < 0.3]
    k = len(neet)
    sixteen = h.dob[neet] + days(int(16 * YEAR) + 1)
    neet_start = np.maximum(sixteen, h.identified[neet] - days(200)) + days(rng.integers(0, 301, k))
    neet_end = neet_start + days(rng.integers(30, 401, k) - 1)
    neet_ok = neet_start < h.dob[neet] + days(int(19 * YEAR))

    person = np.concatenate([person, neet[neet_ok]])
    spell_type = np.concatenate([spell_type, np.full(int(neet_ok.sum()), "NEET")])
    start = np.concatenate([start, neet_start[neet_ok]])
    end = np.concatenate([end, neet_end[neet_ok]])
    is_last = np.concatenate([is_last, np.ones(int(neet_ok.sum()), dtype=bool)])
    keep = start <= ACTIVITY_END
    person, spell_type, start, end, is_last = (
        a[keep] for a in (person, spell_type, start, end, is_last)
    )
    open_ = (end > ACTIVITY_END) | (is_last & (rng.random(len(person)) < 0.25))
    end = np.where(open_, NAT, end)
    order = np.lexsort((start, person))
    return Table(
        "employment_spells",
        {
            "person_id": h.person_ids[person][order],
            "spell_type": spell_type[order].astype("<U19"),
            "start_date": start[order],
            "end_date": end[order],
            "_person": person[order],
        },
    )
