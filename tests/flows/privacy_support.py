"""The personal values of a synthetic people extract, and a scanner that looks for them in text and
in the bytes of files (SQLite databases, zip packages such as xlsx, JSON with escaped characters),
for the privacy tests."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from transforms.periods import Period, census_dates_between

IDENTIFIER_COLUMNS = ("nino", "upn", "nhs_number", "postcode")


def read_people(path: Path) -> tuple[list[dict[str, str]], list[str], str]:
    data = path.read_bytes()
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("cp1252"), "cp1252"
    reader = csv.DictReader(io.StringIO(text))
    return list(reader), list(reader.fieldnames or []), encoding


def inject_bad_identifiers(people_csv: Path) -> None:
    """Malformed identifiers and dates of birth on top of the generator's own defects."""
    rows, fields, encoding = read_people(people_csv)
    adults = [r for r in rows if r["role"] in ("MAIN_CARER", "OTHER_ADULT")][:8]
    for i, row in enumerate(adults):
        row["nino"] = f"QQ{123450 + i}Z"
        row["upn"] = f"X{987654321000 + i}"
        row["nhs_number"] = f"90{i}87{i}65{i}4"  # distinctive: no "1234567890" in Prefect's docs
        row["postcode"] = f"QX{i}Q {i}ZZZ"
        if i % 2:
            row["dob"] = f"31/02/19{80 + i}"
    adults[0]["forename"], adults[0]["surname"] = "Wilhelmina", "Featherstonehaugh"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    people_csv.write_bytes(buffer.getvalue().encode(encoding))


def _iso_and_uk(text: str) -> set[str]:
    """A date of birth as written, in ISO form and in UK form (both zero-padded)."""
    found = {text}
    uk = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    iso = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if uk:
        d, m, y = (int(g) for g in uk.groups())
        found |= {f"{y:04d}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y:04d}"}
    elif iso:
        y, m, d = (int(g) for g in iso.groups())
        found.add(f"{d:02d}/{m:02d}/{y:04d}")
    return found


def personal_values(people_csv: Path) -> dict[str, set[str]]:
    """name / dob / identifier -> every value of the extract, in the spellings a leak could take:
    dates of birth in ISO and UK form, identifiers as written and normalised (no spaces, upper
    case), postcodes also with one space before the inward code."""
    rows, _, _ = read_people(people_csv)
    values: dict[str, set[str]] = {"name": set(), "dob": set(), "identifier": set()}
    for row in rows:
        for column in ("forename", "surname"):
            if row.get(column, "").strip():
                values["name"].add(row[column].strip())
        for column in ("dob", "expected_dob"):
            dob = row.get(column, "").strip()
            if dob:
                values["dob"] |= _iso_and_uk(dob)
        for column in IDENTIFIER_COLUMNS:
            raw = row.get(column, "").strip()
            if raw:
                compact = re.sub(r"\s+", "", raw).upper()
                values["identifier"] |= {raw, compact}
                if column == "postcode" and len(compact) > 3:
                    values["identifier"].add(f"{compact[:-3]} {compact[-3:]}")
    return values


def run_dates(extract_date: str) -> set[str]:
    """Dates a run may print for its own reasons: census dates, period starts, the extract date,
    and the days the tests run on (timestamps)."""
    censuses = census_dates_between(date(2015, 1, 1), date(2030, 12, 31))
    today = date.today()
    days = {today - timedelta(days=1), today, today + timedelta(days=1)}
    return (
        {c.isoformat() for c in censuses}
        | {Period(c).start.isoformat() for c in censuses}
        | {extract_date}
        | {d.isoformat() for d in days}
    )


def _spellings(value: str) -> set[str]:
    """How a value can appear in a file: as it is, JSON-escaped (``\\u00e9``), XML-escaped."""
    escaped = json.dumps(value)[1:-1]
    xml = html.escape(value, quote=True)
    return {value, escaped, xml, xml.replace("&#x27;", "&apos;"), xml.replace("&#x27;", "&#39;")}


@dataclass(frozen=True)
class Leak:
    kind: str
    value: str
    where: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value!r} in {self.where}"


class Scanner:
    def __init__(self, values: dict[str, set[str]], allowed_dates: set[str]) -> None:
        self.names = {v for v in values["name"] if v}
        self.dobs = values["dob"] - allowed_dates
        self.identifiers = values["identifier"]
        # One regex per kind (names as whole words, case-sensitive as written).
        name_spellings = sorted({s for v in self.names for s in _spellings(v)}, key=len)[::-1]
        self._names = re.compile(
            r"(?<![\w'])(" + "|".join(re.escape(s) for s in name_spellings) + r")(?![\w'])"
        )
        self._spelled = {
            "date of birth": {s: v for v in self.dobs for s in _spellings(v)},
            "identifier": {s: v for v in self.identifiers for s in _spellings(v)},
        }

    def scan_text(self, text: str, where: str) -> list[Leak]:
        leaks: list[Leak] = []
        for match in self._names.finditer(text):
            leaks.append(Leak("name", match.group(1), where))
        for kind, spelled in self._spelled.items():
            for spelling, value in spelled.items():
                if spelling in text:
                    leaks.append(Leak(kind, value, where))
        return leaks

    def scan_bytes(self, data: bytes, where: str) -> list[Leak]:
        """A file's bytes: each member of a zip (xlsx, transfer package) on its own, anything else
        as UTF-8 (SQLite stores text as UTF-8; undecodable bytes are replaced, not dropped)."""
        if data[:4] == b"PK\x03\x04":
            leaks: list[Leak] = []
            with zipfile.ZipFile(io.BytesIO(data)) as package:
                for member in package.namelist():
                    leaks += self.scan_bytes(package.read(member), f"{where}!{member}")
            return leaks
        return self.scan_text(data.decode("utf-8", errors="replace"), where)

    def scan_files(self, paths: Iterable[Path]) -> list[Leak]:
        leaks: list[Leak] = []
        for path in paths:
            leaks += self.scan_bytes(path.read_bytes(), str(path))
        return leaks
