"""Plain-text summaries of a validation, for the terminal and for logs: counts and rule codes
only, never a value from the data."""

from __future__ import annotations

from schemas.validation import ValidationResult


def validation_summary(result: ValidationResult, threshold: float, top: int = 5) -> list[str]:
    lines = [f"{'extract':<26}{'source':<32}{'read':>9}{'quarantined':>13}{'warned':>9}"]
    for row in result.counts.to_dict("records"):
        lines.append(
            f"{row['extract']:<26}{str(row['source'])[:31]:<32}{row['rows_read']:>9}"
            f"{row['quarantined']:>13}{row['warned']:>9}"
        )
    share = result.people_quarantined_share
    lines.append(
        f"people quarantined: {share:.1%} (threshold {threshold:.1%})"
        + (" - EXCEEDED, no submission may be written" if share > threshold else "")
    )
    rules = result.top_rules(top)
    if not rules.empty:
        lines.append("top rules:")
        for rule in rules.itertuples(index=False):
            lines.append(f"  {rule.rule} {rule.severity:<8}{rule.count:>8}  {rule.message}")
    return lines
