"""``nis package``: exit 0 printing the path written; exit 2 with one line (no traceback) for a
missing, failed or altered submission, a bad recipient, or an OUT holding several councils
without a config naming one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exports_builders import (
    CENSUS,
    LA,
    sample_counts,
    sample_findings,
    sample_tables,
    statistics_of,
)
from pyrage import x25519
from typer.testing import CliRunner

from exports.submission import write_failed_run_report, write_submission
from nis_pipeline.cli import app
from transforms.changes import no_changes
from transforms.periods import Period

C = CENSUS.isoformat()
OTHER_LA = "E06000001"


def _submit(out: Path, la_code: str = LA) -> Path:
    tables = sample_tables()
    if la_code != LA:
        tables.individuals["la_code"] = la_code
        tables.fpd["la_code"] = la_code
    return write_submission(
        out,
        la_code,
        Period(CENSUS),
        tables,
        statistics_of(tables),
        sample_findings(),
        sample_counts(),
        changes=no_changes(),
        previous=None,
    ).folder


def _package(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["package", *[str(a) for a in args]])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _refused(*args: str | Path) -> str:
    code, stdout, stderr = _package(*args)
    assert code == 2 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_package_prints_the_path_written(tmp_path: Path) -> None:
    folder = _submit(tmp_path)
    code, stdout, stderr = _package("--census", C, "--out", tmp_path)
    assert (code, stderr) == (0, "")
    assert stdout == f"{folder / 'transfer' / f'nis_{LA}_{C}.zip'}\n"
    key = str(x25519.Identity.generate().to_public())
    code, stdout, _ = _package("--census", C, "--out", tmp_path, "--recipient", key)
    assert code == 0 and stdout.strip().endswith(f"nis_{LA}_{C}.zip.age")


def test_a_missing_census_folder_exits_2(tmp_path: Path) -> None:
    _submit(tmp_path)
    line = _refused("--census", "2026-03-31", "--out", tmp_path)
    assert "does not exist" in line and "2026-03-31" in line


def test_a_failed_run_exits_2(tmp_path: Path) -> None:
    write_failed_run_report(tmp_path, LA, Period(CENSUS), sample_findings(), sample_counts())
    assert "its run failed" in _refused("--census", C, "--out", tmp_path)


def test_an_altered_submission_exits_2_naming_the_file(tmp_path: Path) -> None:
    folder = _submit(tmp_path)
    statistics = folder / f"statistics_{LA}_{C}.csv"
    statistics.write_text(statistics.read_text().replace("[c]", "3"))
    line = _refused("--census", C, "--out", tmp_path)
    assert line.startswith(f"error: statistics_{LA}_{C}.csv in ") and "altered" in line
    assert not (folder / "transfer" / f"nis_{LA}_{C}.zip").exists()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--census", "2025-09-29"], "is not a census date"),
        (["--census", C, "--recipient", "age1bad"], "not a valid age public key"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], reason: str) -> None:
    _submit(tmp_path)
    assert reason in _refused(*args, "--out", tmp_path)


def test_several_councils_need_a_config_naming_one(tmp_path: Path) -> None:
    _submit(tmp_path)
    _submit(tmp_path, OTHER_LA)
    assert "--config" in _refused("--census", C, "--out", tmp_path)
    config = tmp_path / "nis.toml"
    config.write_text(f'la_code = "{OTHER_LA}"\n', encoding="utf-8")
    code, stdout, _ = _package("--census", C, "--out", tmp_path, "--config", config)
    assert code == 0 and f"/{OTHER_LA}/{C}/transfer/" in stdout


def test_an_empty_out_exits_2(tmp_path: Path) -> None:
    assert "holds no council" in _refused("--census", C, "--out", tmp_path)
    assert "does not exist" in _refused("--census", C, "--out", tmp_path / "nowhere")
    # Said not to exist, it is not made to exist for the audit line (a mistyped --out left a
    # new folder holding only audit.jsonl)
    assert not (tmp_path / "nowhere").exists()


def _audit_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]


def test_the_audit_line_names_the_council_found_under_out(tmp_path: Path) -> None:
    """With no config naming the council, the package's audit line names the one council
    folder under OUT, whether it packs or refuses; with two councils there it names none."""
    folder = _submit(tmp_path)
    assert _package("--census", C, "--out", tmp_path)[0] == 0
    statistics = folder / f"statistics_{LA}_{C}.csv"
    statistics.write_text(statistics.read_text().replace("[c]", "3"))
    _refused("--census", C, "--out", tmp_path)
    _submit(tmp_path, OTHER_LA)
    _refused("--census", C, "--out", tmp_path)
    lines = _audit_lines(tmp_path)
    assert [(e["command"], e["census"], e["outcome"], e["la_code"]) for e in lines] == [
        ("package", C, "ok", LA),
        ("package", C, "fatal", LA),
        ("package", C, "fatal", None),
    ]


def test_a_disk_that_refuses_the_write_is_exit_1_in_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: a full or read-only disk is exit 1 (the work ran and failed), not 2 (a mistake in
    the arguments), and said in plain words. (Tests run as root, whom chmod does not stop, so the
    refusal is made where the transfer folder is created.)"""
    import errno

    import exports.package

    folder = _submit(tmp_path)

    def read_only(path: Path) -> None:
        raise OSError(errno.EROFS, "Read-only file system")  # a write names no file

    monkeypatch.setattr(exports.package, "make_private_dir", read_only)
    code, stdout, stderr = _package("--census", C, "--out", tmp_path)
    assert (code, stdout) == (1, "")
    assert stderr == (
        f"error: cannot write the package in {folder / 'transfer'}: the file system is read-only\n"
    )
    assert _audit_lines(tmp_path)[-1]["outcome"] == "failed"
