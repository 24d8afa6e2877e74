"""Status of intervention and problems met, per family, as at the census date (spec section 4).
Both functions take that one date: they describe the family on a day, not over a period.

Choices where the spec is silent:
- ``problems_met`` returns one row per row of ``families``, in that order and with that index,
  so it lines up with :func:`intervention_status`; eligibility rows of other families are ignored.
- A claim whose ``claim_type`` is set is the only claim a family has (the extract holds one per
  family), so ``CLAIMED_SSP`` and ``CLAIMED_CE`` cannot both hold.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from schemas import codes
from schemas.keys import flag_per, positions
from schemas.outputs import PROBLEM_COLUMNS
from transforms.inputs import int_flags, timestamp


def intervention_status(families: pd.DataFrame, census: date) -> pd.Series:
    """``intervention_status`` on ``census`` for each family row (index aligned with
    ``families``)."""
    c = timestamp(census)
    status = families["status"]
    started = families["date_support_started"]
    ended = families["date_support_ended"]
    claimed = (families["claim_date"] <= c).fillna(False).astype(bool)
    conditions = [
        status.isin(["DECLINED", "NOT_ELIGIBLE"]).to_numpy(dtype=bool),
        (started.isna() | (started > c)).to_numpy(dtype=bool),
        (ended.isna() | (ended > c)).to_numpy(dtype=bool),
        (claimed & (families["claim_type"] == "SSP")).fillna(False).to_numpy(dtype=bool),
        (claimed & (families["claim_type"] == "CE")).fillna(False).to_numpy(dtype=bool),
    ]
    choices = [
        np.asarray(status, dtype=object),
        np.full(len(families), "IDENTIFIED", dtype=object),
        np.full(len(families), "ATTACHED", dtype=object),
        np.full(len(families), "CLAIMED_SSP", dtype=object),
        np.full(len(families), "CLAIMED_CE", dtype=object),
    ]
    values = np.select(conditions, choices, default="CLOSED")
    return pd.Series(values, index=families.index, dtype="str", name="intervention_status")


def problems_met(families: pd.DataFrame, eligibility: pd.DataFrame, census: date) -> pd.DataFrame:
    """``family_id`` and one Int64 0/1 column per headline problem (``p_crime_asb`` ..
    ``p_health``): 1 when an eligibility row of the family has that problem with
    ``date_met <= census``."""
    c = timestamp(census)
    met = eligibility.loc[(eligibility["date_met"] <= c).fillna(False).to_numpy(dtype=bool)]
    where = positions(met["family_id"], families["family_id"])
    problem = np.asarray(met["problem"], dtype=object)
    columns: dict[str, object] = {"family_id": families["family_id"].astype("str")}
    for name in codes.PROBLEMS:
        hits = np.where(problem == name, where, -1)
        columns[PROBLEM_COLUMNS[name]] = int_flags(flag_per(hits, len(families)))
    return pd.DataFrame(columns, index=families.index)
