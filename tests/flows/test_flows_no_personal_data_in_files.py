"""Nothing personal in any file the pipeline writes, other than the submission CSVs and workbook
(which must hold identifiers): after validate, run, backfill, research-extract and purge on
synthetic extracts full of bad identifiers, no name, date of birth (ISO or UK form), NINO, UPN,
NHS number or postcode of the inputs appears in the audit log, validation reports (their XML),
statistics, manifests, research extracts, changes files, the terminal, the log records, or
anywhere under Prefect's home and its database (scanned as bytes)."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from flows_support import EXTRACT_DATE, LA, synthetic_extracts, write_config
from privacy_support import Scanner, inject_bad_identifiers, personal_values, run_dates

from nis_pipeline.cli import app

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

KEY = "a-research-key-for-the-privacy-test-0123456789"
# The files that carry identifiers by design (spec section 5), wherever they are (census folders,
# folders kept aside, transfer packages of them).
SUBMISSION_FILE = re.compile(
    r"nis_E\d{8}_\d{4}-\d{2}-\d{2}(_individuals\.csv|_fpd\.csv|\.xlsx|\.zip(\.age)?)"
)


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _files(*roots: Path) -> list[Path]:
    found: set[Path] = set()
    for root in roots:
        if root.is_file():
            found.add(root)
        elif root.is_dir():
            found |= {p for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    return sorted(found)


def _prefect_database() -> Path:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    assert url and url.startswith("sqlite"), "the harness runs on SQLite"
    return Path(url.split(":///", 1)[1])


def test_the_scanner_finds_what_is_planted(tmp_path: Path) -> None:
    """The scan can fail: a value hidden in each kind of file is found."""
    values = {
        "name": {"Siân", "O'Brien", "Lee"},
        "dob": {"1985-05-20", "20/05/1985"},
        "identifier": {"AB123456C", "L18 1AB"},
    }
    scanner = Scanner(values, allowed_dates=set())
    db = tmp_path / "prefect.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE log (message TEXT)")
        connection.execute("INSERT INTO log VALUES (?)", ('{"msg": "Si\\u00e2n"}',))
    book = tmp_path / "report.xlsx"
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("xl/sharedStrings.xml", "<si><t>O&apos;Brien</t></si>")
    (tmp_path / "audit.jsonl").write_text('{"x":"born 20/05/1985"}\n')
    (tmp_path / "stats.csv").write_text("table,count\nL18 1AB,3\n")
    (tmp_path / "clean.txt").write_text("Leeds, Fleetlee, lee, AB123456, 1985-05-2\n")
    found = {(leak.kind, leak.value, Path(leak.where.split("!")[0]).name) for leak in
             scanner.scan_files(_files(tmp_path))}  # fmt: skip
    assert found == {
        ("name", "Si\\u00e2n", "prefect.db"),
        ("name", "O&apos;Brien", "report.xlsx"),
        ("date of birth", "20/05/1985", "audit.jsonl"),
        ("identifier", "L18 1AB", "stats.csv"),
    }


def test_no_personal_value_in_any_file_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # anything written to the working folder is scanned too
    monkeypatch.setenv("NIS_PSEUDONYM_KEY", KEY)
    source = synthetic_extracts(tmp_path / "extracts", families=50, seed=9, defects=0.05)
    inject_bad_identifiers(source / "people.csv")
    values = personal_values(source / "people.csv")
    assert len(values["name"]) > 30 and len(values["identifier"]) > 50 and len(values["dob"]) > 60
    config = write_config(tmp_path / "nis.toml", threshold=1.0)
    out, reports = tmp_path / "OUT", tmp_path / "reports"
    common = ("--source", str(source), "--config", str(config))

    commands = [
        ["validate", *common, "--report", str(reports / "validation_report.xlsx")],
        ["run", "--census", "2026-03-31", *common, "--out", str(out)],
        ["backfill", "--from", "2025-03-31", "--to", "2025-09-30", *common, "--out", str(out)],
        ["research-extract", "--census", "2026-03-31", *common, "--out", str(out)],
        ["research-extract", "--census", "2025-09-30", *common, "--out", str(out)],
        ["run", "--census", "2026-03-31", *common, "--out", str(out), "--replace"],
        [
            "purge",
            "--before",
            "2030-01-01",
            "--config",
            str(config),
            "--out",
            str(out),
            "--dry-run",
        ],
        ["purge", "--before", "2025-04-01", "--config", str(config), "--out", str(out)],
    ]
    catcher = _Everything()
    for name in ("", "prefect"):
        logging.getLogger(name).addHandler(catcher)
    try:
        codes = [app(args, standalone_mode=False) or 0 for args in commands]
    finally:
        for name in ("", "prefect"):
            logging.getLogger(name).removeHandler(catcher)
    printed = capsys.readouterr()
    assert codes == [0] * len(commands), printed.err

    # What is scanned: every file written, and the harness's Prefect home and database.
    prefect_home = Path(os.environ["PREFECT_HOME"])
    database = _prefect_database()
    everything = _files(tmp_path, prefect_home, database.parent)
    scanned = [
        p for p in everything if not SUBMISSION_FILE.fullmatch(p.name) and source not in p.parents
    ]
    names = {p.name for p in scanned}
    assert {
        "audit.jsonl",
        "validation_report.xlsx",
        "manifest.json",
        f"statistics_{LA}_2026-03-31.csv",
        f"research_{LA}_2026-03-31.csv",
        f"research_{LA}_2025-09-30.csv",
        database.name,
    } <= names, sorted(names)
    assert (out / LA / "2026-03-31.replaced-1" / "manifest.json").exists()
    assert not (out / LA / "2025-03-31").exists()  # purged, after its files were written
    db_bytes = database.read_bytes() + b"".join(
        p.read_bytes() for p in database.parent.glob(database.name + "-*")
    )
    assert f"nis-{LA}-2026-03-31".encode() in db_bytes  # this run's records are in the scan
    assert len((out / "audit.jsonl").read_text().splitlines()) == 7  # validate is not audited

    scanner = Scanner(values, run_dates(EXTRACT_DATE))
    leaks = scanner.scan_files(scanned)
    leaks += scanner.scan_text(printed.out, "stdout") + scanner.scan_text(printed.err, "stderr")
    leaks += scanner.scan_text("\n".join(catcher.lines), "log records")
    assert len(catcher.lines) > 50 and "research extract written" in printed.out
    assert not leaks, "\n".join(sorted({str(leak) for leak in leaks}))
