"""The generated docs must match the models: a model change without `python -m schemas.dictionary
docs/` fails here instead of leaving a stale data dictionary."""

from pathlib import Path

from schemas.dictionary import (
    changes_dictionary,
    output_dictionary,
    render_dictionary_markdown,
    render_rules_markdown,
)
from schemas.outputs import CHANGES_COLUMNS, FPD_COLUMNS, INDIVIDUALS_COLUMNS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_data_dictionary_page_is_current() -> None:
    assert (DOCS / "data-dictionary.md").read_text(encoding="utf-8") == render_dictionary_markdown()


def test_rules_page_is_current() -> None:
    assert (DOCS / "rules.md").read_text(encoding="utf-8") == render_rules_markdown()


def test_output_dictionary_lists_every_output_column_in_order_with_a_description() -> None:
    table = output_dictionary()
    assert table.loc[table["table"] == "individuals", "column"].tolist() == INDIVIDUALS_COLUMNS
    assert table.loc[table["table"] == "fpd", "column"].tolist() == FPD_COLUMNS
    assert (table["description"].str.len() > 5).all()
    assert "nhs_number" not in set(table["column"]) and "ethnicity" not in set(table["column"])


def test_changes_file_is_documented_apart_from_the_submission_tables() -> None:
    # The workbook's dictionary (output_dictionary) leaves the council: the internal changes
    # file is documented in the docs only.
    assert "changes" not in set(output_dictionary()["table"])
    table = changes_dictionary()
    assert table["column"].tolist() == CHANGES_COLUMNS
    assert (table["description"].str.len() > 5).all()
    assert "## Changes file (internal" in render_dictionary_markdown()
