"""The defect generator enumerates the rule registry: which rules it generates, how it finds a
recipe for each, what it reports for a rule it cannot generate, and the recipes' building blocks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas import checks, codes
from schemas.checks import Target
from schemas.parsing import parse_dates
from schemas.rules import RULES, Kind, Rule, Severity
from synth.defects import Spec, quotas
from synth.generate import LEDGER_NAME, generate_tables, write_synthetic
from synth.recipes import (
    NO_RECIPE,
    NO_ROWS,
    NOT_COVERED,
    SKIPPED,
    Breakage,
    ambiguous_dates,
    copied_with_key,
    end_before_start,
    first_of_groups,
    impossible_dates,
    may_change,
    recipe_for,
    skip_reason,
    unknown_codes,
)
from synth.table import Table


def _generated() -> set[str]:
    """The registry's rules, read now, less those the generator documents as never made."""
    return {code for code, rule in RULES.items() if skip_reason(rule) is None}


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Table], object]:
    return generate_tables(500, seed=21, defects=0.2)


def test_generated_rules_are_the_registry_less_the_documented_ones(generated) -> None:
    _, ledger = generated
    expected = _generated()
    without_recipe = sorted(code for code in expected if recipe_for(RULES[code]) is None)
    assert without_recipe == [], (
        f"rules of the registry with no synthetic defect recipe: {without_recipe}; add one to "
        "synth/recipes.py, or say in SKIPPED there why the rule is never generated"
    )
    assert ledger.rules() == expected, f"never generated: {sorted(expected - ledger.rules())}"
    assert set(ledger.not_generated) == set(RULES) - expected
    for code, reason in ledger.not_generated.items():
        assert reason == skip_reason(RULES[code])


def test_only_whole_extract_rules_and_the_cascade_are_skipped_by_design() -> None:
    whole_extract = {code for code, rule in RULES.items() if rule.kind is Kind.FILE}
    assert whole_extract >= {"F001", "F006", "W205"}
    # E119 and W206 are faults of a file's structure and bytes: the hostile-file corpus.
    assert set(RULES) - _generated() == whole_extract | {"E190", "E119", "W206"}
    assert set(SKIPPED) == {"E190", "E119", "W206"}


def test_a_run_too_small_for_some_rules_says_which() -> None:
    _, ledger = generate_tables(3, seed=4, defects=0.01)
    assert ledger is not None
    short = {code for code, reason in ledger.not_generated.items() if reason == NO_ROWS}
    assert short  # three families cannot hold a row for every rule
    assert short <= _generated()
    # Every rule is either in the ledger or reported, never both.
    assert ledger.rules().isdisjoint(ledger.not_generated)
    assert ledger.rules() | set(ledger.not_generated) == set(RULES)


def test_every_target_of_a_generated_rule_takes_defects(generated) -> None:
    _, ledger = generated
    targets = {(code, t.extract, t.column) for code in _generated() for t in RULES[code].targets}
    # A too-long or formula-like id can only be made on a record's own key: on a reference it
    # would also be a reference to no record (E107/E108), two findings for one defect.
    keys = {("families", "family_id"), ("people", "person_id")}
    by_design = {t for t in targets if t[0] in ("E117", "E118") and t[1:] not in keys}
    made = {(rule, extract, column) for extract, _, column, rule, _ in ledger.entries}
    assert set(ledger.targets_not_generated) == by_design
    assert made == targets - by_design
    # E105 on every code column and E103 on every date column, not one column per extract.
    assert len([t for t in targets if t[0] == "E105"]) == 9
    assert len([t for t in targets if t[0] == "E103"]) == 19


def _extra_rule(code: str, check: checks.Check, target: Target) -> Rule:
    return Rule(
        code, Severity.ERROR, Kind.ROW, "a rule added to the registry", "Fix it.", (target,), check
    )


def test_a_rule_without_a_recipe_is_reported_not_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(ctx: checks.CheckContext, target: Target) -> np.ndarray:
        return np.zeros(len(ctx.frame(target.extract)), dtype=bool)

    target = Target("offences", "offence_category", ("offence_date", "offence_category"))
    monkeypatch.setitem(RULES, "E199", _extra_rule("E199", never, target))
    summary = write_synthetic(tmp_path, families=80, seed=3, defects=0.05)
    assert summary.not_generated["E199"] == NO_RECIPE
    ledger = pd.read_csv(tmp_path / LEDGER_NAME)
    assert "E199" not in set(ledger["rule"])
    assert set(ledger["rule"]) == _generated() - {"E199"}  # what the coverage test then reports


def test_a_new_rule_with_a_known_check_is_generated_without_a_change_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = Target("employment_spells", "end_date", ("start_date", "end_date"))
    rule = _extra_rule("E198", checks.ends_before_start, target)
    assert recipe_for(rule) is end_before_start
    monkeypatch.setitem(RULES, "E198", rule)
    tables, ledger = generate_tables(150, seed=8, defects=0.05)
    assert ledger is not None
    rows = [e for e in ledger.entries if e[3] == "E198"]
    assert rows and all(e[0] == "employment_spells" and e[2] == "end_date" for e in rows)
    spells = tables["employment_spells"].columns
    for _, positions, *_ in rows:
        assert (spells["end_date"][positions] < spells["start_date"][positions]).all()


