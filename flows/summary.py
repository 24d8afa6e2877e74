"""Plain-text summaries for the terminal: counts, codes, dates and paths only, never a value from
the data. Each thing is said once: the summary of a run repeats no line a failure already said.
"""

from __future__ import annotations

from exports.plural import counted
from exports.shares import share_text as share
from flows.results import InputSummary, PeriodResult, RunResult
from schemas.validation import ValidationResult


def column_lines(notes: tuple[str, ...] | list[str]) -> list[str]:
    """The headers no contract column matched, for the top of a summary."""
    if not notes:
        return []
    return ["headers the contract does not know:", *(f"  {note}" for note in notes)]


def validation_summary(result: ValidationResult, threshold: float, top: int = 5) -> list[str]:
    lines = column_lines(result.column_notes)
    lines.append(f"{'extract':<26}{'source':<32}{'read':>9}{'quarantined':>13}{'warned':>9}")
    for row in result.counts.to_dict("records"):
        lines.append(
            f"{row['extract']:<26}{str(row['source'])[:31]:<32}{row['rows_read']:>9}"
            f"{row['quarantined']:>13}{row['warned']:>9}"
        )
    people_share = result.people_quarantined_share
    lines.append(
        f"people quarantined: {share(people_share)} (threshold {share(threshold)})"
        + (" - EXCEEDED, no submission may be written" if people_share > threshold else "")
    )
    rules = result.top_rules(top)
    if not rules.empty:
        lines.append("top rules:")
        for rule in rules.itertuples(index=False):
            lines.append(f"  {rule.rule} {rule.severity:<8}{rule.count:>8}  {rule.message}")
    return lines


def people_in(people: int, families: int) -> str:
    """A cohort's size, as in "1 person in 1 family" and "17 people in 5 families"."""
    return f"{counted(people, 'person', 'people')} in {counted(families, 'family', 'families')}"


def _inputs_lines(inputs: InputSummary) -> list[str]:
    over = inputs.share > inputs.threshold
    return [
        f"  rows read         {inputs.rows_read}",
        f"  quarantined       {counted(inputs.rows_quarantined, 'row', 'rows')}; people "
        f"{inputs.people_quarantined} "
        f"of {inputs.people_read} ({share(inputs.share)}, threshold {share(inputs.threshold)}"
        + (", exceeded)" if over else ")"),
        f"  warnings          {counted(inputs.rows_warned, 'row', 'rows')} (values sent empty)",
    ]


def _period_lines(period: PeriodResult, several: bool) -> list[str]:
    lines = [
        f"{period.census}: {period.outcome.value}"
        + (f" - {period.folder}" if period.folder else "")
    ]
    cohort = period.cohort
    if cohort is not None:
        lines += [
            f"  NIS cohort        {people_in(cohort.nis_people, cohort.nis_families)}",
            f"  FPD cohort        {people_in(cohort.fpd_people, cohort.fpd_families)}",
            f"  opted out         {counted(cohort.opted_out, 'person', 'people')} (in no file)",
        ]
    if period.changes_line():
        lines.append(f"  {period.changes_line()}")
    if period.message and (period.outcome.ok or several):
        # A lone period's failure is the run's error line; in a backfill, that line only names
        # the periods, so each says why here.
        label = "note" if period.outcome.ok else "why"
        lines.append(f"  {label:<18}{period.message}")
    if period.report:
        lines.append(f"  open the report   {period.report}")
    return lines


def run_summary(result: RunResult) -> list[str]:
    """The end-of-run summary of ``nis run`` and ``nis backfill`` (stdout). A failed period's
    reason is not repeated here: it is the one error line on stderr."""
    lines = column_lines(result.inputs.column_notes) if result.inputs else []
    if result.periods:
        first = result.periods[0]
        dates = (
            first.census
            if len(result.periods) == 1
            else (f"{first.census} to {result.periods[-1].census}")
        )
        lines.append(f"NIS {result.la_code or ''} {dates}".replace("  ", " "))
    if result.inputs is not None:
        lines += _inputs_lines(result.inputs)
    for period in result.periods:
        lines += _period_lines(period, several=len(result.periods) > 1)
    return lines
