"""The rule registry as data: every declaration of the models is reported by exactly one rule,
every target is a real column, and the "how to fix" of a finding names the column's own codes
or format."""

from __future__ import annotations

import pytest

from schemas.models import SCHEMAS, allowed_codes, column_format, unique_keys
from schemas.rules import RULES, Kind, Severity


def _targets(code: str) -> set[tuple[str, str | None]]:
    return {(t.extract, t.column) for t in RULES[code].targets}


def test_every_pandera_check_of_the_models_is_one_rules() -> None:
    # A check added to a model (say a str_matches on postcode) without a rule that claims it
    # would never be reported, or be reported under another rule's code.
    declared = {
        (name, column, check.name)
        for name, schema in SCHEMAS.items()
        for column, spec in schema.columns.items()
        for check in spec.checks
    }
    assert declared, "the models declare checks"
    claimed = {
        (t.extract, t.column, rule.pandera)
        for rule in RULES.values()
        if rule.pandera not in (None, "nullable", "unique")
        for t in rule.targets
    }
    assert claimed == declared
    by_check = {}
    for rule in RULES.values():
        if rule.pandera:
            assert rule.pandera not in by_check, f"{rule.pandera} claimed twice"
            by_check[rule.pandera] = rule.code
    assert by_check == {"isin": "E105", "str_matches": "E110", "nullable": "E101", "unique": "E102"}


def test_every_required_column_and_every_key_has_its_rule() -> None:
    required = {
        (name, column)
        for name, schema in SCHEMAS.items()
        for column, spec in schema.columns.items()
        if not spec.nullable
    }
    assert _targets("E101") == required
    keys = {(name, unique_keys(name)) for name in SCHEMAS if unique_keys(name)}
    assert {(t.extract, t.reads) for t in RULES["E102"].targets} == keys
    assert ("eligibility", ("family_id", "problem", "person_id")) in keys


@pytest.mark.parametrize("code", sorted(RULES))
def test_each_rule_is_declared_whole(code: str) -> None:
    rule = RULES[code]
    assert rule.code == code and rule.message and rule.fix
    assert code[0] == {"fatal": "F", "error": "E", "warning": "W"}[rule.severity.value]
    if rule.kind is Kind.FILE:
        # Raised by a reader or the LA-code policy, or reported per column (W205).
        assert rule.check is None and not rule.targets
    else:
        assert rule.check is not None and rule.targets
        assert rule.severity is not Severity.FATAL
    for target in rule.targets:
        columns = SCHEMAS[target.extract].columns
        if target.column is None:
            # A rule about the row as a whole (E119): found while parsing, of every extract.
            assert rule.kind is Kind.PARSE and not target.reads, (code, target)
            continue
        assert target.column in columns, (code, target)
        assert set(target.columns) <= set(columns), (code, target)
    # Messages are fixed text: nothing that could be filled with a value.
    assert "{" not in rule.message


def test_kinds_run_in_order_with_the_cascade_last() -> None:
    order = [Kind.FILE, Kind.PARSE, Kind.FIELD, Kind.ROW, Kind.CROSS]
    kinds = [order.index(rule.kind) for rule in RULES.values()]
    assert kinds == sorted(kinds)
    assert list(RULES)[-1] == "E190"


def test_how_to_fix_names_the_columns_own_codes_and_format() -> None:
    assert RULES["E105"].how_to_fix("families", "status") == (
        "Use one of: IDENTIFIED, ATTACHED, CLOSED, DECLINED, NOT_ELIGIBLE."
    )
    assert RULES["E105"].how_to_fix("people", "gender") == "Use one of: M, F, X, U."
    assert allowed_codes("people", "gender") == ("M", "F", "X", "U")
    date_fix = RULES["E103"].how_to_fix("people", "dob")
    assert date_fix == f"Write dob as {column_format('people', 'dob')}."
    assert "01/04/2025" in date_fix and "four-digit year" in date_fix
    assert "six digits and a final letter A to D" in RULES["W201"].how_to_fix("people", "nino")
    assert (
        RULES["E102"]
        .how_to_fix("eligibility", "family_id")
        .startswith(
            "Give each record its own key: family_id, problem, person_id together must be unique"
        )
    )
    assert "[column_map.people]" in RULES["F003"].how_to_fix("people")
    # Without a column, the text still reads (the rules page of the docs uses it).
    assert "{" not in RULES["E105"].how_to_fix()