def test_a_target_its_recipe_cannot_break_is_reported_not_generated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ends_before_start on two counts: the recipe moves dates, so it declines, and says so.
    target = Target(
        "school_attendance",
        "possible_sessions",
        ("authorised_absence_sessions", "possible_sessions"),
    )
    monkeypatch.setitem(RULES, "E197", _extra_rule("E197", checks.ends_before_start, target))
    _, ledger = generate_tables(60, seed=8, defects=0.05)
    assert ledger is not None
    assert ("E197", "school_attendance", "possible_sessions") in ledger.targets_not_generated
    assert ledger.not_generated["E197"] == NOT_COVERED
    assert "E197" not in ledger.rules()


def test_a_new_target_of_a_generic_rule_is_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    e101 = RULES["E101"]
    extra = Target("offences", "offence_category")
    monkeypatch.setitem(RULES, "E101", dataclasses.replace(e101, targets=(*e101.targets, extra)))
    _, ledger = generate_tables(300, seed=8, defects=0.2)
    assert ledger is not None
    assert ("offences", "offence_category") in {(e[0], e[2]) for e in ledger.entries}


# --- building blocks -------------------------------------------------------------------------


def test_a_duplicated_key_carries_the_columns_read_with_it() -> None:
    # term_end is read with term_start by E131: a copied start without its end would break it.
    assert copied_with_key("school_attendance", ("person_id", "term_start")) == (
        "person_id",
        "term_start",
        "term_end",
    )
    assert copied_with_key("people", ("person_id",)) == ("person_id",)
    assert copied_with_key("families", ("family_id",)) == ("family_id",)


def test_unknown_codes_are_outside_the_code_list_as_the_parser_reads_it() -> None:
    assert list(unknown_codes("gender", codes.GENDERS)) == ["Q", "N"]
    # A column with no words of its own gets generic ones, still checked against its list.
    assert list(unknown_codes("new_code", ("UNKNOWN", "A"))) == ["NOT_KNOWN"]
    assert list(unknown_codes("new_code", ("A", "B"))) == ["UNKNOWN", "NOT_KNOWN"]


def test_impossible_and_ambiguous_dates_fail_parsing_as_their_rule_says() -> None:
    dates = np.array(["2024-03-07", "2019-12-31", "NaT"] * 20, dtype="datetime64[D]")
    impossible = impossible_dates(np.random.default_rng(1), dates)
    parsed, invalid, ambiguous = parse_dates(pd.Series(impossible, dtype="str"))
    assert invalid.all() and not ambiguous.any() and parsed.isna().all()
    assert all(text.count("2024") == 1 for text in impossible[::3].tolist())
    fallback = np.datetime64("2024-05-01", "D")
    assert list(ambiguous_dates(dates[:3], fallback)) == ["07/03/24", "31/12/19", "01/05/24"]
    _, invalid, ambiguous = parse_dates(pd.Series(ambiguous_dates(dates, fallback), dtype="str"))
    assert ambiguous.all() and not invalid.any()


def test_first_of_groups() -> None:
    table = Table(
        "eligibility",
        {
            "family_id": np.array(["F1", "F1", "F2", "F1", "F2"]),
            "person_id": np.array(["", "P1", "", "", ""]),
        },
    )
    assert first_of_groups(table, ["family_id", "person_id"]).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_family_reference_changes_only_on_rows_naming_no_person() -> None:
    incidents = Table(
        "domestic_abuse_incidents",
        {"family_id": np.array(["F1", "F1", "F2"]), "person_id": np.array(["P1", "", "P9"])},
    )
    assert may_change(incidents, "family_id").tolist() == [False, True, False]
    assert may_change(incidents, "person_id").tolist() == [True, True, True]
    people = Table("people", {"family_id": np.array(["F1"]), "person_id": np.array(["P1"])})
    assert may_change(people, "family_id").tolist() == [True]


def _spec(code: str, candidates: list[bool], pair: bool = False) -> Spec:
    rule = RULES[code]
    breakage = Breakage(np.array(candidates), lambda rows: None, "test", pair=pair)
    return Spec(rule, "x", np.array(candidates), breakage)


def test_quotas_spread_over_rules_then_over_their_targets() -> None:
    rng = np.random.default_rng(0)
    specs = [
        _spec("E103", [True] * 4),
        _spec("E103", [True] * 4),
        _spec("E103", [False] * 4),  # no row can take it: its rule's share goes to the others
        _spec("E102", [True] * 4, pair=True),
    ]
    # 7 rows over two rules: 4 for E103 (2 and 2 over its able targets), 3 for E102 (a pair
    # rule takes rows two at a time: 2).
    assert quotas(rng, 7, specs) == [2, 2, 0, 2]
    # Fewer rows than targets: every rule still gets one, on one of its targets.
    few = quotas(rng, 1, specs)
    assert few[3] == 2 and sum(few[:3]) == 1 and few[2] == 0
