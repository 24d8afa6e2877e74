"""What ``nis research-extract`` does (spec section 7): read and validate the extracts as a run
does, compute the period's two submission tables, pseudonymise them into the research table and
write it into the census folder.

A plain function, not a Prefect flow: the extract is made by hand, now and then, and Prefect's
temporary API server would add some ten seconds of start-up (more on a fresh machine) for no
scheduling, retries or UI. The audit log records no flow run for it; called from inside a flow
run, the CLI's audit picks that run's id up. A database source is therefore not retried: run the
command again.

The quarantine threshold is respected as ``nis run`` does: above it, no research extract is
written (a research extract of a badly broken extract would mislead), the result says so, and the
command exits 1. The validation report is not written: ``nis validate`` writes it where the
analyst asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from exports.paths import OutputPathError, reason
from exports.research import (
    ResearchFolderError,
    ResearchTableError,
    ResearchWritten,
    write_research,
)
from exports.submission import SubmissionBusyError
from extracts.reader import read_extracts
from flows.artifacts import CohortSizes, cohort_sizes
from flows.db_password import source_password
from flows.results import StageError, guarded
from flows.settings import Settings
from schemas.errors import PipelineError
from schemas.validation import ValidationResult, validate
from transforms.periods import Period
from transforms.research import build_research
from transforms.submission import build_submission


# What makes the command fail after reading the extracts (exit 1); their messages hold paths,
# columns, checks and exception types only.
class ResearchWriteError(PipelineError):
    """The research extract could not be written (a full disk, a folder without permission)."""


WRITE_ERRORS: tuple[type[Exception], ...] = (
    SubmissionBusyError,
    ResearchFolderError,
    ResearchTableError,
    ResearchWriteError,
    StageError,
)


@dataclass(frozen=True)
class ResearchRun:
    la_code: str
    census: date
    validation: ValidationResult
    threshold: float
    written: ResearchWritten | None = None  # None when the threshold was exceeded
    cohort: CohortSizes | None = None

    @property
    def share(self) -> float:
        return self.validation.people_quarantined_share

    @property
    def threshold_exceeded(self) -> bool:
        return self.share > self.threshold


def research_extract(settings: Settings, census: date, key: bytes) -> ResearchRun:
    """Write the research extract of ``census`` under ``settings.output_dir``.

    Raises what stops a run before any period (``FatalInputError``, ``ConnectionError``) for
    the caller to report; an unexpected failure inside a stage is a ``StageError`` naming the
    stage and the exception type only; a failure to write is one of ``WRITE_ERRORS``.
    """
    raw = read_extracts(settings.extract_source(source_password(settings)))
    validation = guarded(
        "validation", validate, raw, settings.resolved_extract_date(), settings.la_code
    )
    del raw  # the raw text frames are not needed past validation
    la_code = validation.la_code
    threshold = settings.quarantine_threshold
    if validation.people_quarantined_share > threshold:
        return ResearchRun(la_code, census, validation, threshold)
    tables = guarded(
        f"computing {census.isoformat()}", build_submission, validation.clean, Period(census)
    )
    table = guarded("pseudonymising", build_research, tables.individuals, tables.fpd, key)
    cohort = cohort_sizes(tables.individuals, tables.fpd, tables.opted_out)
    out_root = Path(settings.output_dir)
    try:
        written = write_research(out_root, la_code, census, table)
    except (SubmissionBusyError, ResearchFolderError, ResearchTableError, OutputPathError):
        raise  # their messages name the folder, columns and checks only
    except OSError as exc:
        raise ResearchWriteError(
            f"cannot write the research extract under {out_root / la_code}: {reason(exc)}"
        ) from None
    except Exception as exc:
        raise StageError(f"writing the research extract of {census.isoformat()}", exc) from None
    return ResearchRun(la_code, census, validation, threshold, written, cohort)
