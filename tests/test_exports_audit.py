"""The audit log: one whole JSON line per record, appended (never rewritten), private, and safe
when several commands end at the same moment."""

from __future__ import annotations

import json
import multiprocessing
import os
import pwd
import re
import stat
from pathlib import Path

import pandas as pd
import pytest

import exports.audit as audit
from exports.audit import AUDIT_NAME, AuditRecord, append_audit, audit_entry, os_user

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _lines(out: Path) -> list[dict]:
    text = (out / AUDIT_NAME).read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_first_append_creates_a_private_folder_and_file(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    record = AuditRecord(command="purge", la_code="E08000012", exit_code=0)
    record.counts["paths_removed"] = 3
    record.details["before"] = "2030-01-01"
    written = append_audit(out, record)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(out / AUDIT_NAME).st_mode) == 0o600
    [line] = _lines(out)
    assert line == written
    assert list(line)[:11] == [
        "time",
        "user",
        "command",
        "census",
        "la_code",
        "flow_run_id",
        "outcome",
        "exit_code",
        "inputs",
        "outputs",
        "counts",
    ]
    assert ISO_UTC.match(line["time"])
    assert line["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert (line["command"], line["outcome"], line["exit_code"]) == ("purge", "ok", 0)
    assert line["counts"] == {"paths_removed": 3} and line["before"] == "2030-01-01"
    assert line["census"] is None and line["flow_run_id"] is None


def test_outcome_follows_the_exit_code_unless_given() -> None:
    entries = [
        audit_entry(AuditRecord("run", exit_code=code), "t", "u")["outcome"] for code in (0, 1, 2)
    ]
    assert entries == ["ok", "failed", "fatal"]
    crashed = AuditRecord("run", exit_code=1, outcome="crashed")
    assert audit_entry(crashed, "t", "u")["outcome"] == "crashed"
    # A detail can never pass itself off as one of the fixed keys.
    sneaky = AuditRecord("run", exit_code=0, details={"exit_code": 0, "user": "someone"})
    entry = audit_entry(sneaky, "t", "me")
    assert entry["user"] == "me"


def test_appends_never_rewrite_earlier_lines(tmp_path: Path) -> None:
    append_audit(tmp_path, AuditRecord("run", census="2025-03-31", exit_code=0))
    first = (tmp_path / AUDIT_NAME).read_bytes()
    append_audit(tmp_path, AuditRecord("backfill", census="2024-03-31/2025-03-31", exit_code=1))
    both = (tmp_path / AUDIT_NAME).read_bytes()
    assert both.startswith(first) and both.count(b"\n") == 2
    assert [e["command"] for e in _lines(tmp_path)] == ["run", "backfill"]


def test_a_value_with_a_line_break_stays_on_one_line(tmp_path: Path) -> None:
    append_audit(tmp_path, AuditRecord("run", details={"note": "a\nb\r\nc"}, exit_code=0))
    [line] = _lines(tmp_path)
    assert line["note"] == "a\nb\r\nc"


def test_a_short_write_is_completed_not_left_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls: list[int] = []

    def dribble(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))  # the kernel may accept fewer bytes than asked

    monkeypatch.setattr(audit.os, "write", dribble)
    append_audit(tmp_path, AuditRecord("research-extract", census="2025-03-31", exit_code=0))
    monkeypatch.undo()
    assert len(calls) > 5
    [line] = _lines(tmp_path)
    assert line["command"] == "research-extract"


