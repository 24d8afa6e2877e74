"""The two submission tables as they are written: checked against the output schemas, cut to the
contract's columns in the contract's order, sorted by ``family_id`` then ``person_id``.

This is the last gate before data leaves the council, so it checks again what the transforms
promise: a column outside the contract (an NHS number, an ethnicity, anything) stops the run rather
than reaching a file, and so does a row of another LA or another census date.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from schemas.outputs import (
    CHANGES_COLUMNS,
    FPD_COLUMNS,
    INDIVIDUALS_COLUMNS,
    ChangesRecord,
    FpdRecord,
    IndividualsRecord,
)
from transforms.periods import Period
from transforms.submission import SubmissionTables

SORT_KEYS = ["family_id", "person_id"]


class SubmissionTableError(ValueError):
    """A submission table breaks the output contract. The message names columns and checks,
    never a value."""


@dataclass(frozen=True)
class PreparedTables:
    individuals: pd.DataFrame
    fpd: pd.DataFrame
    opted_out: int


def schema_failures(error: pandera.errors.SchemaErrors) -> str:
    cases = error.failure_cases
    # Column and check only: the failure cases themselves are personal data.
    pairs = (
        cases[["column", "check"]].astype("str").drop_duplicates().sort_values(["column", "check"])
    )
    return "; ".join(f"{c}: {k}" for c, k in pairs.itertuples(index=False))


def prepare_table(
    df: pd.DataFrame,
    model: type[pa.DataFrameModel],
    columns: list[str],
    name: str,
    la_code: str,
    period: Period,
) -> pd.DataFrame:
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise SubmissionTableError(f"{name} table has columns outside the contract: {extra}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SubmissionTableError(f"{name} table lacks contract columns: {missing}")
    table = df[columns].reset_index(drop=True)
    try:
        model.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as error:
        raise SubmissionTableError(
            f"{name} table breaks the output schema: {schema_failures(error)}"
        ) from None
    if not (table["la_code"] == la_code).all():
        raise SubmissionTableError(f"{name} table holds rows of another la_code")
    if not (table["census_date"] == pd.Timestamp(period.census)).all():
        raise SubmissionTableError(f"{name} table holds rows of another census date")
    # Keys are unique, so this order is total: the same rows in any order give the same file.
    order = _key_order(table)
    if order is None:
        raise SubmissionTableError(f"{name} table has more than one row for a family and person")
    return table.take(order).reset_index(drop=True)


def _key_order(table: pd.DataFrame) -> np.ndarray | None:
    """The positions of the rows of ``table`` in ``SORT_KEYS`` order, or None when a key occurs
    twice: what ``sort_values(SORT_KEYS, kind="stable")`` and ``duplicated(SORT_KEYS)`` say, in
    one Arrow sort (about six times faster on a national table) and a comparison of neighbours.
    Arrow and pandas order text alike, by code point; missing keys (which the output schema
    refuses before this) are left to pandas."""
    keys = [pyarrow.array(table[key], from_pandas=True) for key in SORT_KEYS]
    if any(key.null_count for key in keys):
        if table.duplicated(SORT_KEYS).any():
            return None
        return np.asarray(table.sort_values(SORT_KEYS, kind="stable").index)
    order = pc.sort_indices(
        pyarrow.table(dict(zip(SORT_KEYS, keys, strict=True))),
        sort_keys=[(key, "ascending") for key in SORT_KEYS],
    )
    repeated = np.ones(max(len(table) - 1, 0), dtype=bool)
    for key in keys:
        ranked = key.take(order)
        repeated &= pc.equal(ranked[1:], ranked[:-1]).to_numpy(zero_copy_only=False)
    return None if repeated.any() else order.to_numpy()


def _all_in(values: pd.Series, pool: pd.Series) -> bool:
    """Whether every value is in ``pool`` (a missing value only if ``pool`` has one), as
    ``values.isin(pool).all()``; pandas' isin on Arrow strings makes a Python list of the pool."""
    if len(values) == 0:
        return True
    found = pc.is_in(
        pyarrow.array(values, from_pandas=True), value_set=pyarrow.array(pool, from_pandas=True)
    )
    return bool(np.asarray(found, dtype=bool).all())


def prepare_tables(tables: SubmissionTables, la_code: str, period: Period) -> PreparedTables:
    # Checked and sorted at once (much of it in kernels that release the GIL); the first
    # table's error is raised first, as it would be one after the other.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nis-prepare") as pool:
        fpd_prepared = pool.submit(
            prepare_table, tables.fpd, FpdRecord, FPD_COLUMNS, "FPD", la_code, period
        )
        individuals = prepare_table(
            tables.individuals,
            IndividualsRecord,
            INDIVIDUALS_COLUMNS,
            "individuals",
            la_code,
            period,
        )
        fpd = fpd_prepared.result()
    if not _all_in(fpd["person_id"], individuals["person_id"]):
        raise SubmissionTableError("an FPD person has no row in the individuals table")
    return PreparedTables(individuals=individuals, fpd=fpd, opted_out=int(tables.opted_out))


CHANGES_SORT_KEYS = ["family_id", "person_id", "change", "field"]


def prepare_changes(changes: pd.DataFrame) -> pd.DataFrame:
    """The changes table (spec section 6) as it is written: checked against ``ChangesRecord``
    (which also refuses a value on an identifier or date row), its columns in order, sorted by
    ``family_id``, ``person_id``, ``change``, ``field``."""
    extra = [c for c in changes.columns if c not in CHANGES_COLUMNS]
    missing = [c for c in CHANGES_COLUMNS if c not in changes.columns]
    if extra or missing:
        raise SubmissionTableError(
            f"changes table columns differ from the contract: extra {extra}, missing {missing}"
        )
    table = changes[CHANGES_COLUMNS].reset_index(drop=True)
    try:
        ChangesRecord.validate(table, lazy=True)
    except pandera.errors.SchemaErrors as error:
        raise SubmissionTableError(
            f"changes table breaks the output schema: {schema_failures(error)}"
        ) from None
    if table.duplicated(CHANGES_SORT_KEYS).any():
        raise SubmissionTableError("changes table repeats a change of a person")
    # Keys are unique, so this order is total.
    return table.sort_values(CHANGES_SORT_KEYS, kind="stable", na_position="first").reset_index(
        drop=True
    )
