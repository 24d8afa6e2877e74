"""``nis_{la_code}_{census}.xlsx``: the two submission tables as sheets, plus a summary and a data
dictionary.

Sheets, in this order:
- ``Individuals`` and ``FPD``: the tables exactly as in the CSV files (same columns, order and
  rows), dates as real Excel dates shown ``yyyy-mm-dd``, numbers as numbers, empty for missing;
- ``Summary``: LA, census date, period, contract version, row counts, people left out by opt-out,
  then the statistics table as published (counts from 1 to 4 shown as ``[c]``, like the CSV);
- ``Data dictionary``: every column of the two tables with its type, whether it may be empty and
  its definition, generated from ``schemas.outputs`` by ``schemas.dictionary`` (the case extracts'
  columns are documented in docs/data-dictionary.md, not in a file that leaves the council).

A sheet holds at most 1,048,576 rows with its header. A table above that is not cut: the workbook
is not written at all, the reason is returned (and recorded in the manifest), and the CSV files,
which have no such limit, carry the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from exports import excel
from exports.files import make_private_dir
from exports.manifest import CONTRACT_VERSION
from exports.statistics import SUPPRESSED, suppressed_statistics
from exports.tables import PreparedTables
from schemas.dictionary import output_dictionary
from transforms.periods import Period


def too_big_reason(prepared: PreparedTables) -> str | None:
    """Why the workbook cannot be written, or None when every sheet fits."""
    limit = excel.EXCEL_MAX_ROWS
    for sheet, table in (("Individuals", prepared.individuals), ("FPD", prepared.fpd)):
        if len(table) + 1 > limit:
            return (
                f"not written: the {sheet} sheet would need {len(table) + 1:,} rows with its "
                f"header and an Excel sheet holds at most {limit:,}; the CSV files hold every row"
            )
    return None


def _summary_counts(statistics: pd.DataFrame) -> pd.DataFrame:
    """The published statistics with counts as numbers where shown, so Excel can add them up."""
    table = suppressed_statistics(statistics)
    shown = table["count"] != SUPPRESSED
    counts = np.asarray(table["count"], dtype=object)
    counts[shown.to_numpy()] = pd.to_numeric(table.loc[shown, "count"]).astype(int).to_list()
    return table.assign(count=pd.Series(counts, index=table.index, dtype=object))


def write_prepared_workbook(
    prepared: PreparedTables, statistics: pd.DataFrame, path: Path, la_code: str, period: Period
) -> str | None:
    """Write the workbook of tables already through ``exports.tables.prepare_tables`` to ``path``
    atomically (mode 0600). Returns None when written, or the reason it was not (a table above
    Excel's row limit)."""
    reason = too_big_reason(prepared)
    if reason is not None:
        return reason
    path = Path(path)
    make_private_dir(path.parent)
    summary = _summary_counts(statistics)
    dictionary = output_dictionary()

    with excel.streaming_workbook(path) as book:
        excel.write_frame_sheet(book, "Individuals", prepared.individuals)
        excel.write_frame_sheet(book, "FPD", prepared.fpd)

        ws = book.sheet("Summary", ["item", "value"], [34, 22, 24, 12], freeze=False)
        facts: list[tuple[str, object]] = [
            ("la_code", la_code),
            ("census_date", period.census),
            ("period_start", period.start),
            ("contract_version", CONTRACT_VERSION),
            ("individuals rows", len(prepared.individuals)),
            ("families in individuals", int(prepared.individuals["family_id"].nunique())),
            ("fpd rows", len(prepared.fpd)),
            ("people left out by opt-out", prepared.opted_out),
        ]
        for item, value in facts:
            ws.append([item, excel.safe_value(ws, value)])
        ws.append([])
        ws.append(excel.bold_row(ws, [f"Statistics (counts from 1 to 4 shown as {SUPPRESSED})"]))
        ws.append(excel.bold_row(ws, list(summary.columns)))
        excel.append_frame(ws, summary)

        excel.write_frame_sheet(book, "Data dictionary", dictionary)
        book.save(path)
    return None
