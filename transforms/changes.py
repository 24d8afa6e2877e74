"""Changes since the previous submission (spec section 6): two individuals tables in, one row per
change out.

``changes_since(previous, current, previous_census)`` compares the individuals table of the
finished submission of the previous census date with this census's, person by person
(``person_id`` is the key: a person is one row of the ``people`` extract, whatever family they are
in). It returns the columns of :data:`schemas.outputs.CHANGES_COLUMNS`, every one text (``str``,
missing = NaN), sorted by ``family_id``, ``person_id``, ``change``, ``field`` by code point.

Comparisons are made on what the CSV files hold (section 5), so that the changes file agrees with
the two individuals files an analyst can open side by side: an empty text and a missing one are
the same (a CSV cannot tell them apart), a carriage return in a text is a line feed (the writer
writes it so), and dates are compared as days.

What counts (see docs/decisions.md for the reasons):

- ``FAMILY``, ``STATUS``, ``ROLE``, ``PROBLEM_*``, ``DATE_REVISED`` compare the person's current
  row with their previous row, so a person who moved family is compared with the family they were
  in (the contract's rule), and a mover can get ``STATUS`` or ``DATE_REVISED`` rows from the two
  families' values.
- ``DATE_REVISED`` for a column of :data:`schemas.outputs.REVISABLE_DATE_FIELDS`: the two values
  differ (empty counts as a value), and the previous one was written or the current one is on or
  before the previous census date. The previous file leaves a support date empty when it was
  after the previous census date, so a date that is new and after it is progress, not a revision;
  a date that is now on or before it but was not there before, or one that was there and is now
  gone or different, means the case system was edited after the previous submission.
- ``IDENTIFIER_*`` never carry the values, and no value reaches an exception message.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.outputs import (
    CHANGE_KINDS,
    CHANGES_COLUMNS,
    IDENTIFIER_FIELDS,
    PROBLEM_COLUMNS,
    REVISABLE_DATE_FIELDS,
)

SORT_KEYS = ["family_id", "person_id", "change", "field"]
# Text columns compared as written; the identifiers among them are text, dob and expected_dob
# are dates.
_CODES = ("family_id", "person_id", "role", "intervention_status")
_DATES = ("dob", "expected_dob", *REVISABLE_DATE_FIELDS)
_TEXTS = (*_CODES, *(f for f in IDENTIFIER_FIELDS if f not in _DATES))
_FLAGS = tuple(PROBLEM_COLUMNS.values())
NEEDED_COLUMNS: tuple[str, ...] = (*_TEXTS, *_DATES, *_FLAGS)


class ChangesInputError(ValueError):
    """An individuals table that cannot be compared. The message names columns, never values."""


def _as_written_text(s: pd.Series) -> pd.Series:
    # As the CSV writer writes it and a reader reads it back: "\r\n" and "\r" become "\n", and an
    # empty text is missing. (The scan for "\r" is much cheaper than a replace on every value.)
    text = s.astype("str").reset_index(drop=True)
    if text.str.contains("\r", regex=False).any():
        text = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
    return text.where(text != "")


def _whole(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _person_codes(before: pd.Series, now: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Both tables' ``person_id`` as small integers (equal ids, equal codes), from one hash pass
    over the two columns; every later match is numpy indexing on these codes."""
    # One array, not a chunked one: encoding chunks and combining them unifies dictionaries,
    # five times slower for the same codes.
    both = pa.concat_arrays(
        [_whole(pa.array(k, from_pandas=True).cast(pa.large_string())) for k in (before, now)]
    )
    encoded = pc.dictionary_encode(both)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes[: len(before)], codes[len(before) :], len(encoded.dictionary)


def _canonical(table: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in NEEDED_COLUMNS if c not in table.columns]
    if missing:
        raise ChangesInputError(f"the {name} individuals table lacks columns: {missing}")
    columns: dict[str, pd.Series] = {}
    for c in _TEXTS:
        columns[c] = _as_written_text(table[c])
    for c in _DATES:
        dates = pd.to_datetime(table[c]).dt.normalize().astype("datetime64[ns]")
        columns[c] = dates.reset_index(drop=True)
    for c in _FLAGS:
        columns[c] = table[c].astype("Int64").reset_index(drop=True)
    out = pd.DataFrame(columns)
    if out["person_id"].isna().any():
        raise ChangesInputError(f"the {name} individuals table has a row without person_id")
    return out


def _bool(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=bool, na_value=False)


def _differs(before: pd.Series, now: pd.Series) -> np.ndarray:
    """True where the two values differ; two missing values are equal, missing and a value are
    not."""
    same = _bool(before == now) | (before.isna().to_numpy() & now.isna().to_numpy())
    return ~same


