from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.keys import count_per, flag_per, isin, positions
from transforms.inputs import extract


def test_positions_and_isin() -> None:
    keys = pd.Series(["b", None, "z", "a", "b"], dtype="str")
    universe = pd.Series(["a", "b", "c"], dtype="str")
    assert positions(keys, universe).tolist() == [1, -1, -1, 0, 1]
    assert isin(keys, universe).tolist() == [True, False, False, True, True]
    # object columns and empty inputs work the same way
    objects = pd.Series(["b", np.nan, "z"], dtype=object)
    assert positions(objects, universe).tolist() == [1, -1, -1]
    assert positions(keys, pd.Series([], dtype="str")).tolist() == [-1] * 5
    assert positions(pd.Series([], dtype="str"), universe).tolist() == []


def test_count_and_flag_per_position() -> None:
    where = np.array([2, -1, 0, 2, 2])
    assert count_per(where, 4).tolist() == [1, 0, 3, 0]
    assert count_per(where, 4, np.array([1.0, 5.0, 2.0, 3.0, 4.0])).tolist() == [2, 0, 8, 0]
    assert flag_per(where, 4).tolist() == [True, False, True, False]


def test_required_extracts() -> None:
    with pytest.raises(KeyError, match="families"):
        extract({}, "families")
    assert list(extract({}, "offences").columns) == [
        "person_id",
        "offence_date",
        "offence_category",
    ]
