"""``nis purge``: the terminal side of :mod:`exports.retention`.

Prints each path it removes (``removed PATH``) or, with ``--dry-run``, would remove (``would
remove PATH``), and records them in the audit log. Exit 0 when everything listed was removed (or
nothing was due); 1 when something could not be removed (named on stderr, with why); 2 when
``--before`` is not a date or the config cannot be used.
"""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

from exports.audit import output_name
from exports.paths import OutputPathError, check_output_root
from exports.retention import PurgeItem, plan_purge, purge
from flows.settings import ConfigError, load_settings
from nis_pipeline.audit_scope import CommandAudit
from schemas.errors import ExitCode
from transforms.periods import census_shape, typed_date


class PurgeDateError(ValueError):
    pass


def parse_before(text: str) -> date:
    """``--before``: an ISO calendar date, YYYY-MM-DD (any day, not only a census date)."""
    value = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PurgeDateError(f"--before {typed_date(value)} is not a date: give it as YYYY-MM-DD")


def _record_scope(audit: CommandAudit, items: list[PurgeItem]) -> None:
    """The census dates and councils due for removal, in the audit line's own fields: one date,
    or the range "C1/C2" (ISO 8601 interval); the council when there is one (a council's config
    sets it already), and each council under ``councils``. What was removed, and what could not
    be, is listed path by path beside them."""
    record = audit.record
    censuses = sorted({item.census for item in items})
    if censuses:
        first, last = censuses[0].isoformat(), censuses[-1].isoformat()
        record.census = first if first == last else f"{first}/{last}"
    councils = sorted({item.la_code for item in items})
    record.details["councils"] = councils
    if record.la_code is None and len(councils) == 1:
        record.la_code = councils[0]


def purge_command(
    before: str, config: Path | None, out: Path | None, dry_run: bool, audit: CommandAudit
) -> int:
    record = audit.record
    record.details["dry_run"] = dry_run
    # Until it parses, only in a date's shape: a name typed into the wrong field, or ten
    # thousand characters, must not reach the audit log (as for --census).
    record.details["before"] = census_shape(before.strip())
    try:
        settings = load_settings(config, output_dir=out)
        audit.use_settings(settings)
        day = parse_before(before)
        check_output_root(Path(settings.output_dir))
    except (ConfigError, PurgeDateError, OutputPathError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FATAL
    record.details["before"] = day.isoformat()
    out_root = Path(settings.output_dir)
    # A council's config purges that council only; without one, every LA folder in OUT.
    la_codes = [settings.la_code] if settings.la_code else None
    plan = plan_purge(out_root, day, la_codes)
    for path, why in plan.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    record.details["skipped"] = [output_name(out_root, p) for p, _ in plan.skipped]
    _record_scope(audit, plan.items)
    if dry_run:
        for item in plan.items:
            print(f"would remove {item.path}")
        record.details["would_remove"] = [output_name(out_root, i.path) for i in plan.items]
        record.counts["paths_to_remove"] = len(plan.items)
        print(
            f"dry run: {len(plan.items)} paths of census dates before {day.isoformat()} would be "
            "removed; nothing was removed"
        )
        return ExitCode.OK
    result = purge(out_root, plan)
    for item in result.removed:
        print(f"removed {item.path}")
    record.details["removed"] = [output_name(out_root, i.path) for i in result.removed]
    record.details["not_removed"] = [output_name(out_root, p) for p, _ in result.failed]
    record.counts["paths_removed"] = len(result.removed)
    print(f"removed {len(result.removed)} paths of census dates before {day.isoformat()}")
    if result.failed:
        for path, why in result.failed:
            print(f"error: could not remove {path}: {why}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK
