"""Entry point: ``write_synthetic`` writes the ten extracts (and, with defects, the ledger).

Each part of the data draws from its own random stream spawned from the seed, so the same seed
gives the same files, and adding defects leaves the clean rows that are kept as they were.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from schemas.models import EXTRACT_NAMES
from schemas.raw import FIRST_DATA_ROW
from synth import events
from synth.defects import Corrupter, Ledger
from synth.families import make_families
from synth.people import make_people
from synth.table import Table
from synth.writer import XLSX_MAX_ROWS, write_csv, write_parquet, write_xlsx

FORMATS = ("csv", "xlsx", "parquet")
LEDGER_NAME = "defects_ledger.csv"
# Left in a folder nis synth wrote, so a later run may replace its files: extract files without it
# are a council's own (a real extract must never be overwritten by invented people).
MARKER_NAME = ".nis-synthetic"
_MARKER_TEXT = "Written by nis synth: every person in these extracts is invented.\n"
LEDGER_COLUMNS = ("extract", "row", "column", "rule", "defect")
# With defects, these CSVs are written in other encodings the contract accepts.
DEFECT_ENCODINGS = {"people": "cp1252", "families": "utf-8-sig"}
MAX_DEFECT_RATE = 1.0
FORMAT_STREAM = 10  # the stream that picks which dates a CSV writes the UK way


@dataclass(frozen=True)
class SynthSummary:
    out: Path
    fmt: str
    families: int
    seed: int
    rows: dict[str, int]  # rows written per extract, in spec order
    ledger: Path | None  # the defects ledger, when defects were asked for
    defects: int = 0  # ledger rows
    seconds: float = 0.0
    encodings: dict[str, str] = field(default_factory=dict)  # CSV encodings other than UTF-8
    # With defects: the registry's rules no row was given, and why (rule code -> reason).
    not_generated: dict[str, str] = field(default_factory=dict)


def _streams(seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams, one per part of the data, all from the one seed."""
    return np.random.SeedSequence(seed).spawn(12)


def generate_tables(
    families: int, seed: int, defects: float = 0.0
) -> tuple[dict[str, Table], Ledger | None]:
    """The ten extracts in memory (and the ledger when ``defects`` > 0)."""
    streams = [np.random.default_rng(s) for s in _streams(seed)]
    family_table = make_families(streams[0], families)
    people = make_people(streams[1], family_table)
    households = events.Households(family_table, people)
    eligibility = events.make_eligibility(streams[2], households)
    attendance, exclusions = events.make_school(streams[3], households)
    tables = {
        "families": family_table,
        "people": people,
        "eligibility": eligibility,
        "school_attendance": attendance,
        "exclusions": exclusions,
        "offences": events.make_offences(streams[4], households),
        "asb_incidents": events.make_asb(streams[5], households),
        "domestic_abuse_incidents": events.make_domestic_abuse(streams[6], households, eligibility),
        "social_care_episodes": events.make_social_care(streams[7], households, eligibility),
        "employment_spells": events.make_employment(streams[8], households),
    }
    if defects <= 0:
        return tables, None
    return _corrupt(tables, streams[9], defects)


def _corrupt(
    tables: dict[str, Table], rng: np.random.Generator, rate: float
) -> tuple[dict[str, Table], Ledger]:
    people = tables["people"]
    corrupter = Corrupter(rng, rate, n_families=len(tables["families"]), n_people=len(people))
    stripped = corrupter.families(tables["families"])

    # Strip the corrupted families of everything that depends on them, and renumber the person
    # references to the rows that remain.
    keep_person = ~stripped[people.columns["_family"]]
    new_index = np.cumsum(keep_person) - 1
    out = {"families": tables["families"], "people": people.take(keep_person)}
    for name in EXTRACT_NAMES[2:]:
        table = tables[name]
        person = table.columns["_person"]
        keep = np.where(person >= 0, keep_person[np.maximum(person, 0)], True)
        if "_family" in table.columns:
            keep &= ~stripped[table.columns["_family"]]
        kept = table.take(keep)
        kept.columns["_person"] = np.where(
            kept.columns["_person"] >= 0, new_index[np.maximum(kept.columns["_person"], 0)], -1
        )
        out[name] = kept

    people = out["people"]
    referenced = np.zeros(len(people), dtype=bool)
    for name in EXTRACT_NAMES[2:]:
        person = out[name].columns["_person"]
        referenced[person[person >= 0]] = True
    identified = tables["families"].columns["date_identified"][people.columns["_family"]]
    corrupter.people(people, identified, referenced)
    for name in EXTRACT_NAMES[2:]:
        corrupter.events(out[name])
    return out, corrupter.finish()


