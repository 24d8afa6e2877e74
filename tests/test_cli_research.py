"""``nis research-extract``: the section 7 file from the extracts, with the key from the environment
only (never the config file); exit 2 with one line naming ``NIS_PSEUDONYM_KEY`` without it; exit 1
over the quarantine threshold; one audit line per command; the key printed nowhere."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nis_pipeline.cli import app
from schemas.outputs import RESEARCH_COLUMNS, RESEARCH_FORBIDDEN_COLUMNS
from synth.generate import write_synthetic

REPO = Path(__file__).resolve().parents[1]
LA = "E08000012"
CENSUS = "2025-03-31"
KEY = "k3y-never-printed-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
RESEARCH = f"{LA}/{CENSUS}/research_{LA}_{CENSUS}.csv"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("research") / "extracts"
    write_synthetic(folder, families=40, seed=21)
    return folder


def _config(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(["extract_date = 2026-10-31", *lines]) + "\n", encoding="utf-8")
    return path


def _invoke(args: list[str], key: str | None = KEY) -> tuple[int, str, str]:
    env = {"NIS_PSEUDONYM_KEY": key}
    result = CliRunner().invoke(app, ["research-extract", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _audit(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]


def _files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def _hmac(message: str) -> str:
    return hmac.new(KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def _month(dob: str) -> str:
    """YYYY-MM of an ISO or UK date as the synthetic extracts write them; empty when none."""
    if "/" in dob:
        _, month, year = dob.split("/")
        return f"{year}-{int(month):02d}"
    return dob[:7]


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_without_a_key_exit_2_naming_the_variable_and_nothing_written(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for key in (None, "", "   "):
        code, stdout, err = _invoke(
            ["--census", CENSUS, "--source", str(source), "--out", str(out)], key
        )
        assert code == 2
        line = _one_error(err)
        assert "NIS_PSEUDONYM_KEY" in line and "pseudonym_secret" in line
    assert _files(out) == {"audit.jsonl"}
    entries = _audit(out)
    assert len(entries) == 3
    assert {(e["command"], e["outcome"], e["exit_code"]) for e in entries} == {
        ("research-extract", "fatal", 2)
    }
    # It read nothing, yet the inputs it was pointed at are named by hash.
    assert len(entries[0]["inputs"]) == 10 and entries[0]["census"] == CENSUS


def test_a_key_in_the_config_file_is_refused_without_echoing_it(
    source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for line in (
        'pseudonym_key = "s3cr3t-in-the-file"',
        'NIS_PSEUDONYM_KEY = "s3cr3t-in-the-file"',
        '[research]\npseudonym_key = "s3cr3t-in-the-file"',
        'pseudonym_secret = "s3cr3t In The File!"',
    ):
        config = _config(tmp_path / "nis.toml", line)
        code, stdout, err = _invoke(
            [
                "--census",
                CENSUS,
                "--source",
                str(source),
                "--config",
                str(config),
                "--out",
                str(out),
            ]
        )
        assert code == 2
        message = _one_error(err)
        assert "s3cr3t" not in message.lower() and "s3cr3t" not in stdout.lower()
        assert "NIS_PSEUDONYM_KEY" in message or "Prefect Secret block" in message
        assert str(config) in message
    assert "s3cr3t" not in (out / "audit.jsonl").read_text().lower()


def test_writes_the_section_7_file_and_one_audit_line(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = _config(tmp_path / "nis.toml")
    code, stdout, err = _invoke(
        ["--census", CENSUS, "--source", str(source), "--config", str(config), "--out", str(out)]
    )
    assert code == 0, err
    assert f"{CENSUS}: research extract written - {out / RESEARCH}" in stdout
    assert _files(out) == {RESEARCH, "audit.jsonl"}

    table = pd.read_csv(out / RESEARCH, dtype="str", keep_default_na=False)
    assert list(table.columns) == RESEARCH_COLUMNS
    assert not set(RESEARCH_FORBIDDEN_COLUMNS) & set(table.columns)
    assert table["person_pseudonym"].tolist() == sorted(table["person_pseudonym"])
    # Pseudonyms are the HMACs of this council's person and family ids from the extracts.
    with open(source / "people.csv", encoding="utf-8") as handle:
        people = list(csv.DictReader(handle))
    by_pseudonym = {_hmac(f"{LA}:person:{p['person_id']}"): p for p in people}
    assert set(table["person_pseudonym"]) <= set(by_pseudonym)
    for row in table.head(15).itertuples():
        person = by_pseudonym[row.person_pseudonym]
        assert row.family_pseudonym == _hmac(f"{LA}:family:{person['family_id']}")
        assert row.dob_month == _month(person["dob"])
        compact = person["postcode"].replace(" ", "").upper()
        assert row.postcode_sector == (f"{compact[:-3]} {compact[-3]}" if compact else "")

    [entry] = _audit(out)
    digest = hashlib.sha256((out / RESEARCH).read_bytes()).hexdigest()
    assert entry["outputs"] == [{"name": RESEARCH, "sha256": digest, "rows": len(table)}]
    assert (entry["command"], entry["census"], entry["la_code"]) == (
        "research-extract",
        CENSUS,
        LA,
    )
    assert (entry["outcome"], entry["exit_code"], entry["flow_run_id"]) == ("ok", 0, None)
    assert entry["key_source"] == "environment" and entry["research_file"] == "written"
    assert entry["counts"]["fpd_people"] == entry["counts"]["research_rows"] == len(table)
    assert {i["extract"] for i in entry["inputs"]} >= {"families", "people"}
    people_hash = hashlib.sha256((source / "people.csv").read_bytes()).hexdigest()
    assert {"extract": "people", "source": "people.csv", "sha256": people_hash} in entry["inputs"]
    for text in (stdout, err, (out / "audit.jsonl").read_text(), (out / RESEARCH).read_text()):
        assert KEY not in text

    # The same inputs and key again: the same bytes, left as they are.
    code, stdout, _ = _invoke(
        ["--census", CENSUS, "--source", str(source), "--config", str(config), "--out", str(out)]
    )
    assert code == 0 and "research extract unchanged" in stdout
    assert [e["research_file"] for e in _audit(out)] == ["written", "unchanged"]


def test_over_the_threshold_exit_1_and_no_file(tmp_path: Path) -> None:
    source = tmp_path / "defective"
    write_synthetic(source, families=40, seed=4, defects=0.2)
    out = tmp_path / "out"
    config = _config(tmp_path / "nis.toml", "quarantine_threshold = 0.01")
    code, stdout, err = _invoke(
        ["--census", CENSUS, "--source", str(source), "--config", str(config), "--out", str(out)]
    )
    assert code == 1
    line = _one_error(err.replace(_short_key_warning(err), ""))
    assert "above the threshold 1.0%" in line and "no research extract written" in line
    assert "top rules:" in stdout
    assert _files(out) == {"audit.jsonl"}
    [entry] = _audit(out)
    assert (entry["outcome"], entry["exit_code"]) == ("failed", 1)
    assert entry["counts"]["rows_quarantined"] > 0 and entry["outputs"] == []


def _short_key_warning(err: str) -> str:
    return "".join(line + "\n" for line in err.splitlines() if line.startswith("warning: "))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--census", "2025-03-30"], "2024-09-30"),  # names the nearest census dates
        (["--census", CENSUS, "--source", "/nonexistent/folder"], "source folder does not exist"),
    ],
)
def test_a_users_mistake_is_one_line_exit_2(
    source: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    if "--source" not in args:
        args = [*args, "--source", str(source)]
    code, _, err = _invoke([*args, "--out", str(tmp_path / "out")])
    assert code == 2
    assert expected in _one_error(err)


def test_a_census_date_after_the_extract_date_is_refused_before_anything_is_read(
    source: Path, tmp_path: Path
) -> None:
    """As nis run refuses it: the period had not ended when the extracts were taken, so its
    "at census" measures would describe days the extracts cannot."""
    out = tmp_path / "out"
    config = _config(tmp_path / "nis.toml")  # extract_date = 2026-10-31
    args = ["--census", "2027-03-31", "--source", str(source), "--config", str(config)]
    code, stdout, err = _invoke([*args, "--out", str(out)])
    assert code == 2
    assert _one_error(err) == (
        "error: census date 2027-03-31 is after the extract date 2026-10-31: that period had not "
        "ended when the extracts were taken (set extract_date in the config when the extracts "
        "are newer than today)"
    )
    assert stdout == ""
    assert _files(out) == {"audit.jsonl"}
    [line] = _audit(out)
    assert (line["census"], line["outcome"], line["exit_code"]) == ("2027-03-31", "fatal", 2)
    # The last census date not after it is still written.
    code, _, _ = _invoke(["--census", "2026-09-30", *args[2:], "--out", str(out)])
    assert code == 0
    assert (out / LA / "2026-09-30" / f"research_{LA}_2026-09-30.csv").is_file()


def test_a_short_key_works_with_a_warning(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = _invoke(["--census", CENSUS, "--source", str(source), "--out", str(out)], "k")
    assert code == 0
    assert "shorter than 32 characters" in _short_key_warning(err)
    assert (out / RESEARCH).exists()


def test_the_command_line_of_the_issue_in_a_subprocess(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "OUT"

    def nis(*args: str, key: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "NIS_PSEUDONYM_KEY"}
        if key is not None:
            env["NIS_PSEUDONYM_KEY"] = key
        env["PYTHONPATH"] = str(REPO)
        return subprocess.run(
            [sys.executable, "-m", "nis_pipeline.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=300,
            check=False,
        )

    done = nis(
        "research-extract", "--census", CENSUS, "--source", str(source), "--out", str(out), key="k"
    )
    assert done.returncode == 0, done.stderr
    assert (out / RESEARCH).is_file()
    missing = nis(
        "research-extract", "--census", CENSUS, "--source", str(source), "--out", str(out), key=None
    )
    assert missing.returncode == 2
    assert "NIS_PSEUDONYM_KEY" in _one_error(missing.stderr)
    before = _files(out)
    dry = nis("purge", "--before", "2030-01-01", "--out", str(out), "--dry-run", key=None)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {out / LA / CENSUS}" in dry.stdout
    assert _files(out) == before
    assert [e["command"] for e in _audit(out)] == ["research-extract", "research-extract", "purge"]


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_council_folder_that_is_a_link_or_a_file_is_exit_2_and_nothing_written(
    source: Path, tmp_path: Path, kind: str
) -> None:
    """README: nothing is written through a symbolic link, and an output folder that is a link
    or a file is exit 2 with one line. The council folder under OUT is one: a link there would
    put the research extract wherever it points (a shared or public folder)."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    if kind == "link":
        (out / LA).symlink_to(elsewhere)
    else:
        (out / LA).write_text("x")
    code, _, err = _invoke(["--census", CENSUS, "--source", str(source), "--out", str(out)])
    expected = "is a symbolic link" if kind == "link" else "is a file, not a folder"
    assert code == 2, err
    line = _one_error(err)
    assert f"the LA folder {out / LA} {expected}" in line
    assert list(elsewhere.rglob("*")) == []
    assert _files(out) == {"audit.jsonl"} | ({LA} if kind == "file" else set())
    entry = _audit(out)[-1]
    assert (entry["command"], entry["exit_code"], entry["outputs"]) == ("research-extract", 2, [])


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_census_folder_that_is_a_link_or_a_file_is_exit_2_and_kept(
    source: Path, tmp_path: Path, kind: str
) -> None:
    """README: a census folder under OUT that is a link or a file, research-extract refuses
    with 2. A file there was exit 1 ("failed"), as if the work had run and failed."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / LA).mkdir(parents=True)
    elsewhere.mkdir()
    if kind == "link":
        (out / LA / CENSUS).symlink_to(elsewhere)
    else:
        (out / LA / CENSUS).write_text("x")
    code, _, err = _invoke(["--census", CENSUS, "--source", str(source), "--out", str(out)])
    expected = "is a symbolic link" if kind == "link" else "is a file, not a folder"
    assert code == 2, err
    assert f"the census folder {out / LA / CENSUS} {expected}" in _one_error(err)
    assert list(elsewhere.rglob("*")) == []
    if kind == "file":
        assert (out / LA / CENSUS).read_text() == "x"
    assert _audit(out)[-1]["exit_code"] == 2


def test_a_full_disk_is_exit_1_in_plain_words_and_nothing_left(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is said as every other command says it ("no space left on the device"), exit
    1, and leaves no staged file in the census folder."""
    import errno

    import exports.research

    def full(table: pd.DataFrame, path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(exports.research, "write_table_csv", full)
    out = tmp_path / "out"
    code, _, err = _invoke(["--census", CENSUS, "--source", str(source), "--out", str(out)])
    assert code == 1
    assert _one_error(err) == (
        f"error: cannot write the research extract under {out / LA}: no space left on the device"
    )
    assert _files(out) == {"audit.jsonl"}


def test_a_missing_secret_block_is_one_line_with_prefect_left_to_itself(
    source: Path, tmp_path: Path
) -> None:
    """No server configured, telemetry not switched off by the caller, a fresh Prefect home:
    Prefect's own temporary server, started for the lookup, printed a telemetry traceback
    ("database is locked") above the one line until the command set Prefect's defaults quiet."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "NIS_")) and k != "DO_NOT_TRACK"
    }
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PYTHONPATH": str(REPO)}
    config = _config(tmp_path / "nis.toml", 'pseudonym_secret = "no-such-block"')
    done = subprocess.run(
        [sys.executable, "-m", "nis_pipeline.cli", "research-extract", "--census", CENSUS,
         "--source", str(source), "--config", str(config), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert _one_error(done.stderr) == (
        "error: there is no Prefect Secret block named 'no-such-block' (pseudonym_secret in the "
        "config): set the environment variable NIS_PSEUDONYM_KEY"
    )
