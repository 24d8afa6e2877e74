"""exports.tables._key_order sorts a submission table's rows by family and person in one Arrow
sort: the order pandas' stable sort_values gives, and None exactly when pandas' duplicated finds
a key twice, for any text (ASCII or not, empty, prefixes of each other) and missing keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from exports.tables import SORT_KEYS, _key_order

# A small alphabet, so keys repeat and share prefixes; characters whose UTF-8 bytes and UTF-16
# units order differently from their code points (U+FF5E against an astral one).
_KEY = st.one_of(
    st.text(st.sampled_from(list("aAb1é€\uff5e\U0001f600 ")), max_size=3),
    st.none(),
)
_ROWS = st.lists(st.tuples(_KEY, _KEY), max_size=40)


def _frame(rows: list[tuple[str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "family_id": pd.Series([r[0] for r in rows], dtype="str"),
            "person_id": pd.Series([r[1] for r in rows], dtype="str"),
            "n": np.arange(len(rows)),
        }
    )


@given(_ROWS)
def test_the_order_and_the_repeats_are_pandas(rows):
    table = _frame(rows)
    order = _key_order(table)
    if table.duplicated(SORT_KEYS).any():
        assert order is None
    else:
        expected = table.sort_values(SORT_KEYS, kind="stable").index.to_numpy()
        assert order is not None and order.tolist() == expected.tolist()


@given(st.lists(st.tuples(_KEY.filter(bool), _KEY.filter(bool)), unique=True, max_size=40))
def test_unique_keys_are_sorted_by_arrow(rows):
    table = _frame(rows)
    order = _key_order(table)
    assert order is not None
    keys = [tuple(r) for r in table.take(order)[SORT_KEYS].itertuples(index=False)]
    assert keys == sorted(keys)  # Python orders text by code point, as the contract's readers


def test_by_hand():
    table = _frame([("F2", "P1"), ("F1", "P9"), ("F1", "P10"), ("F10", "P1")])
    assert _key_order(table).tolist() == [2, 1, 3, 0]  # text order: "P10" < "P9", "F10" < "F2"
    assert _key_order(_frame([("F1", "P1"), ("F2", "P1"), ("F1", "P1")])) is None
    assert _key_order(_frame([])).tolist() == []
