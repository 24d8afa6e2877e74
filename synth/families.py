"""The families extract: who was identified when, and what became of their support."""

from __future__ import annotations

import numpy as np

from synth.calendar import ACTIVITY_END, EXTRACT_DATE, IDENTIFIED_FROM, IDENTIFIED_TO
from synth.table import NAT, Table, days
from synth.vocab import INTENSITIES

LA_CODE = "E08000012"  # Liverpool


def ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(numbers.astype(np.int64).astype(str), width))


def make_families(rng: np.random.Generator, n: int) -> Table:
    span = int((IDENTIFIED_TO - IDENTIFIED_FROM).astype(int))
    identified = IDENTIFIED_FROM + days(rng.integers(0, span + 1, n))
    # What the council did: 0 comparison group (identified, awaiting support), 1 supported,
    # 2 declined, 3 found not eligible after all.
    kind = rng.choice(4, size=n, p=[0.16, 0.70, 0.07, 0.07])
    started = identified + days(np.round(rng.gamma(2.0, 20.0, n)))
    ended = started + days(rng.integers(120, 731, n))
    supported = (kind == 1) & (started <= ACTIVITY_END)
    closed = supported & (ended <= ACTIVITY_END)
    attached = supported & ~closed
    status = np.select(
        [closed, attached, kind == 2, kind == 3],
        ["CLOSED", "ATTACHED", "DECLINED", "NOT_ELIGIBLE"],
        default="IDENTIFIED",
    )
    started = np.where(supported, started, NAT)
    ended = np.where(closed, ended, NAT)

    # Half of the closed families have a results claim, most for significant and sustained
    # progress; a claim follows the end of support within a few months.
    claimed = closed & (rng.random(n) < 0.5)
    claim_type = np.where(claimed, np.where(rng.random(n) < 0.75, "SSP", "CE"), "")
    claim_date = ended + days(rng.integers(0, 121, n))
    claim_date = np.where(claim_date > np.datetime64(EXTRACT_DATE, "D"), ended, claim_date)
    claim_date = np.where(claimed, claim_date, NAT)

    intensity = INTENSITIES[rng.integers(0, len(INTENSITIES), n)]
    intensity = np.where(supported & (rng.random(n) < 0.9), intensity, "")

    return Table(
        "families",
        {
            "family_id": ids("F", np.arange(1, n + 1), 7),
            "la_code": np.full(n, LA_CODE),
            "date_identified": identified,
            "date_support_started": started,
            "date_support_ended": ended,
            "status": status.astype("<U12"),
            "claim_type": claim_type.astype("<U3"),
            "claim_date": claim_date,
            "intensity": intensity.astype("<U11"),
        },
    )
