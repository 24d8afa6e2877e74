"""Validate the ten extracts together: parse, run the pandera models lazily, apply the rules
that need another extract or the extract date, quarantine error rows with the rows that depend
on them, and blank identifiers that only earned a warning.

Nothing vanishes: every row that does not reach the clean frames has at least one finding, and
every finding carries a rule code, the source row number, the record's key and a fixed message.
Failure values from pandera are dropped on the spot: they are personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa

from extracts.raw import RawExtract
from nis_pipeline.settings import EXTRACT_NAMES
from schemas.identifiers import format_postcode
from schemas.models import MODELS, RECORD_KEYS
from schemas.parsing import parse_extract
from schemas.rules import FINDING_COLUMNS, RULES, Severity, empty_findings
from transforms.keys import isin as keys_in

# pandera's built-in check names -> our rule codes (custom checks are named "CODE:column").
_BUILTIN_CHECKS = {
    "not_nullable": "E101",
    "field_uniqueness": "E102",
    "multiple_fields_uniqueness": "E102",
    "isin": "E105",
    "str_matches": "E110",
    "greater_than_or_equal_to": "E109",
}
# A cell that failed parsing is reported once, under the parse rule, not again as "missing".
_PARSE_RULES = ("E103", "E104", "E109", "E126")
# Which identifier column each warning blanks.
_WARNING_COLUMNS = {"W201": "nino", "W202": "upn", "W203": "nhs_number", "W204": "postcode"}
# Extracts whose rows hang off a person, and those that hang off a family.
_PERSON_EXTRACTS = tuple(
    n for n in EXTRACT_NAMES if n != "people" and "person_id" in RECORD_KEYS[n]
)
_FAMILY_EXTRACTS = tuple(
    n for n in EXTRACT_NAMES if n != "families" and "family_id" in RECORD_KEYS[n]
)


@dataclass(frozen=True)
class ValidationResult:
    clean: dict[str, pd.DataFrame]
    findings: pd.DataFrame  # FINDING_COLUMNS, sorted by extract (spec order), row, rule
    counts: pd.DataFrame  # extract, source, sha256, rows_read, quarantined, warned

    @property
    def people_quarantined_share(self) -> float:
        people = self.counts.loc[self.counts["extract"] == "people"]
        read = int(people["rows_read"].sum())
        return int(people["quarantined"].sum()) / read if read else 0.0

    @property
    def la_codes(self) -> list[str]:
        return sorted(self.clean["families"]["la_code"].dropna().unique().tolist())

    @property
    def la_code(self) -> str | None:
        """The LA of the families extract, when it names exactly one."""
        found = self.la_codes
        return found[0] if len(found) == 1 else None

    def top_rules(self, n: int = 10) -> pd.DataFrame:
        """The most frequent rules: code, severity, message and count; no values."""
        if self.findings.empty:
            return pd.DataFrame({"rule": [], "severity": [], "message": [], "count": []})
        counted = (
            self.findings.groupby(["rule", "severity", "message"], observed=True)
            .size()
            .rename("count")
            .reset_index()
            .sort_values(["count", "rule"], ascending=[False, True], kind="stable")
        )
        return counted.head(n).reset_index(drop=True)

    def exceeds(self, threshold: float) -> bool:
        return self.people_quarantined_share > threshold


def validate(raw: Mapping[str, RawExtract], extract_date: date) -> ValidationResult:
    typed: dict[str, pd.DataFrame] = {}
    parts: list[pd.DataFrame] = []
    for name in EXTRACT_NAMES:
        frame, found = _validate_one(name, raw[name].frame)
        typed[name] = frame
        parts.append(found)
        parts.append(_extra_column_findings(raw[name]))
    parts.extend(_context_findings(typed, extract_date))
    findings = _combine(parts)
    findings = pd.concat([findings, _cascade(typed, findings)], ignore_index=True)
    findings = _attach_keys(findings, typed)
    clean = _clean_frames(typed, findings)
    counts = _counts(raw, findings)
    return ValidationResult(clean=clean, findings=_sorted(findings), counts=counts)


def _finding_frame(
    extract: str, rows: pd.Index | np.ndarray, rule: str, column: str | None
) -> pd.DataFrame:
    spec = RULES[rule]
    n = len(rows)
    return pd.DataFrame(
        {
            "extract": pd.Series([extract] * n, dtype="str"),
            "row": pd.array(np.asarray(rows, dtype="int64"), dtype="Int64"),
            "column": pd.Series([column] * n, dtype="str"),
            "rule": pd.Series([rule] * n, dtype="str"),
            "severity": pd.Series([spec.severity.value] * n, dtype="str"),
            "message": pd.Series([spec.message] * n, dtype="str"),
        }
    )


def _validate_one(name: str, raw_frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame, problems = parse_extract(name, raw_frame)
    parts = [
        _finding_frame(name, frame.index[mask.to_numpy()], rule, column)
        for (rule, column), mask in problems.items()
    ]
    try:
        MODELS[name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        parts.append(_from_pandera(name, errors.failure_cases))
    found = _combine(parts)
    # Drop pandera's "missing"/"not in list" on a cell already reported as unparseable.
    parse_cells = found.loc[found["rule"].isin(_PARSE_RULES), ["row", "column"]]
    if not parse_cells.empty:
        key = found["row"].astype("str") + "|" + found["column"].astype("str")
        parsed_key = parse_cells["row"].astype("str") + "|" + parse_cells["column"].astype("str")
        found = found.loc[found["rule"].isin(_PARSE_RULES) | ~keys_in(key, parsed_key)]
    return frame, found


def _from_pandera(name: str, failures: pd.DataFrame) -> pd.DataFrame:
    """Map pandera failure cases to findings, dropping ``failure_case`` (the personal value)."""
    failures = failures.drop(columns=["failure_case"]).dropna(subset=["index"])
    if failures.empty:
        return empty_findings()
    check = failures["check"].astype("str")
    custom = check.str.contains(":", regex=False)
    base = check.str.extract(r"^([a-z_]+)", expand=False)
    rule = base.map(_BUILTIN_CHECKS)
    rule = rule.mask(custom, check.str.split(":").str[0])
    column = failures["column"].astype("str").where(~custom, check.str.split(":").str[1])
    # A multi-column key names its first column.
    uniq = base == "multiple_fields_uniqueness"
    if uniq.any():
        key_column = MODELS[name].Config.unique[0]  # type: ignore[attr-defined,index]
        column = column.mask(uniq, key_column)
    if name == "people":
        rule = rule.mask((column == "nis_opt_out") & (rule == "E105"), "E126")
    unknown = rule.isna()
    if unknown.any():
        # A check we have not coded is a bug in this program, not the user's data.
        raise RuntimeError(f"uncoded pandera checks: {sorted(check[unknown].unique())}")
    mapped = pd.DataFrame(
        {
            "row": failures["index"].astype("int64").to_numpy(),
            "rule": rule.to_numpy(),
            "column": column.to_numpy(),
        }
    ).drop_duplicates()
    parts = [
        _finding_frame(name, group["row"].to_numpy(), str(code), str(col))
        for (code, col), group in mapped.groupby(["rule", "column"], sort=True)
    ]
    return _combine(parts)


def _extra_column_findings(raw: RawExtract) -> pd.DataFrame:
    """One finding per unknown column, with no row: it is reported once, never carried on."""
    if not raw.extra_columns:
        return empty_findings()
    found = _finding_frame(raw.name, np.zeros(len(raw.extra_columns), dtype="int64"), "W205", None)
    found["row"] = pd.array([pd.NA] * len(raw.extra_columns), dtype="Int64")
    found["column"] = pd.Series(list(raw.extra_columns), dtype="str")
    return found


def _context_findings(typed: dict[str, pd.DataFrame], extract_date: date) -> list[pd.DataFrame]:
    """Rules that need the extract date or another extract."""
    out: list[pd.DataFrame] = []
    people = typed["people"]
    families = typed["families"]
    today = pd.Timestamp(extract_date)
    dob = people["dob"]
    out.append(_finding_frame("people", people.index[(dob > today).to_numpy()], "E122", "dob"))
    oldest = today - pd.DateOffset(years=110)
    out.append(_finding_frame("people", people.index[(dob < oldest).to_numpy()], "E123", "dob"))

    family_ids = families["family_id"].dropna()
    identified = families.drop_duplicates("family_id").set_index("family_id")["date_identified"]
    child = people["role"] == "CHILD"
    on_identified = people["family_id"].map(identified)
    adult_at_id = child & (dob + pd.DateOffset(years=18) <= on_identified)
    out.append(
        _finding_frame("people", people.index[adult_at_id.fillna(False).to_numpy()], "E124", "dob")
    )

    person_ids = people["person_id"].dropna()
    for name in _FAMILY_EXTRACTS:
        frame = typed[name]
        orphan = frame["family_id"].notna() & ~keys_in(frame["family_id"], family_ids)
        out.append(_finding_frame(name, frame.index[np.asarray(orphan)], "E107", "family_id"))
    for name in _PERSON_EXTRACTS:
        frame = typed[name]
        orphan = frame["person_id"].notna() & ~keys_in(frame["person_id"], person_ids)
        out.append(_finding_frame(name, frame.index[np.asarray(orphan)], "E108", "person_id"))

    incidents = typed["domestic_abuse_incidents"]
    home = people.drop_duplicates("person_id").set_index("person_id")["family_id"]
    named_home = incidents["person_id"].map(home)
    elsewhere = (
        incidents["person_id"].notna() & named_home.notna() & (named_home != incidents["family_id"])
    )
    out.append(
        _finding_frame(
            "domestic_abuse_incidents",
            incidents.index[elsewhere.fillna(False).to_numpy()],
            "E132",
            "person_id",
        )
    )
    return out


def _cascade(typed: dict[str, pd.DataFrame], findings: pd.DataFrame) -> pd.DataFrame:
    """E190 for rows that depend on a quarantined family or person."""
    errors = findings.loc[findings["severity"] == Severity.ERROR.value]
    bad_rows = {
        n: set(errors.loc[errors["extract"] == n, "row"].dropna().astype(int))
        for n in EXTRACT_NAMES
    }
    families = typed["families"]
    bad_families = families.loc[
        families.index.isin(list(bad_rows["families"])), "family_id"
    ].dropna()
    parts = []
    people = typed["people"]
    people_cascade = keys_in(people["family_id"], bad_families) & ~people.index.isin(
        list(bad_rows["people"])
    )
    parts.append(_finding_frame("people", people.index[people_cascade], "E190", "family_id"))
    quarantined_people = people.index.isin(list(bad_rows["people"])) | people_cascade
    bad_people = people.loc[quarantined_people, "person_id"].dropna()
    # A duplicated person_id is quarantined everywhere it appears: its events cannot be placed.
    for name in _PERSON_EXTRACTS:
        frame = typed[name]
        mine = ~frame.index.isin(list(bad_rows[name]))
        via_person = keys_in(frame["person_id"], bad_people) & mine
        parts.append(_finding_frame(name, frame.index[via_person], "E190", "person_id"))
        if "family_id" in frame.columns:
            via_family = keys_in(frame["family_id"], bad_families) & mine & ~via_person
            parts.append(_finding_frame(name, frame.index[via_family], "E190", "family_id"))
    return _combine(parts)


def _attach_keys(findings: pd.DataFrame, typed: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Add the record's family_id and person_id (where the extract has them) to each finding."""
    pieces = []
    for name in EXTRACT_NAMES:
        part = findings.loc[findings["extract"] == name].drop(
            columns=["family_id", "person_id"], errors="ignore"
        )
        frame = typed[name]
        for key in ("family_id", "person_id"):
            if key in frame.columns:
                part[key] = _lookup(part["row"], frame[key])
            else:
                part[key] = pd.Series(np.nan, index=part.index, dtype="str")
        pieces.append(part)
    return pd.concat(pieces, ignore_index=True)[FINDING_COLUMNS] if pieces else empty_findings()


