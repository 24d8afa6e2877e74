"""``nis research-extract``: the terminal side of :func:`flows.research.research_extract`.

Exit codes as for ``nis run``: 0 written (or already there with the same bytes); 1 the quarantine
threshold was exceeded (nothing written) or the file could not be written; 2 nothing was read
because of a user's mistake (a bad config or census date, a missing extract, no pseudonymisation
key), with one line naming it and no traceback. The key is never printed; where it came from is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from exports.audit import AuditRecord, output_name
from exports.paths import check_output_root
from exports.plural import counted
from exports.shares import share_text as share
from flows.pseudonym_key import SecretError, load_pseudonym_key
from flows.research import WRITE_ERRORS, ResearchRun, research_extract
from flows.settings import ConfigError, Settings, load_settings
from nis_pipeline.audit_scope import CommandAudit
from schemas.errors import ExitCode, PipelineError
from schemas.models import EXTRACT_NAMES
from transforms.periods import check_census_not_after, parse_census

# After the extracts were read: a database gone for good, or the file could not be written.
_FAILURES: tuple[type[Exception], ...] = (ConnectionError, *WRITE_ERRORS)


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _check_source(settings: Settings) -> None:
    """Fail fast on a missing extract, before a Prefect Secret block is looked up."""
    from extracts.reader import find_extract_file

    if settings.source.url is not None:
        return
    if settings.source.path is None:
        raise ConfigError("no source given: pass --source DIR or set [source] path in the config")
    for name in EXTRACT_NAMES:
        find_extract_file(Path(settings.source.path), name)


def _record_run(record: AuditRecord, out_root: Path, run: ResearchRun) -> None:
    record.la_code = run.la_code
    record.set_inputs(run.validation.counts)
    if run.cohort is not None:
        c = run.cohort
        record.counts.update(
            nis_people=c.nis_people,
            nis_families=c.nis_families,
            fpd_people=c.fpd_people,
            fpd_families=c.fpd_families,
            people_opted_out=c.opted_out,
        )
    written = run.written
    if written is not None:
        record.counts["research_rows"] = written.rows
        record.details["research_file"] = written.status
        record.add_output(out_root, written.path, written.sha256, rows=written.rows)
        if written.kept_aside is not None:
            record.details["kept_aside"] = [output_name(out_root, written.kept_aside)]


def research_command(
    census: str, source: Path | None, config: Path | None, out: Path | None, audit: CommandAudit
) -> int:
    record = audit.record
    record.census = census
    try:
        settings = load_settings(config, source_path=source, output_dir=out)
        audit.use_settings(settings)
        day = parse_census(census)
        record.census = day.isoformat()
        # As nis run refuses it: the "at census" measures of a period that had not ended.
        check_census_not_after(day, settings.resolved_extract_date())
        check_output_root(Path(settings.output_dir))
        _check_source(settings)
        key = load_pseudonym_key(settings.pseudonym_secret)
    except (PipelineError, SecretError) as exc:
        return _error(str(exc), getattr(exc, "exit_code", ExitCode.FATAL))
    record.details["key_source"] = key.source
    if key.short:
        print(
            "warning: the pseudonymisation key is shorter than 32 characters: whoever knows one "
            "person's id could find a short key by trying keys, and then re-identify everyone; "
            "use a long random key",
            file=sys.stderr,
        )
    out_root = Path(settings.output_dir)
    try:
        run = research_extract(settings, day, key.value)
    except _FAILURES as exc:
        return _error(str(exc), ExitCode.FAILED)
    except PipelineError as exc:
        return _error(str(exc), exc.exit_code)
    _record_run(record, out_root, run)
    counts = run.validation.counts
    print(
        f"read and validated {len(counts)} extracts: {int(counts['rows_read'].sum())} rows, "
        f"{int(counts['quarantined'].sum())} quarantined, {int(counts['warned'].sum())} warned; "
        f"people quarantined {share(run.share)} (threshold {share(run.threshold)})"
    )
    if run.written is None:
        from flows.summary import validation_summary

        for line in validation_summary(run.validation, run.threshold):
            print(line)
        return _error(
            f"{share(run.share)} of people rows quarantined, above the threshold "
            f"{share(run.threshold)}: no research extract written; `nis validate --report FILE` "
            "lists every finding",
            ExitCode.FAILED,
        )
    written = run.written
    print(
        f"{day.isoformat()}: research extract {written.status} - {written.path} "
        f"({counted(written.rows, 'person', 'people')}, key from {key.source})"
    )
    if written.kept_aside is not None:
        print(f"the previous research extract, which differed, is kept as {written.kept_aside}")
    return ExitCode.OK
