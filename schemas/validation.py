"""Validate the ten extracts together: parse them, run every rule of the registry
(``schemas.rules``) in order, quarantine the rows in error with the rows that depend on them,
blank the values that only earned a warning, and settle which council the extracts are of.

Nothing vanishes: every row that does not reach the clean frames has at least one finding, and
every finding carries a rule code, the source row number, the record's key and a fixed message.
No value from the data is ever copied into a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.checks import CheckContext, Target
from schemas.cleaning import ID_MAX_LENGTH, text_array, text_series
from schemas.columns import column_notes
from schemas.identifiers import format_postcode
from schemas.models import EXTRACT_NAMES
from schemas.parsing import ParsedExtract, parse_extract
from schemas.raw import RawExtract
from schemas.rules import (
    CASCADE_RULE,
    FINDING_COLUMNS,
    RULES,
    FatalInputError,
    Kind,
    Rule,
    Severity,
    empty_findings,
)

# Warnings whose value is kept (already made safe) rather than blanked.
_KEEPS_VALUE = [code for code, rule in RULES.items() if rule.keeps_value]


@dataclass(frozen=True)
class ValidationResult:
    clean: dict[str, pd.DataFrame]
    findings: pd.DataFrame  # FINDING_COLUMNS, sorted by extract (spec order), row, rule
    counts: pd.DataFrame  # extract, source, sha256, rows_read, quarantined, warned
    la_code: str  # the council the extracts are of (the config's, or the one they name)
    # Headers no contract column matched, with the column each most likely means; the ones
    # standing in for an absent column first (see schemas.columns).
    column_notes: tuple[str, ...] = ()

    @property
    def people_quarantined_share(self) -> float:
        people = self.counts.loc[self.counts["extract"] == "people"]
        read = int(people["rows_read"].sum())
        return int(people["quarantined"].sum()) / read if read else 0.0

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


PARSE_THREADS = 2


def _largest_first(raw: Mapping[str, RawExtract]) -> list[str]:
    """The extracts, biggest first, so the threads finish together."""
    return sorted(EXTRACT_NAMES, key=lambda name: -raw[name].frame.size)


def validate(
    raw: Mapping[str, RawExtract],
    extract_date: date,
    la_code: str | None = None,
    *,
    parse_order: Sequence[str] | None = None,
) -> ValidationResult:
    """Validate the extracts as of ``extract_date``. ``la_code`` is the council's code from the
    config, if set; the extracts must then hold that council's families only, and without it
    they must name exactly one council (else :class:`FatalInputError` F005 or F006).

    The extracts are parsed in ``parse_order`` (by default the biggest first); ``raw`` may be a
    mapping whose extracts are still being read in that order (looking one up waits for it):
    each is then parsed as soon as it is there. The result does not depend on the order."""
    # The ten extracts are parsed independently, mostly in Arrow kernels that release the GIL:
    # two threads keep both cores busy. The result does not depend on which thread parsed what.
    with ThreadPoolExecutor(max_workers=PARSE_THREADS, thread_name_prefix="nis-parse") as pool:
        parsing = {
            name: pool.submit(_parse, raw, name)
            for name in (parse_order if parse_order is not None else _largest_first(raw))
        }
        parsed = {name: parsing[name].result() for name in EXTRACT_NAMES}
        context = CheckContext(
            parsed=parsed,
            extract_date=extract_date,
            errors={name: np.zeros(len(parsed[name].frame), dtype=bool) for name in EXTRACT_NAMES},
        )
        parts = [_extra_column_findings(raw[name]) for name in EXTRACT_NAMES]
        found = _run_rules(context, pool)
        typed = {name: p.frame for name, p in parsed.items()}
        findings = _combine([*parts, _findings_of(found, typed)])
        clean = _clean_frames(typed, findings, pool)
    council = _council(
        clean["families"],
        la_code,
        raw["families"].source,
        # (worked out only when no family is left to name the council)
        _why_no_family(findings, len(typed["families"])) if clean["families"].empty else "",
    )
    notes = [
        note
        for name in EXTRACT_NAMES
        if raw[name].headers is not None
        for note in column_notes(raw[name].headers)  # type: ignore[arg-type]
    ]
    return ValidationResult(
        clean=clean,
        findings=_sorted(findings),
        counts=_counts(raw, findings),
        la_code=council,
        column_notes=tuple(n.text for n in sorted(notes, key=lambda n: not n.serious)),
    )


def _parse(raw: Mapping[str, RawExtract], name: str) -> ParsedExtract:
    extract = raw[name]  # in the parsing thread: it may wait for the extract to be read
    return parse_extract(name, extract.frame, extract.extra_field_rows)


def _run_rules(context: CheckContext, pool: ThreadPoolExecutor) -> list[Found]:
    """The rows every rule finds, in the rules' order (the order does not depend on threads).

    Only the cascade rule reads which rows are in error: every other rule looks at the parsed
    values alone, so their checks run two at a time (much of each is in kernels that release the
    GIL), the key encodings and the biggest extracts' checks first, and the rows they find in
    error are recorded in the rules' order; the cascade then runs alone, last, on all of them.
    """
    rules = [rule for rule in RULES.values() if rule.check is not None]
    cascade = [rule for rule in rules if rule.code == CASCADE_RULE]
    work = [
        (rule, target) for rule in rules if rule.code != CASCADE_RULE for target in rule.targets
    ]
    # The two key encodings first (many checks wait for them), then the checks of the biggest
    # extracts: the longest checks start early, not last, with one core left idle behind them.
    encodings = [pool.submit(context.key_codes, key) for key in ("person_id", "family_id")]
    rows = {name: len(parsed.frame) for name, parsed in context.parsed.items()}
    biggest_first = sorted(range(len(work)), key=lambda i: -rows[work[i][1].extract])
    started = {i: pool.submit(_broken, *work[i], context) for i in biggest_first}
    for encoding in encodings:
        encoding.result()
    out: list[Found] = []
    for i, (rule, target) in enumerate(work):  # in the rules' order, whatever order they ran in
        out.extend(_record(rule, target, started[i].result(), context))
    for rule in cascade:
        for target in rule.targets:  # in order: each target's errors are the next one's input
            out.extend(_record(rule, target, _broken(rule, target, context), context))
    return out


def _broken(rule: Rule, target: Target, context: CheckContext) -> np.ndarray:
    """The rows ``rule`` finds broken in ``target`` (it reads ``context``, never writes it)."""
    assert rule.check is not None
    parsed = context.parsed[target.extract]
    broken = rule.check(context, target)
    if rule.kind is not Kind.PARSE and target.column is not None:
        # A cell that failed parsing is reported once, under the parse rule.
        broken = broken & ~_parse_failed(parsed, target.column)
    if target.column is not None:
        # A row broken as a whole (more fields than the header) is reported once, as such:
        # its values may be shifted, so what other rules would say of them means nothing.
        broken = broken & ~parsed.faulted_rows()
    return broken


@dataclass(frozen=True)
class Found:
    """The rows one rule found in one target, as positions in its extract's frame."""

    rule: Rule
    extract: str
    column: str | None
    positions: np.ndarray


