"""The rules run two at a time (schemas.validation._run_rules) say exactly what they said one
after another: the same findings in the same order, the same rows quarantined. That holds because
only the cascade rule reads the rows found in error, which is checked here too."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from extracts.reader import read_extracts
from extracts.source import ExtractSource
from schemas.checks import CheckContext
from schemas.models import EXTRACT_NAMES
from schemas.parsing import ParsedExtract, parse_extract
from schemas.raw import RawExtract
from schemas.rules import CASCADE_RULE, RULES, Kind
from schemas.validation import Found, _broken, _findings_of, _record, validate
from synth.generate import write_synthetic

EXTRACT_DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RawExtract]:
    folder = tmp_path_factory.mktemp("extracts")
    write_synthetic(folder, families=120, seed=5, defects=0.08)
    raw = dict(read_extracts(ExtractSource(folder=folder)))
    # Two families quarantined (no date identified), so the cascade has people to follow.
    families = raw["families"].frame.copy()
    families.loc[families.index[:2], "date_identified"] = "not a date"
    raw["families"] = dataclasses.replace(raw["families"], frame=families)
    return raw


def _parsed(raw: dict[str, RawExtract]) -> dict[str, ParsedExtract]:
    return {
        name: parse_extract(name, raw[name].frame, raw[name].extra_field_rows)
        for name in EXTRACT_NAMES
    }


def _context(parsed: dict[str, ParsedExtract], errors: bool) -> CheckContext:
    return CheckContext(
        parsed=parsed,
        extract_date=EXTRACT_DAY,
        errors={name: np.full(len(parsed[name].frame), errors) for name in EXTRACT_NAMES},
    )


def test_the_findings_are_those_of_the_rules_one_after_another(
    raw: dict[str, RawExtract],
) -> None:
    parsed = _parsed(raw)
    context = _context(parsed, errors=False)
    one_by_one: list[Found] = []
    for rule in RULES.values():
        if rule.check is not None:
            for target in rule.targets:
                one_by_one.extend(_record(rule, target, _broken(rule, target, context), context))
    expected = _findings_of(one_by_one, {name: p.frame for name, p in parsed.items()})
    assert expected["rule"].nunique() > 10  # the defects gave many rules something to say
    assert (expected["rule"] == CASCADE_RULE).any()  # the cascade had rows in error to follow

    found = validate(raw, EXTRACT_DAY).findings
    with_rows = found.loc[found["row"].notna(), ["extract", "row", "column", "rule"]]
    key = ["extract", "row", "column", "rule"]
    got = with_rows.sort_values(key).reset_index(drop=True)
    want = expected[key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    # The same rows quarantined: every row of each extract is either clean or in error.
    result = validate(raw, EXTRACT_DAY)
    for name in EXTRACT_NAMES:
        assert len(result.clean[name]) == int((~context.errors[name]).sum()), name


def test_only_the_cascade_rule_reads_the_rows_in_error(raw: dict[str, RawExtract]) -> None:
    parsed = _parsed(raw)
    none_in_error, all_in_error = _context(parsed, False), _context(parsed, True)
    for rule in RULES.values():
        if rule.check is None:
            continue
        for target in rule.targets:
            a = _broken(rule, target, none_in_error)
            b = _broken(rule, target, all_in_error)
            if rule.code == CASCADE_RULE:
                continue
            assert np.array_equal(a, b), f"{rule.code} on {target} reads the rows in error"
    cascade = RULES[CASCADE_RULE]
    assert cascade.check is not None
    people = next(t for t in cascade.targets if t.extract != "families")
    # ...and the cascade does: with every row in error, a row is never "quarantined because a
    # record it depends on is" (it is in error itself), with none in error, nothing follows.
    assert not _broken(cascade, people, all_in_error).any()
    assert not _broken(cascade, people, none_in_error).any()


@pytest.mark.parametrize(
    "code",
    sorted(
        code
        for code, rule in RULES.items()
        if rule.kind in (Kind.FIELD, Kind.ROW) and rule.check is not None
    ),
)
def test_a_field_or_row_rule_reads_only_the_columns_its_targets_declare(
    raw: dict[str, RawExtract], code: str
) -> None:
    """What a target says its check reads is what the synthetic defects rely on (a copied key
    takes along the columns a row rule reads with it): each rule's check, given only those
    columns of its extract, finds the same rows as with all of them."""
    parsed = _parsed(raw)
    whole = _context(parsed, errors=False)
    rule = RULES[code]
    for target in rule.targets:
        only = dict(parsed)
        own = parsed[target.extract]
        only[target.extract] = dataclasses.replace(own, frame=own.frame[list(target.columns)])
        narrow = _context(only, errors=False)
        assert np.array_equal(_broken(rule, target, narrow), _broken(rule, target, whole)), (
            f"{code} on {target.extract}.{target.column}"
        )


def test_a_key_asked_for_by_several_threads_at_once_is_encoded_once(
    raw: dict[str, RawExtract], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    import schemas.checks as checks

    encoded: list[int] = []
    encode = checks.pc.dictionary_encode

    def slow_encode(values):  # type: ignore[no-untyped-def]
        encoded.append(1)
        time.sleep(0.05)  # long enough for every thread to be asking meanwhile
        return encode(values)

    parsed = _parsed(raw)  # parsing encodes columns too: only the checks' encodings are counted
    monkeypatch.setattr(checks.pc, "dictionary_encode", slow_encode)
    context = _context(parsed, errors=False)
    start = threading.Barrier(6)
    seen: list[dict[str, np.ndarray]] = []

    def ask(key: str) -> None:
        start.wait()
        seen.append(context.key_codes(key))

    threads = [
        threading.Thread(target=ask, args=(k,)) for k in ["person_id"] * 4 + ["family_id"] * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(encoded) == 2  # once per key
    people = [s for s in seen if "people" in s and s is context.key_codes("person_id")]
    assert len(people) == 4  # every asker got the one encoding
