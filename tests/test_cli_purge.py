"""``nis purge``: prints each path it removes (or would remove with --dry-run), removes exactly
those, keeps to the configured council, refuses a date that is not one, and is audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nis_pipeline.cli import app

LA, OTHER_LA = "E08000012", "E06000001"
AUDIT_BEFORE = '{"command":"run","exit_code":0}\n'


def _make(root: Path, relative: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    for la in (LA, OTHER_LA):
        for census in ("2024-09-30", "2025-03-31", "2025-09-30"):
            _make(root, f"{la}/{census}/manifest.json")
            _make(root, f"{la}/{census}/research_{la}_{census}.csv")
    _make(root, f"{LA}/2024-09-30.replaced-1/manifest.json")
    _make(root, f"{LA}/2025-03-31.failed-validation_report.xlsx")
    _make(root, f"{LA}/2024-09-30/transfer/nis_{LA}_2024-09-30.zip")
    (root / "audit.jsonl").write_text(AUDIT_BEFORE)
    return root


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["purge", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _last_audit(out: Path) -> dict:
    text = (out / "audit.jsonl").read_text()
    assert text.startswith(AUDIT_BEFORE)  # earlier lines untouched
    return json.loads(text.splitlines()[-1])


EXPECTED = [
    f"{LA}/2024-09-30",
    f"{LA}/2024-09-30.replaced-1",
    f"{LA}/2025-03-31",
    f"{LA}/2025-03-31.failed-validation_report.xlsx",
]


def test_dry_run_lists_exactly_and_removes_nothing(out: Path, tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(f'la_code = "{LA}"\n')
    before = _tree(out)
    code, stdout, err = _invoke(
        "--before", "2025-06-01", "--config", str(config), "--out", str(out), "--dry-run"
    )
    assert (code, err) == (0, "")
    listed = [line.removeprefix("would remove ") for line in stdout.splitlines()[:-1]]
    assert listed == [str(out / p) for p in EXPECTED]
    assert "nothing was removed" in stdout.splitlines()[-1]
    assert _tree(out) - {"audit.jsonl"} == before - {"audit.jsonl"}
    entry = _last_audit(out)
    assert (entry["command"], entry["la_code"], entry["exit_code"]) == ("purge", LA, 0)
    assert entry["dry_run"] is True and entry["before"] == "2025-06-01"
    assert entry["would_remove"] == EXPECTED and entry["counts"] == {"paths_to_remove": 4}
    assert (entry["census"], entry["councils"]) == ("2024-09-30/2025-03-31", [LA])


def test_real_run_removes_exactly_those_and_records_them(out: Path, tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(f'la_code = "{LA}"\n')
    before = _tree(out)
    code, stdout, err = _invoke(
        "--before", "2025-06-01", "--config", str(config), "--out", str(out)
    )
    assert (code, err) == (0, "")
    removed_lines = [line for line in stdout.splitlines() if line.startswith("removed /")]
    assert removed_lines == [f"removed {out / p}" for p in EXPECTED]
    gone = {p for p in before if any(p == e or p.startswith(e + "/") for e in EXPECTED)}
    assert _tree(out) == before - gone
    assert (out / OTHER_LA / "2024-09-30" / "manifest.json").exists()  # another council's
    entry = _last_audit(out)
    assert entry["removed"] == EXPECTED and entry["counts"] == {"paths_removed": 4}
    assert entry["dry_run"] is False and entry["outcome"] == "ok"


def test_without_a_council_every_la_folder(out: Path) -> None:
    code, stdout, _ = _invoke("--before", "2025-01-01", "--out", str(out))
    assert code == 0
    assert not (out / LA / "2024-09-30").exists() and not (out / OTHER_LA / "2024-09-30").exists()
    assert (out / LA / "2025-03-31").exists()
    entry = _last_audit(out)
    assert entry["removed"] == [
        f"{OTHER_LA}/2024-09-30",
        f"{LA}/2024-09-30",
        f"{LA}/2024-09-30.replaced-1",
    ]
    # Two councils: neither is the line's la_code; one census date, not a range.
    assert (entry["census"], entry["la_code"]) == ("2024-09-30", None)
    assert entry["councils"] == [OTHER_LA, LA]


def test_without_a_config_the_one_council_purged_is_the_lines_council(out: Path) -> None:
    import shutil

    shutil.rmtree(out / OTHER_LA)
    code, _, _ = _invoke("--before", "2025-06-01", "--out", str(out))
    assert code == 0
    entry = _last_audit(out)
    assert (entry["census"], entry["la_code"]) == ("2024-09-30/2025-03-31", LA)
    assert entry["councils"] == [LA]


def test_nothing_due_names_no_census_and_no_council(out: Path) -> None:
    code, stdout, _ = _invoke("--before", "2024-01-01", "--out", str(out))
    assert code == 0
    assert stdout == "removed 0 paths of census dates before 2024-01-01\n"
    entry = _last_audit(out)
    assert (entry["census"], entry["la_code"], entry["councils"]) == (None, None, [])


@pytest.mark.parametrize("before", ["2025-02-30", "next year", "01/06/2025", ""])
def test_a_date_that_is_not_one_is_exit_2_and_audited(out: Path, before: str) -> None:
    snapshot = _tree(out)
    code, stdout, err = _invoke("--before", before, "--out", str(out))
    assert code == 2 and stdout == ""
    [line] = err.splitlines()
    assert line.startswith("error: --before") and "YYYY-MM-DD" in line
    assert _tree(out) == snapshot
    entry = _last_audit(out)
    assert (entry["command"], entry["outcome"], entry["exit_code"]) == ("purge", "fatal", 2)
    assert entry["inputs"] == []


@pytest.mark.parametrize(
    ("before", "recorded", "said"),
    [
        ("2025-13-45 Jane Smith", "invalid-census-date", "--before the value given is not"),
        ("x" * 20_000, "invalid-census-date", "--before the value given is not"),
        ("2025-02-30", "2025-02-30", "--before '2025-02-30' is not"),
        ("31/06/2025", "invalid-census-date", "--before '31/06/2025' is not"),
        # An NHS number typed into the wrong field is digits and spaces, not a date's shape.
        ("943 476 5919", "invalid-census-date", "--before the value given is not"),
    ],
)
def test_what_was_typed_for_before_reaches_the_audit_log_only_as_a_date(
    out: Path, before: str, recorded: str, said: str
) -> None:
    # A name typed into the wrong field (or a paste of ten thousand characters) is neither
    # written to the audit log nor echoed; a date-like value is worth showing back.
    code, _, err = _invoke("--before", before, "--out", str(out))
    assert code == 2
    assert err.startswith(f"error: {said}") and "Smith" not in err and len(err) < 200
    assert _last_audit(out)["before"] == recorded
    assert "Smith" not in (out / "audit.jsonl").read_text(encoding="utf-8")


def test_a_link_out_of_out_is_skipped_and_said(out: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (out / LA / "2023-03-31").symlink_to(outside)
    code, _, err = _invoke("--before", "2025-01-01", "--out", str(out))
    assert code == 0
    assert f"skipped {out / LA / '2023-03-31'}: a symbolic link" in err
    assert (outside / "keep.txt").read_text() == "keep"
    assert _last_audit(out)["skipped"] == [f"{LA}/2023-03-31"]


def test_a_read_only_council_folder_is_exit_1_naming_each_path(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A council folder the purge may not write in (read-only, another user's) refuses the
    census lock file: each path listed is named as not removed, exit 1, audited as failed, never
    "failed unexpectedly" with an exception's name. (Tests run as root, whom chmod does not stop,
    so the operating system's refusal is made where the lock file is opened.)"""
    import errno

    import exports.submission

    def refuse(path: Path) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(exports.submission, "open_lock", refuse)
    config = tmp_path / "nis.toml"
    config.write_text(f'la_code = "{LA}"\n')
    before = _tree(out)
    code, stdout, err = _invoke(
        "--before", "2025-06-01", "--config", str(config), "--out", str(out)
    )
    assert code == 1
    assert "unexpectedly" not in err and "PermissionError" not in err
    assert err.splitlines() == [
        f"error: could not remove {out / p}: permission denied (the folder is read-only or "
        "another user's)"
        for p in EXPECTED
    ]
    assert stdout.splitlines()[-1] == "removed 0 paths of census dates before 2025-06-01"
    assert _tree(out) - {"audit.jsonl"} == before - {"audit.jsonl"}
    entry = _last_audit(out)
    assert (entry["outcome"], entry["exit_code"]) == ("failed", 1)
    assert entry["not_removed"] == EXPECTED and entry["removed"] == []
    assert entry["census"] == "2024-09-30/2025-03-31"  # what was due, though none went


def test_an_output_folder_that_does_not_exist_is_exit_2_and_not_made(tmp_path: Path) -> None:
    """A mistyped --out is not "removed 0 paths", exit 0: the purge that was due did not happen.
    It is one line, exit 2, and the folder is not created to hold an audit line."""
    nowhere = tmp_path / "submisions"
    code, stdout, err = _invoke("--before", "2025-06-01", "--out", str(nowhere))
    assert (code, stdout) == (2, "")
    assert err == f"error: the output folder {nowhere} does not exist\n"
    assert not nowhere.exists()
