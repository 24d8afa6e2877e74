"""Issue 12 end to end: two ``nis run``s on sources that differ in known ways give the changes
file that section 6 derives from the two individuals files (the expectation is worked out here
from the two CSVs with plain dictionaries, not with the transform), and ``nis package`` packs the
September submission, the same bytes for two identical submissions, encrypted on request."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flows_support import LA, synthetic_extracts, write_config
from pyrage import decrypt, x25519
from typer.testing import CliRunner

from flows.commands import run_command
from nis_pipeline.cli import app

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

MARCH, SEPTEMBER = "2025-03-31", "2025-09-30"
PROBLEMS = [
    "p_crime_asb",
    "p_education",
    "p_children_need_help",
    "p_worklessness",
    "p_domestic_abuse",
    "p_health",
]
IDENTIFIERS = ["forename", "surname", "dob", "expected_dob", "gender", "postcode", "nino", "upn"]
DATES = ["date_identified", "date_support_started", "date_support_ended"]
Row = tuple[str, str, str, str, str, str]


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _individuals(out: Path, census: str) -> dict[str, dict[str, str]]:
    rows = _read(out / LA / census / f"nis_{LA}_{census}_individuals.csv")
    return {r["person_id"]: r for r in rows}


def _day_before(text: str) -> str:
    parsed = (
        datetime.strptime(text, "%d/%m/%Y") if "/" in text else datetime.strptime(text, "%Y-%m-%d")
    )
    return (parsed.date() - timedelta(days=1)).isoformat()


def _source_b(a: Path, b: Path, march: dict[str, dict[str, str]]) -> None:
    """Source A with edits chosen among families of the March cohort whose support has not
    ended (so they stay in the September cohort): a person moves family, one leaves, a role,
    identifiers, a status, a date identified and a problem change."""
    shutil.copytree(a, b)
    families, people = _read(b / "families.csv"), _read(b / "people.csv")
    eligibility = _read(b / "eligibility.csv")
    source = {p["person_id"]: p for p in people}
    settled = [
        pid
        for pid, row in sorted(march.items())
        if row["date_support_ended"] == ""
        and row["role"] != "UNBORN"
        and source[pid]["date_joined"] == ""
        and source[pid]["date_left"] == ""
    ]
    by_family: dict[str, list[str]] = {}
    for pid in settled:
        by_family.setdefault(march[pid]["family_id"], []).append(pid)
    stable = sorted(by_family)
    pairs = [f for f in stable if len(by_family[f]) >= 2]
    moving_from = pairs[0]
    moving_to = next(f for f in stable if f != moving_from)
    mover, leaver = by_family[moving_from][:2]
    source[mover]["family_id"] = moving_to
    source[leaver]["date_left"] = "2025-01-15"  # before the September period: not in it

    others = [p for p in settled if march[p]["family_id"] not in (moving_from, moving_to)]
    role_change = others[0]
    source[role_change]["role"] = "OTHER" if march[role_change]["role"] != "OTHER" else "MAIN_CARER"
    with_nino = next(p for p in others[1:] if march[p]["nino"])
    without_nino = next(p for p in others[1:] if not march[p]["nino"])
    with_postcode = next(p for p in others[1:] if march[p]["postcode"] and p != with_nino)
    source[with_nino]["nino"] = ""
    source[without_nino]["nino"] = "AB123456C"
    source[with_postcode]["postcode"] = (
        "L1 8JQ" if march[with_postcode]["postcode"] != "L1 8JQ" else "L2 2AA"
    )

    rest = [f for f in stable if f not in (moving_from, moving_to)]
    revised, declined = (
        rest[0],
        next(f for f in rest[1:] if march[by_family[f][0]]["intervention_status"] != "DECLINED"),
    )
    for family in families:
        if family["family_id"] == revised:
            family["date_identified"] = _day_before(family["date_identified"])
        if family["family_id"] == declined:
            family["status"] = "DECLINED"
    met = {(e["family_id"], e["problem"]) for e in eligibility}
    new_problem = next(
        (f, column)
        for f in rest[2:]
        for column in PROBLEMS
        if march[by_family[f][0]][column] == "0" and (f, column[2:].upper()) not in met
    )
    eligibility.append(
        {
            "family_id": new_problem[0],
            "problem": new_problem[1][2:].upper(),
            "person_id": "",
            "date_met": "2025-05-01",
        }
    )
    _write(b / "families.csv", families)
    _write(b / "people.csv", list(source.values()))
    _write(b / "eligibility.csv", eligibility)


def _expected(previous: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> list[Row]:
    """Section 6, read straight off the two files."""
    rows: list[Row] = []
    for pid in current.keys() - previous.keys():
        rows.append((current[pid]["family_id"], pid, "JOINED", "", "", ""))
    for pid in previous.keys() - current.keys():
        rows.append((previous[pid]["family_id"], pid, "LEFT", "", "", ""))
    for pid in current.keys() & previous.keys():
        was, now = previous[pid], current[pid]
        family = now["family_id"]
        for field, change in (
            ("family_id", "FAMILY"),
            ("intervention_status", "STATUS"),
            ("role", "ROLE"),
        ):
            if was[field] != now[field]:
                rows.append((family, pid, change, field, was[field], now[field]))
        for field in PROBLEMS:
            if (was[field], now[field]) == ("0", "1"):
                rows.append((family, pid, "PROBLEM_ADDED", field, "0", "1"))
            if (was[field], now[field]) == ("1", "0"):
                rows.append((family, pid, "PROBLEM_REMOVED", field, "1", "0"))
        for field in IDENTIFIERS:
            if not was[field] and now[field]:
                rows.append((family, pid, "IDENTIFIER_ADDED", field, "", ""))
            elif was[field] and not now[field]:
                rows.append((family, pid, "IDENTIFIER_REMOVED", field, "", ""))
            elif was[field] != now[field]:
                rows.append((family, pid, "IDENTIFIER_CHANGED", field, "", ""))
        for field in DATES:
            on_or_before = now[field] != "" and now[field] <= MARCH
            if was[field] != now[field] and (was[field] != "" or on_or_before):
                rows.append((family, pid, "DATE_REVISED", field, "", ""))
    return sorted(rows)


def _package(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["package", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_two_runs_give_the_section_6_changes_and_a_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = synthetic_extracts(tmp_path / "a", families=40, seed=7)
    config = write_config(tmp_path / "nis.toml")
    out = tmp_path / "out"
    assert run_command(MARCH, a, config, out, False) == 0
    march = _individuals(out, MARCH)
    b = tmp_path / "b"
    _source_b(a, b, march)
    capsys.readouterr()
    assert run_command(SEPTEMBER, b, config, out, False) == 0
    end_of_run = capsys.readouterr().out
    september = _individuals(out, SEPTEMBER)

    folder = out / LA / SEPTEMBER
    changes_path = folder / f"changes_{LA}_{SEPTEMBER}.csv"
    with open(changes_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["family_id", "person_id", "change", "field", "previous", "current"]
        written = [tuple(r) for r in reader]
    expected = _expected(march, september)
    assert written == expected
    # Every kind of change the two sources differ by is there.
    kinds = Counter(row[2] for row in written)
    assert {
        "JOINED",
        "LEFT",
        "FAMILY",
        "STATUS",
        "ROLE",
        "PROBLEM_ADDED",
        "IDENTIFIER_ADDED",
        "IDENTIFIER_REMOVED",
        "IDENTIFIER_CHANGED",
        "DATE_REVISED",
    } <= set(kinds)

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    march_file = out / LA / MARCH / f"nis_{LA}_{MARCH}_individuals.csv"
    assert manifest["contract_version"] == "2"
    assert manifest["previous"] == {
        "census_date": MARCH,
        "individuals_sha256": hashlib.sha256(march_file.read_bytes()).hexdigest(),
    }
    assert {e["change"]: e["rows"] for e in manifest["change_counts"]} == {
        e["change"]: kinds.get(e["change"], 0) for e in manifest["change_counts"]
    }
    # The end-of-run summary gives the same counts.
    shown = ", ".join(f"{e['change']} {e['rows']}" for e in manifest["change_counts"] if e["rows"])
    assert f"  changes since {MARCH}: {shown}\n" in end_of_run
    assert json.loads((out / LA / MARCH / "manifest.json").read_text())["previous"] is None
    assert (out / LA / MARCH / f"changes_{LA}_{MARCH}.csv").read_text() == (
        "family_id,person_id,change,field,previous,current\n"
    )

    # The package: the same bytes for an identical submission made by another run.
    code, stdout, _ = _package("--census", SEPTEMBER, "--out", str(out))
    package = folder / "transfer" / f"nis_{LA}_{SEPTEMBER}.zip"
    assert code == 0 and stdout.strip() == str(package)
    clear = package.read_bytes()
    twin = tmp_path / "twin"
    shutil.copytree(out / LA / MARCH, twin / LA / MARCH)
    assert run_command(SEPTEMBER, b, config, twin, False) == 0
    code, stdout, _ = _package("--census", SEPTEMBER, "--out", str(twin))
    assert code == 0
    assert Path(stdout.strip()).read_bytes() == clear

    # Encrypted: only the .zip.age is left, and it decrypts to the same zip.
    identity = x25519.Identity.generate()
    code, stdout, _ = _package(
        "--census", SEPTEMBER, "--out", str(out), "--recipient", str(identity.to_public())
    )
    assert code == 0 and stdout.strip() == f"{package}.age"
    assert sorted(p.name for p in (folder / "transfer").iterdir()) == [f"{package.name}.age"]
    assert decrypt(Path(f"{package}.age").read_bytes(), [identity]) == clear

    # The transfer folder does not make September look altered: a rerun is up to date.
    capsys.readouterr()
    assert run_command(SEPTEMBER, b, config, out, False) == 0
    assert f"{SEPTEMBER}: up to date" in capsys.readouterr().out


def test_the_period_summary_shows_the_change_counts() -> None:
    from flows.artifacts import period_markdown
    from flows.results import Outcome, PeriodResult

    counts = (("JOINED", 3), ("LEFT", 0), ("STATUS", 12))
    result = PeriodResult(
        SEPTEMBER, LA, Outcome.WRITTEN, previous_census=MARCH, change_counts=counts
    )
    markdown = period_markdown(result, "2025-04-01", _no_counts(), 0.0, 0.05)
    assert f"## Changes since {MARCH}\n\n| change | rows |\n|---|---:|\n" in markdown
    assert "| JOINED | 3 |\n| LEFT | 0 |\n| STATUS | 12 |\n" in markdown
    assert result.changes_line() == f"changes since {MARCH}: JOINED 3, STATUS 12"
    first = PeriodResult(MARCH, LA, Outcome.WRITTEN)
    assert "Changes since" not in period_markdown(first, "2024-10-01", _no_counts(), 0.0, 0.05)
    assert first.changes_line() == ""


def _no_counts():
    import pandas as pd

    return pd.DataFrame({"rows_read": [10], "quarantined": [0], "warned": [0]})