def _record(rule: Rule, target: Target, broken: np.ndarray, context: CheckContext) -> list[Found]:
    """What ``rule`` found (nothing when no row is ``broken``); rows in error are recorded in
    the context for the cascade."""
    if not broken.any():
        return []
    if rule.severity is Severity.ERROR:
        context.errors[target.extract] |= broken
    return [Found(rule, target.extract, target.column, np.flatnonzero(broken))]


def _findings_of(found: Sequence[Found], typed: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One finding per row found (FINDING_COLUMNS), with its record's keys. Built a column at a
    time from every rule's rows at once: a frame per rule and target cost more than the rows."""
    if not found:
        return empty_findings()
    which = pa.array(np.repeat(np.arange(len(found)), [len(f.positions) for f in found]))
    index = pd.RangeIndex(len(which))

    def each(values: list[str | None]) -> pd.Series:
        return text_series(pa.array(values, pa.large_string()).take(which), index)

    rows = np.concatenate([typed[f.extract].index.to_numpy()[f.positions] for f in found])
    return pd.DataFrame(
        {
            "extract": each([f.extract for f in found]),
            "row": pd.Series(pd.array(rows.astype("int64"), dtype="Int64"), index=index),
            "family_id": _keys(found, typed, "family_id", index),
            "person_id": _keys(found, typed, "person_id", index),
            "column": each([f.column for f in found]),
            "rule": each([f.rule.code for f in found]),
            "severity": each([f.rule.severity.value for f in found]),
            "message": each([f.rule.message for f in found]),
        }
    )


def _keys(
    found: Sequence[Found], typed: Mapping[str, pd.DataFrame], key: str, index: pd.Index
) -> pd.Series:
    """The ``key`` of each row found; missing where its extract has no such column, and where
    the value is too long to be an id (E117: it would only bloat the report)."""
    columns: dict[str, pa.Array] = {}
    taken = []
    for f in found:
        frame = typed[f.extract]
        if key not in frame.columns:
            taken.append(pa.nulls(len(f.positions), pa.large_string()))
            continue
        if f.extract not in columns:
            # Taken on the Arrow text: a whole column as Python objects would cost more.
            text = text_array(frame[key].astype("str")).combine_chunks()
            columns[f.extract] = text.cast(pa.large_string())
        taken.append(columns[f.extract].take(pa.array(f.positions)))
    values = pa.concat_arrays(taken)
    too_long = pc.greater(pc.utf8_length(values), ID_MAX_LENGTH).fill_null(False)
    return text_series(pc.if_else(too_long, pa.scalar(None, values.type), values), index)


def _parse_failed(parsed: ParsedExtract, column: str) -> np.ndarray:
    failed = np.zeros(len(parsed.frame), dtype=bool)
    for (failed_column, _), mask in parsed.failures.items():
        if failed_column == column:
            failed |= mask.to_numpy(dtype=bool)
    return failed


def _extra_column_findings(raw: RawExtract) -> pd.DataFrame:
    """One finding per unknown column, with no row: it is reported once, never carried on."""
    if not raw.extra_columns:
        return empty_findings()
    n, rule = len(raw.extra_columns), RULES["W205"]
    return pd.DataFrame(
        {
            "extract": pd.Series([raw.name] * n, dtype="str"),
            "row": pd.array([pd.NA] * n, dtype="Int64"),
            "column": pd.Series(list(raw.extra_columns), dtype="str"),
            "rule": pd.Series([rule.code] * n, dtype="str"),
            "severity": pd.Series([rule.severity.value] * n, dtype="str"),
            "message": pd.Series([rule.message] * n, dtype="str"),
        }
    )


def _why_no_family(findings: pd.DataFrame, rows: int) -> str:
    """When every families row was quarantined, the rule that took most of them (a code and a
    column, never a value): the families extract did name a council, in rows that had errors."""
    if not rows:
        return ""
    errors = findings.loc[
        (findings["extract"] == "families") & (findings["severity"] == "error")
    ].dropna(subset=["row"])
    if errors["row"].nunique() < rows:
        return ""
    # The most frequent (rule, column); on a tie, the first of them in the findings.
    ranked = errors.assign(column=errors["column"].fillna("")).value_counts(
        ["rule", "column"], sort=False
    )
    top = ranked.loc[ranked == ranked.max()].index[0]
    rule, column = str(top[0]), str(top[1])
    where = f" in {column}" if column else ""
    return (
        f"every one of its {rows:,} rows has an error, most often {rule}{where}: set la_code in "
        "the config, and the validation report lists them"
    )


def _council(families: pd.DataFrame, la_code: str | None, source: str, why: str = "") -> str:
    """The LA-code policy: sending another council's families would be a breach, and dropping
    them silently would hide a broken extract, so both stop the run."""
    found = sorted(families["la_code"].dropna().unique().tolist())

    def rows_of(codes: list[str]) -> str:
        # Where each council's families are, so the odd rows can be found: a code and the
        # source lines are no one's personal data.
        councils = families["la_code"].to_numpy()
        parts = []
        for code in codes:
            at = families.index[councils == code]
            n = len(at)
            parts.append(f"{code} ({n} row{'s' if n != 1 else ''}, the first on line {at.min()})")
        return ", ".join(parts)

    if la_code is not None:
        others = [code for code in found if code != la_code]
        if others:
            raise FatalInputError(
                RULES["F005"],
                source,
                f"families of {rows_of(others)} besides la_code {la_code} of the config",
            )
        return la_code
    if len(found) == 1:
        return str(found[0])
    if not found:
        raise FatalInputError(RULES["F006"], source, why)
    raise FatalInputError(RULES["F005"], source, f"families of {rows_of(found)}")


def _clean_frames(
    typed: dict[str, pd.DataFrame], findings: pd.DataFrame, pool: ThreadPoolExecutor
) -> dict[str, pd.DataFrame]:
    """The rows with no error; a value with a warning is blanked (never sent malformed). The
    extracts are independent: two are filtered at once."""
    mine = findings.dropna(subset=["row"])
    found = {name: mine.loc[mine["extract"] == name] for name in EXTRACT_NAMES}
    kept = pool.map(lambda name: _clean_frame(typed[name], found[name]), EXTRACT_NAMES)
    return dict(zip(EXTRACT_NAMES, kept, strict=True))


def _clean_frame(frame: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    bad = found.loc[found["severity"] == Severity.ERROR.value, "row"].astype("int64")
    kept = _rows(frame, ~frame.index.isin(bad))
    warned = found.loc[
        (found["severity"] == Severity.WARNING.value) & ~found["rule"].isin(_KEEPS_VALUE)
    ]
    for column, rows in warned.groupby("column", observed=True)["row"]:
        kept.loc[kept.index.isin(rows.astype("int64")), str(column)] = np.nan
    if "postcode" in kept.columns:
        kept["postcode"] = format_postcode(kept["postcode"])
    return kept


def _rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows of ``frame`` where ``keep`` holds, as a new frame. Text columns are filtered by
    Arrow (a run copy), where ``frame.loc[keep]`` turns the mask into positions and takes each
    value one by one: several times slower on the large extracts."""
    if not len(frame.columns):
        return frame.loc[keep].copy()
    mask = pa.array(keep)
    index = frame.index[keep]
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
            columns[name] = text_series(pc.filter(text_array(values), mask), index)
        else:
            columns[name] = pd.Series(values.array[keep], index=index, copy=False)
    return pd.DataFrame(columns, index=index, copy=False)


def _counts(raw: Mapping[str, RawExtract], findings: pd.DataFrame) -> pd.DataFrame:
    rows = []
    with_row = findings.dropna(subset=["row"])
    for name in EXTRACT_NAMES:
        mine = with_row.loc[with_row["extract"] == name]
        errored = mine.loc[mine["severity"] == Severity.ERROR.value, "row"]
        warned = mine.loc[mine["severity"] == Severity.WARNING.value, "row"]
        rows.append(
            {
                "extract": name,
                "source": raw[name].source,
                "sha256": raw[name].sha256,
                "rows_read": raw[name].rows,
                "quarantined": int(errored.nunique()),
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