def _lookup(rows: pd.Series, values: pd.Series) -> pd.Series:
    """values[row] for each row number; missing where the row is absent (or has no number)."""
    if values.empty:
        return pd.Series(np.nan, index=rows.index, dtype="str")
    positions = values.index.get_indexer(pd.Index(rows.fillna(-1).astype("int64")))
    taken = values.to_numpy(dtype=object)[np.where(positions >= 0, positions, 0)]
    return pd.Series(taken, index=rows.index, dtype="str").mask(positions < 0)


def _clean_frames(
    typed: dict[str, pd.DataFrame], findings: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    clean: dict[str, pd.DataFrame] = {}
    errors = findings.loc[findings["severity"] == Severity.ERROR.value]
    warnings = findings.loc[findings["severity"] == Severity.WARNING.value]
    for name in EXTRACT_NAMES:
        frame = typed[name]
        bad = errors.loc[errors["extract"] == name, "row"].dropna().astype("int64")
        kept = frame.loc[~frame.index.isin(bad)].copy()
        if name == "people":
            for rule, column in _WARNING_COLUMNS.items():
                rows = warnings.loc[
                    (warnings["extract"] == name) & (warnings["rule"] == rule), "row"
                ]
                kept.loc[kept.index.isin(rows.dropna().astype("int64")), column] = np.nan
            kept["postcode"] = format_postcode(kept["postcode"])
            kept["nis_opt_out"] = kept["nis_opt_out"].fillna(0)
        clean[name] = kept
    return clean


def _counts(raw: Mapping[str, RawExtract], findings: pd.DataFrame) -> pd.DataFrame:
    rows = []
    with_row = findings.dropna(subset=["row"])
    for name in EXTRACT_NAMES:
        mine = with_row.loc[with_row["extract"] == name]
        quarantined = mine.loc[mine["severity"] == Severity.ERROR.value, "row"].nunique()
        warned = mine.loc[mine["severity"] == Severity.WARNING.value, "row"]
        errored = mine.loc[mine["severity"] == Severity.ERROR.value, "row"]
        rows.append(
            {
                "extract": name,
                "source": raw[name].source,
                "sha256": raw[name].sha256,
                "rows_read": raw[name].rows,
                "quarantined": int(quarantined),
                # A quarantined row is counted once, as quarantined, not again as warned.
                "warned": int(warned[~warned.isin(errored)].nunique()),
            }
        )
    return pd.DataFrame(rows).astype(
        {
            "extract": "str",
            "source": "str",
            "sha256": "str",
            "rows_read": "int64",
            "quarantined": "int64",
            "warned": "int64",
        }
    )


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_findings()
    out = pd.concat(parts, ignore_index=True)
    for column in FINDING_COLUMNS:
        if column not in out.columns:
            out[column] = pd.Series(np.nan, index=out.index, dtype="str")
    return out[FINDING_COLUMNS]


def _sorted(findings: pd.DataFrame) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(EXTRACT_NAMES)}
    return (
        findings.assign(_order=findings["extract"].map(order))
        .sort_values(["_order", "row", "rule", "column"], na_position="first", kind="stable")
        .drop(columns="_order")
        .drop_duplicates(["extract", "row", "rule", "column"])
        .reset_index(drop=True)
    )