def write_ledger(ledger: Ledger, path: Path) -> int:
    order = {name: i for i, name in enumerate(EXTRACT_NAMES)}
    rows = [
        (extract, int(r) + FIRST_DATA_ROW, column, rule, defect)
        for extract, positions, column, rule, defect in ledger.entries
        for r in positions.tolist()
    ]
    rows.sort(key=lambda e: (order[e[0]], e[1], e[3], e[2]))
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LEDGER_COLUMNS)
        writer.writerows(rows)
    return len(rows)


class NotSyntheticFolder(ValueError):
    """The folder holds extract files nis synth did not write."""


def _refuse_a_council_folder(out: Path) -> None:
    if not out.is_dir() or (out / MARKER_NAME).is_file():
        return
    extracts = sorted(
        p.name
        for p in out.iterdir()
        if p.is_file()
        and p.suffix.lower().lstrip(".") in FORMATS
        and p.stem.strip().casefold() in EXTRACT_NAMES
    )
    if extracts:
        shown = ", ".join(extracts[:3]) + (
            f" and {len(extracts) - 3} more" if len(extracts) > 3 else ""
        )
        raise NotSyntheticFolder(
            f"--out {out} already holds extract files that nis synth did not write ({shown}); "
            "synthetic extracts are never written over a council's own: choose another folder"
        )


def write_synthetic(
    out: Path, families: int, seed: int, fmt: str = "csv", defects: float = 0.0
) -> SynthSummary:
    """Write the ten extracts of ``families`` synthetic families to ``out`` as ``fmt``.

    With ``defects`` > 0, that share of each extract's rows is corrupted and
    ``out/defects_ledger.csv`` lists every corrupted cell. Extract files of any format and a
    ledger left in ``out`` by an earlier run are replaced, so the folder holds one set.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if families < 1:
        raise ValueError("families must be 1 or more")
    if seed < 0:
        raise ValueError("seed must be 0 or more")
    if not 0.0 <= defects <= MAX_DEFECT_RATE:
        raise ValueError(f"defects must be a share from 0 to {MAX_DEFECT_RATE}")
    _refuse_a_council_folder(out)
    began = time.perf_counter()
    tables, ledger = generate_tables(families, seed, defects)

    if fmt == "xlsx":
        # Check every sheet fits before writing any, so a too-large run leaves nothing behind.
        too_big = [n for n, t in tables.items() if len(t) + 1 > XLSX_MAX_ROWS]
        if too_big:
            raise ValueError(
                f"{', '.join(too_big)}: more rows than an xlsx sheet holds; use csv or parquet"
            )

    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_NAME).write_text(_MARKER_TEXT, encoding="utf-8")
    for name in EXTRACT_NAMES:
        for suffix in FORMATS:
            (out / f"{name}.{suffix}").unlink(missing_ok=True)
    (out / LEDGER_NAME).unlink(missing_ok=True)

    format_rng = np.random.default_rng(_streams(seed)[FORMAT_STREAM])
    encodings = DEFECT_ENCODINGS if (ledger is not None and fmt == "csv") else {}
    for name in EXTRACT_NAMES:
        table = tables[name]
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(table, path, format_rng, encodings.get(name, "utf-8"))
        elif fmt == "parquet":
            write_parquet(table, path)
        else:
            write_xlsx(table, path)

    ledger_path = None
    n_defects = 0
    if ledger is not None:
        ledger_path = out / LEDGER_NAME
        n_defects = write_ledger(ledger, ledger_path)
    return SynthSummary(
        out=out,
        fmt=fmt,
        families=families,
        seed=seed,
        rows={name: len(tables[name]) for name in EXTRACT_NAMES},
        ledger=ledger_path,
        defects=n_defects,
        seconds=time.perf_counter() - began,
        encodings=dict(encodings),
        not_generated=dict(ledger.not_generated) if ledger is not None else {},
    )
