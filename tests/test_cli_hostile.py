"""``nis run`` and ``nis backfill`` given hostile arguments: each is exit 2 with one line, before
Prefect starts or anything is written, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from extract_builders import write_extracts
from typer.testing import CliRunner

from nis_pipeline.cli import app


def _invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return result.exit_code, lines[0]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_extracts(tmp_path / "in")


@pytest.mark.parametrize(
    ("census", "says"),
    [
        ("0001-03-31", "0001-03-31 is outside the census dates the pipeline supports"),
        ("0001-01-01", "0001-01-01 is outside the census dates the pipeline supports"),
        ("9999-09-30", "9999-09-30 is outside the census dates the pipeline supports"),
        ("2030-03-31", "census date 2030-03-31 is after the extract date 2026-06-30"),
        ("2026-09-30", "census date 2026-09-30 is after the extract date 2026-06-30"),
        ("2026-13-31", "is not a valid calendar date"),
    ],
)
def test_run_with_an_unsupported_census_date(
    source: Path, tmp_path: Path, census: str, says: str
) -> None:
    config = tmp_path / "nis.toml"
    config.write_text("extract_date = 2026-06-30\n", encoding="utf-8")
    out = tmp_path / "out"
    code, line = _invoke("run", "--census", census, "--source", source, "--config", config,
                         "--out", out)  # fmt: skip
    assert code == 2
    assert line.startswith("error: ") and says in line, line
    # Nothing but the command's line in the audit log (spec section 8: whatever the outcome).
    assert [p.name for p in out.iterdir()] == ["audit.jsonl"]


def test_without_an_extract_date_today_is_the_limit(source: Path, tmp_path: Path) -> None:
    code, line = _invoke("run", "--census", "2199-09-30", "--source", source)
    assert code == 2 and "is after the extract date" in line


def test_backfill_to_a_census_after_the_extract_date(source: Path, tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text("extract_date = 2026-06-30\n", encoding="utf-8")
    code, line = _invoke("backfill", "--from", "2025-09-30", "--to", "2030-03-31", "--source",
                         source, "--config", config)  # fmt: skip
    assert code == 2 and "census date 2030-03-31 is after the extract date 2026-06-30" in line
    code, line = _invoke("backfill", "--from", "0001-03-31", "--to", "2025-09-30", "--source",
                         source, "--config", config)  # fmt: skip
    assert code == 2 and "outside the census dates" in line


def test_an_output_folder_that_is_a_link_is_refused(source: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    config = tmp_path / "nis.toml"
    config.write_text("extract_date = 2026-06-30\n", encoding="utf-8")
    code, line = _invoke("run", "--census", "2025-09-30", "--source", source, "--config", config,
                         "--out", tmp_path / "out")  # fmt: skip
    assert code == 2
    assert line == (
        f"error: the output folder {tmp_path / 'out'} is a symbolic link: give the real folder "
        "(nothing is written through a link)"
    )
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('la_code = "E08000012/.."', "la_code is not an ONS upper-tier authority code"),
        ('la_code = "../E08000012"', "la_code is not an ONS upper-tier authority code"),
        ('la_code = "E０8000012"', "la_code is not an ONS upper-tier authority code"),
        ('quarantine_threshold = "five"', "quarantine_threshold must be a number"),
        ("quarantine_threshold = 5", "quarantine_threshold must be at most 1.0"),
        ("census_lag_weeks = 1.5", "census_lag_weeks must be a whole number"),
        ('extract_date = "yesterday"', "extract_date must be a date written YYYY-MM-DD"),
        ("source = 5", "source must be a table"),
        ("colour = 1", "unknown setting 'colour'; the settings are: la_code, source,"),
    ],
)
def test_config_mistakes_in_the_configs_own_words(tmp_path: Path, toml: str, says: str) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(toml + "\n", encoding="utf-8")
    code, line = _invoke("run", "--census", "2025-09-30", "--config", config)
    assert code == 2
    assert line.startswith(f"error: config file {config}: ") and says in line, line
    assert "Input should" not in line  # pydantic's words


@pytest.mark.parametrize("make", ["folder", "latin-1", "binary"])
def test_unusable_config_files(tmp_path: Path, make: str) -> None:
    config = tmp_path / "nis.toml"
    if make == "folder":
        config.mkdir()
    elif make == "latin-1":
        config.write_bytes('la_code = "E08000012" # café\n'.encode("latin-1"))
    else:
        config.write_bytes(b"\x00\xff\xfe garbage")
    code, line = _invoke("validate", "--config", config)
    assert code == 2 and line.startswith(f"error: config file {config}")


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--census", "2025-09-30", "--source", "{source}"],
        ["backfill", "--from", "2025-03-31", "--to", "2025-09-30", "--source", "{source}"],
        ["research-extract", "--census", "2025-09-30", "--source", "{source}"],
        ["package", "--census", "2025-09-30"],
        ["purge", "--before", "2030-01-01"],
    ],
)
@pytest.mark.parametrize("kind", ["link", "file"])
def test_every_command_refuses_an_output_folder_that_is_a_link_or_a_file(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], kind: str
) -> None:
    """Nothing is written, removed or logged through a link (a purge through one removed the
    folders it pointed at) or beside a file; one line, exit 2."""
    monkeypatch.setenv("NIS_PSEUDONYM_KEY", "a-long-random-key-for-the-tests-only-0123456789")
    monkeypatch.setenv("NIS_EXTRACT_DATE", "2026-06-30")
    elsewhere = tmp_path / "shared"
    census = elsewhere / "E08000012" / "2025-09-30"
    census.mkdir(parents=True)
    (census / "manifest.json").write_text("{}")
    out = tmp_path / "out"
    if kind == "link":
        out.symlink_to(elsewhere)
    else:
        out.write_text("not a folder")
    args = [a.replace("{source}", str(source)) for a in command]
    code, line = _invoke(*args, "--out", out)
    assert code == 2
    if kind == "link":
        assert line.startswith(f"error: the output folder {out} is a symbolic link"), line
    else:
        assert line == f"error: the output folder {out} is a file, not a folder", line
    assert sorted(p.name for p in census.iterdir()) == ["manifest.json"]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["E08000012"]
    assert out.is_symlink() or out.read_text() == "not a folder"
