"""The two submission tables of a period, built together from the clean extracts."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from schemas.keys import isin
from transforms.cohorts import cohort_members, nis_cohort
from transforms.fpd import compute_fpd
from transforms.individuals import build_individuals
from transforms.inputs import extract
from transforms.periods import Period


@dataclass(frozen=True)
class SubmissionTables:
    individuals: pd.DataFrame
    fpd: pd.DataFrame
    # People of the NIS cohort left out of every file because they opted out (for the manifest).
    opted_out: int


def count_opted_out(extracts: Mapping[str, pd.DataFrame], period: Period) -> int:
    """People of the NIS cohort of ``period`` who opted out."""
    families = extract(extracts, "families")
    cohort = nis_cohort(families, period)
    return len(cohort_members(cohort, extract(extracts, "people"), period, opted_out=True))


def build_submission(extracts: Mapping[str, pd.DataFrame], period: Period) -> SubmissionTables:
    """The individuals and FPD tables of ``period`` from the clean extracts."""
    # The two tables read the same extracts and nothing of each other; much of each is in
    # kernels that release the GIL, so building them at once takes two thirds of the time.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nis-fpd") as pool:
        fpd_built = pool.submit(compute_fpd, extracts, period)
        individuals = build_individuals(extracts, period)
        fpd = fpd_built.result()
    # The FPD cohort is a subset of the NIS cohort by construction; a person in FPD without an
    # individuals row would be a submission the receiving side cannot link.
    if not isin(fpd["person_id"], individuals["person_id"]).all():
        raise AssertionError("an FPD person is missing from the individuals table")
    return SubmissionTables(
        individuals=individuals, fpd=fpd, opted_out=count_opted_out(extracts, period)
    )