def test_a_line_cut_by_a_crash_does_not_swallow_the_next(tmp_path: Path) -> None:
    append_audit(tmp_path, AuditRecord("run", exit_code=0))
    with open(tmp_path / AUDIT_NAME, "ab") as log:
        log.write(b'{"time":"2026-')  # a process killed part-way through its write
    append_audit(tmp_path, AuditRecord("purge", exit_code=0))
    lines = (tmp_path / AUDIT_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["command"] == "run"
    assert lines[1] == '{"time":"2026-'
    assert json.loads(lines[2])["command"] == "purge"


def test_an_audit_log_that_is_a_link_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("not ours\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / AUDIT_NAME).symlink_to(target)
    with pytest.raises(OSError):
        append_audit(out, AuditRecord("run", exit_code=0))
    assert target.read_text() == "not ours\n"


def _append_many(out: str, worker: int, n: int) -> None:
    padding = [f"w{worker}-{i:06d}" for i in range(3000)]  # about 36 KB a line
    for i in range(n):
        record = AuditRecord("run", census="2026-03-31", exit_code=0)
        record.details["writer"] = f"{worker}:{i}"
        record.details["padding"] = padding
        append_audit(Path(out), record)


def test_concurrent_appends_from_processes_never_interleave(tmp_path: Path) -> None:
    workers, each = 4, 25
    context = multiprocessing.get_context("fork")
    procs = [
        context.Process(target=_append_many, args=(str(tmp_path), w, each)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = _lines(tmp_path)  # every line parses: none was cut or interleaved
    assert len(lines) == workers * each
    assert {e["writer"] for e in lines} == {f"{w}:{i}" for w in range(workers) for i in range(each)}
    assert all(len(e["padding"]) == 3000 for e in lines)


def test_inputs_and_counts_from_validation_counts_or_a_manifest(tmp_path: Path) -> None:
    counts = pd.DataFrame(
        {
            "extract": ["families", "people"],
            "source": ["families.csv", "people.xlsx"],
            "sha256": ["a" * 64, "b" * 64],
            "rows_read": [10, 30],
            "quarantined": [1, 2],
            "warned": [0, 5],
        }
    )
    record = AuditRecord("research-extract")
    record.set_inputs(counts)
    assert record.inputs == [
        {"extract": "families", "source": "families.csv", "sha256": "a" * 64},
        {"extract": "people", "source": "people.xlsx", "sha256": "b" * 64},
    ]
    assert record.counts == {"rows_read": 40, "rows_quarantined": 3, "rows_warned": 5}

    from_manifest = AuditRecord("run")
    from_manifest.set_inputs(counts.to_dict("records"))
    assert from_manifest.inputs == record.inputs and from_manifest.counts == record.counts

    out = tmp_path / "out"
    (out / "E08000012" / "2025-03-31").mkdir(parents=True)
    path = out / "E08000012" / "2025-03-31" / "x.csv"
    path.write_bytes(b"abc")
    record.add_output(out, path, rows=1)
    assert record.outputs == [
        {
            "name": "E08000012/2025-03-31/x.csv",
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "rows": 1,
        }
    ]


def test_the_user_falls_back_when_the_system_has_no_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def nameless(uid: int) -> object:
        raise KeyError(uid)  # no passwd entry for the process's user id (some containers)

    monkeypatch.delenv("LOGNAME", raising=False)
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.setattr(audit.pwd, "getpwuid", nameless)
    assert os_user() == f"uid:{os.getuid()}"


def test_the_user_is_the_account_not_a_variable_anyone_can_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`LOGNAME=someone-else nis purge ...` must not put another person's name in the audit log:
    the user is the account of the process's user id."""
    import pwd

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "someone-else")
    assert os_user() == pwd.getpwuid(os.getuid()).pw_name != "someone-else"


def test_a_count_some_extracts_lack_is_not_totalled() -> None:
    # An older manifest's extracts without their warned counts: a sum of some would look whole.
    rows = [
        {"extract": "families", "source": "f.csv", "sha256": "a" * 64, "rows_read": 3},
        {"extract": "people", "source": "p.csv", "sha256": "b" * 64, "rows_read": 4},
    ]
    rows[0]["warned"] = 2
    record = AuditRecord("run")
    record.set_inputs(rows)
    assert record.counts == {"rows_read": 7}


def test_a_link_written_under_out_is_named_as_the_link(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "E08000012").mkdir(parents=True)
    target = tmp_path / "elsewhere.csv"
    target.write_bytes(b"abc")
    link = out / "E08000012" / "x.csv"
    link.symlink_to(target)
    assert audit.output_name(out, link) == "E08000012/x.csv"


def test_an_output_folder_that_is_a_link_gets_no_log_through_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.symlink_to(elsewhere)
    with pytest.raises(OSError, match="symbolic link"):
        append_audit(out, AuditRecord("run", exit_code=0))
    assert not (elsewhere / AUDIT_NAME).exists()


@pytest.mark.parametrize(
    ("typed", "recorded"),
    [
        ("2026-03-31", "2026-03-31"),
        ("2025-09-30/2026-03-31", "2025-09-30/2026-03-31"),
        ("latest", "latest"),
        ("2026-03-31" + "X" * 10_000, "invalid-census-date"),
        ("ZZMARKERNAME Smith", "invalid-census-date"),
        ("2025-09-30/Jane Doe", "2025-09-30/invalid-census-date"),
        ("a/b/c", "invalid-census-date"),
        (None, None),
    ],
)
def test_the_census_field_holds_a_census_dates_shape_or_says_it_did_not(
    tmp_path: Path, typed: str | None, recorded: str | None
) -> None:
    """What was typed for a census date (a deployment's parameter, a command's option) reaches
    the line only when it looks like one: never ten thousand characters, never a name."""
    entry = append_audit(tmp_path, AuditRecord("run", census=typed, exit_code=2))
    assert entry["census"] == recorded
    assert _lines(tmp_path)[-1]["census"] == recorded