def _rows(
    family: pd.Series,
    person: pd.Series,
    mask: np.ndarray,
    change: str,
    field: str | None = None,
    previous: pd.Series | str | None = None,
    current: pd.Series | str | None = None,
) -> pd.DataFrame:
    # Boolean filters of Arrow-backed columns stay in Arrow; a detour through numpy objects
    # would cost seconds per column at national scale.
    index = pd.RangeIndex(int(mask.sum()))

    def column(values: pd.Series | str | None) -> pd.Series:
        if isinstance(values, pd.Series):
            return values[mask].astype("str").set_axis(index)
        return pd.Series(np.nan if values is None else values, index=index, dtype="str")

    return pd.DataFrame(
        {
            "family_id": column(family),
            "person_id": column(person),
            "change": column(change),
            "field": column(field),
            "previous": column(previous),
            "current": column(current),
        }
    )


def changes_since(
    previous: pd.DataFrame, current: pd.DataFrame, previous_census: date
) -> pd.DataFrame:
    """One row per change from ``previous`` to ``current`` (both individuals tables), sorted by
    ``family_id``, ``person_id``, ``change``, ``field``; the columns of ``CHANGES_COLUMNS``."""
    before_all = _canonical(previous, "previous")
    now_all = _canonical(current, "current")
    cutoff = pd.Timestamp(previous_census)

    before_codes, now_codes, n_codes = _person_codes(before_all["person_id"], now_all["person_id"])
    for codes, name in ((before_codes, "previous"), (now_codes, "current")):
        if len(codes) and np.bincount(codes, minlength=n_codes).max() > 1:
            raise ChangesInputError(
                f"the {name} individuals table has more than one row for a person"
            )
    row_before = np.full(n_codes, -1, dtype=np.int64)
    row_before[before_codes] = np.arange(len(before_codes))
    at = row_before[now_codes]  # each current person's previous row, -1 when new
    stayed = at >= 0
    in_now = np.zeros(n_codes, dtype=bool)
    in_now[now_codes] = True
    gone = ~in_now[before_codes]
    parts = [
        _rows(now_all["family_id"], now_all["person_id"], ~stayed, "JOINED"),
        _rows(before_all["family_id"], before_all["person_id"], gone, "LEFT"),
    ]

    now = now_all.loc[stayed].reset_index(drop=True)
    before = before_all.iloc[at[stayed]].reset_index(drop=True)
    family, person = now["family_id"], now["person_id"]

    def emit(mask: np.ndarray, change: str, field: str, *values: pd.Series | str) -> None:
        if mask.any():  # most comparisons find nothing; building empty frames costs time
            parts.append(_rows(family, person, mask, change, field, *values))

    for field, change in (
        ("family_id", "FAMILY"),
        ("intervention_status", "STATUS"),
        ("role", "ROLE"),
    ):
        emit(_differs(before[field], now[field]), change, field, before[field], now[field])

    for field in _FLAGS:
        was, is_ = before[field], now[field]
        emit(_bool((was == 0) & (is_ == 1)), "PROBLEM_ADDED", field, "0", "1")
        emit(_bool((was == 1) & (is_ == 0)), "PROBLEM_REMOVED", field, "1", "0")

    for field in IDENTIFIER_FIELDS:
        had = before[field].notna().to_numpy()
        has = now[field].notna().to_numpy()
        emit(~had & has, "IDENTIFIER_ADDED", field)
        emit(had & ~has, "IDENTIFIER_REMOVED", field)
        emit(had & has & _differs(before[field], now[field]), "IDENTIFIER_CHANGED", field)

    for field in REVISABLE_DATE_FIELDS:
        had = before[field].notna().to_numpy()
        on_or_before = _bool(now[field] <= cutoff)
        revised = _differs(before[field], now[field]) & (had | on_or_before)
        emit(revised, "DATE_REVISED", field)

    changes = pd.concat(parts, ignore_index=True).astype("str")
    # (family_id, person_id, change, field) is unique, so the order is total: the same two
    # tables in any row order give the same rows in the same order.
    return changes.sort_values(SORT_KEYS, kind="stable", na_position="first").reset_index(
        drop=True
    )[CHANGES_COLUMNS]


def change_counts(changes: pd.DataFrame) -> dict[str, int]:
    """Rows per kind of change, every kind in the contract's order, zeros included."""
    counts = changes["change"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in CHANGE_KINDS}


def no_changes() -> pd.DataFrame:
    """The changes table when there is no previous submission to compare with: no rows."""
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in CHANGES_COLUMNS})
