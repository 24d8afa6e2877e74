"""The pseudonymised research extract (spec section 7), from a period's two submission tables.

One row per person of the FPD cohort: keyed pseudonyms instead of the family and person ids, the
month of birth instead of the date, the postcode sector instead of the postcode, and nothing else
that identifies anyone (no names, NINO, UPN, NHS number or ethnicity: those never reach the
submission tables in the first place, and the columns taken from them here are listed by name).

Pseudonyms are lowercase hex HMAC-SHA256, key = the UTF-8 bytes of the secret, message = the
UTF-8 bytes of ``{la_code}:family:{family_id}`` or ``{la_code}:person:{person_id}``. The same
secret gives the same pseudonyms in every period, so periods link; another council or another
secret gives unlinkable ones.

HMAC has no vectorised form in numpy or pyarrow, so it is a Python loop, but over the distinct
messages only (each family once, not once per member), each from a copy of one keyed prototype
(the key schedule is computed once). That costs 2 to 4 microseconds per message (measured on a
shared two-core machine): 3 to 6 s for the 1.4 million people of the largest council, plus a
second or two to find the distinct ids and map the digests back, small beside reading and
validating its extracts.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

from schemas.identifiers import POSTCODE_PATTERN, normalise
from schemas.keys import positions
from schemas.outputs import FPD_MEASURES, PROBLEM_COLUMNS, RESEARCH_COLUMNS

# Carried over from the individuals table as they are (codes and flags, nothing identifying).
_FROM_INDIVIDUALS = ["role", "gender", "intervention_status", *PROBLEM_COLUMNS.values()]


class EmptySecretError(ValueError):
    """The pseudonymisation secret is empty: every pseudonym would be guessable."""


def pseudonyms(messages: pd.Series, secret: bytes) -> pd.Series:
    """Lowercase hex HMAC-SHA256 of each message (UTF-8) keyed with ``secret``; missing stays
    missing. Computed once per distinct message."""
    if not secret:
        raise EmptySecretError("the pseudonymisation secret is empty")
    text = messages.astype("str")
    present = text.notna().to_numpy()
    distinct = pd.unique(text[present].to_numpy())
    # The key schedule is computed once; each message costs a copy, an update and a digest.
    copy = hmac.new(secret, digestmod=hashlib.sha256).copy
    found: list[str] = []
    for message in distinct.tolist():
        mac = copy()
        mac.update(message.encode("utf-8"))
        found.append(mac.hexdigest())
    digests = np.array(found, dtype=object)
    where = positions(text, pd.Series(distinct, dtype="str"))
    out = np.full(len(text), None, dtype=object)
    out[where >= 0] = digests[where[where >= 0]]
    return pd.Series(out, index=messages.index, dtype="str")


def id_pseudonyms(la_code: pd.Series, ids: pd.Series, kind: str, secret: bytes) -> pd.Series:
    """Pseudonyms of ``ids`` (``kind`` = ``family`` or ``person``) of the councils in
    ``la_code``, row by row."""
    if kind not in ("family", "person"):
        raise ValueError("kind must be family or person")
    messages = la_code.astype("str") + f":{kind}:" + ids.astype("str")
    return pseudonyms(messages, secret)


def dob_month(dob: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each date; missing when the date is missing."""
    dates = pd.to_datetime(dob)
    return dates.dt.strftime("%Y-%m").astype("str").where(dates.notna())


def postcode_sector(postcode: pd.Series) -> pd.Series:
    """The outward code, a space and the first character of the inward code (``L1 8JQ`` ->
    ``L1 8``); missing when the postcode is missing or not a UK postcode."""
    compact = normalise(postcode)
    valid = compact.str.fullmatch(POSTCODE_PATTERN).fillna(False).astype(bool)
    # The inward code is always three characters (digit, letter, letter), so the outward code is
    # everything before the last three.
    sector = compact.str.slice(0, -3) + " " + compact.str.slice(-3, -2)
    return sector.where(valid).astype("str")


def build_research(individuals: pd.DataFrame, fpd: pd.DataFrame, secret: bytes) -> pd.DataFrame:
    """The research table of a period from its individuals and FPD tables (as
    :func:`transforms.submission.build_submission` makes them): RESEARCH_COLUMNS in order, one
    row per FPD row, sorted by ``person_pseudonym``."""
    where = positions(fpd["person_id"], individuals["person_id"])
    if (where < 0).any():
        raise AssertionError("an FPD person is missing from the individuals table")
    person = individuals.iloc[where].reset_index(drop=True)
    rows = fpd.reset_index(drop=True)
    if not (person["family_id"].to_numpy() == rows["family_id"].to_numpy()).all():
        raise AssertionError("an FPD person is in another family in the individuals table")
    out = pd.DataFrame(
        {
            "family_pseudonym": id_pseudonyms(rows["la_code"], rows["family_id"], "family", secret),
            "person_pseudonym": id_pseudonyms(rows["la_code"], rows["person_id"], "person", secret),
            "la_code": rows["la_code"].astype("str"),
            "census_date": rows["census_date"],
            "dob_month": dob_month(person["dob"]),
            "postcode_sector": postcode_sector(person["postcode"]),
        }
    )
    out = pd.concat([out, person[_FROM_INDIVIDUALS], rows[FPD_MEASURES]], axis=1)
    out = out[RESEARCH_COLUMNS]
    return out.sort_values("person_pseudonym", kind="stable").reset_index(drop=True)
