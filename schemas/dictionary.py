"""The data dictionary and the rule list, generated from the pandera models and the rule
catalogue so that nothing is written twice. The workbook's Data dictionary sheet and the docs
(``docs/data-dictionary.md``, ``docs/rules.md``) are rendered from here.

    python -m schemas.dictionary docs/   # rewrite the two docs pages
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from schemas.models import MODELS
from schemas.outputs import ChangesRecord, FpdRecord, IndividualsRecord, ResearchRecord
from schemas.rules import RULES

_TYPE_NAMES = {"datetime64[ns]": "date", "Int64": "whole number", "Float64": "decimal (1 place)"}


def _type_name(column: pa.Column) -> str:
    return _TYPE_NAMES.get(str(column.dtype), "text")


def _rows(table: str, model: type[pa.DataFrameModel], *, is_input: bool) -> list[dict[str, str]]:
    rows = []
    for name, column in model.to_schema().columns.items():
        rows.append(
            {
                "table": table,
                "column": name,
                "type": _type_name(column),
                "required": "no"
                if (is_input and not column.required) or column.nullable
                else "yes",
                "description": column.description or "",
                **({"format": (column.metadata or {}).get("format", "")} if is_input else {}),
            }
        )
    return rows


def output_dictionary() -> pd.DataFrame:
    """The two submission tables, column by column, in file order."""
    return pd.DataFrame(
        _rows("individuals", IndividualsRecord, is_input=False)
        + _rows("fpd", FpdRecord, is_input=False)
    )


def changes_dictionary() -> pd.DataFrame:
    """The changes file (spec section 6): internal, so never in the workbook's dictionary."""
    return pd.DataFrame(_rows("changes", ChangesRecord, is_input=False))


def research_dictionary() -> pd.DataFrame:
    """The research extract (internal, never in a submission), column by column, in file order."""
    return pd.DataFrame(_rows("research", ResearchRecord, is_input=False))


def input_dictionary() -> pd.DataFrame:
    """The ten case extracts; ``required`` = no means the column may be absent or empty."""
    rows: list[dict[str, str]] = []
    for name, model in MODELS.items():
        rows.extend(_rows(name, model, is_input=True))
    return pd.DataFrame(rows)


def rules_table() -> pd.DataFrame:
    """Every rule of the registry, sorted by code: where it applies and how to fix it."""
    rows = []
    for rule in sorted(RULES.values(), key=lambda r: r.code):
        places = [
            t.extract if t.column is None else f"{t.extract}.{t.column}" for t in rule.targets
        ]
        rows.append(
            {
                "rule": rule.code,
                "severity": rule.severity.value,
                "kind": rule.kind.value,
                "message": rule.message,
                "applies to": ", ".join(places) or "every extract",
                "how to fix": rule.how_to_fix(),
            }
        )
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body]) + "\n"


def render_dictionary_markdown() -> str:
    return (
        "# Data dictionary\n\n"
        "Generated from the pandera models by `python -m schemas.dictionary docs/`; "
        "do not edit.\n\n"
        "## Submission files\n\n"
        + _markdown(output_dictionary())
        + "\n## Changes file (internal, not for submission)\n\n"
        "`changes_{la_code}_{census}.csv`: one row per change since the previous census "
        "date's submission.\n\n" + _markdown(changes_dictionary()) + "\n## Research extract\n\n"
        "`research_{la_code}_{census}.csv`, written by `nis research-extract`: pseudonymised, for "
        "statistical use; never part of a submission.\n\n"
        + _markdown(research_dictionary())
        + "\n## Case extracts (input)\n\n"
        "`required` = no: the column may be absent from the extract, or empty.\n\n"
        + _markdown(input_dictionary())
    )


def render_rules_markdown() -> str:
    return (
        "# Validation rules\n\n"
        "Generated from the registry in `schemas/rules.py` by\n"
        "`python -m schemas.dictionary docs/`; do not edit. To add a rule, see\n"
        "[adding-a-rule.md](adding-a-rule.md).\n\n"
        "Codes are stable. fatal: the run stops; error: the row (and rows that depend on it) is\n"
        "quarantined; warning: the value is blanked (W206: cleaned) and the row kept. Kinds\n"
        "run in this order: file (the extract as a whole), parse (a cell that cannot be read as\n"
        "its type), field (one value), row (several values of a row), cross-extract (a row\n"
        "against another extract; the E190 cascade last). In the validation report the\n"
        "how-to-fix names the column's own code list or format.\n\n" + _markdown(rules_table())
    )


def write_docs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data-dictionary.md").write_text(render_dictionary_markdown(), encoding="utf-8")
    (folder / "rules.md").write_text(render_rules_markdown(), encoding="utf-8")


if __name__ == "__main__":
    write_docs(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
