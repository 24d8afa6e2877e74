"""The end-of-run summary of ``nis hub``: one line per council, with the counts ``nis run``
prints (rows read, quarantined and warned, cohort sizes) and the folder written. Codes, counts,
folder names and paths only, never a value from the data."""

from __future__ import annotations

from exports.plural import counted
from exports.shares import share_text as share
from flows.hub_results import CouncilResult, HubResult
from flows.summary import people_in


def council_line(council: CouncilResult) -> str:
    parts = [f"{council.label}: {council.la_code or '-'} {council.outcome.value}"]
    period = council.period
    if period is not None and period.folder:
        parts[0] += f" - {period.folder}"
    inputs = council.inputs
    if inputs is not None:
        parts.append(
            f"read {inputs.rows_read}, quarantined {inputs.rows_quarantined}, warned "
            f"{counted(inputs.rows_warned, 'row', 'rows')}; "
            f"people quarantined {share(inputs.share)}"
        )
    cohort = period.cohort if period is not None else None
    if cohort is not None:
        parts.append(
            f"NIS {people_in(cohort.nis_people, cohort.nis_families)}, FPD "
            f"{people_in(cohort.fpd_people, cohort.fpd_families)}, "
            f"{cohort.opted_out} opted out"
        )
    if council.message:
        parts.append(("why: " if not council.outcome.ok else "note: ") + council.message)
    if period is not None and not council.outcome.ok and period.report:
        parts.append(f"report {period.report}")
    return " | ".join(parts)


def hub_summary(result: HubResult) -> list[str]:
    """Printed on stdout when a hub run ends (the failed councils are also named in the one
    error line on stderr)."""
    written = sum(1 for c in result.councils if c.outcome.ok)
    lines = [
        f"NIS hub {result.census}: {counted(len(result.councils), 'council', 'councils')}, "
        f"{written} written or up to "
        f"date, {len(result.failed)} failed"
    ]
    lines += [council_line(c) for c in result.councils]
    for la, labels in result.repeated_councils().items():
        lines.append(
            f"warning: folders {', '.join(labels)} all hold council {la}: they write the same "
            f"folder under OUT/{la}/"
        )
    return lines
