"""Read an extract from a SQL database through SQLAlchemy (SQLite in tests; PostgreSQL or SQL
Server in production, chosen by the URL)."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import sqlalchemy as sa

from extracts.source import ExtractSource
from schemas.raw import number_rows
from schemas.rules import RULES, FatalInputError


def read_sql_extract(source: ExtractSource, name: str) -> tuple[str, pd.DataFrame, str]:
    assert source.url is not None
    query = source.queries.get(name)
    table = source.tables.get(name, name)
    label = f"query for {name}" if query else f"table {table}"
    try:
        engine = sa.create_engine(source.url)
    except Exception as exc:
        raise FatalInputError(RULES["F002"], "database", f"bad URL: {type(exc).__name__}") from None
    try:
        with engine.connect() as connection:
            if query:
                frame = pd.read_sql_query(
                    sa.text(query), connection, dtype_backend="numpy_nullable"
                )
            else:
                # "schema.table" names a table outside the default schema (e.g. yot.offences).
                schema, _, bare = table.rpartition(".")
                if not sa.inspect(connection).has_table(bare, schema=schema or None):
                    raise FatalInputError(RULES["F001"], label, "table not found")
                columns = _columns(connection, bare, schema or None)
                selected = sa.select(sa.table(bare, *columns, schema=schema or None))
                frame = pd.read_sql_query(selected, connection, dtype_backend="numpy_nullable")
    except FatalInputError:
        raise
    except sa.exc.OperationalError as exc:
        # Connection problems are worth a retry by the caller; keep the driver text out (it can
        # echo SQL with literals).
        raise ConnectionError(
            f"{label}: database unavailable ({type(exc.orig).__name__})"
        ) from None
    except Exception as exc:
        raise FatalInputError(RULES["F002"], label, type(exc).__name__) from None
    finally:
        engine.dispose()
    return label, number_rows(frame), sha256_of_frame(frame)


def sha256_of_frame(frame: pd.DataFrame) -> str:
    """A stable digest of a frame read from a database (there are no file bytes to hash)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def _columns(connection: sa.Connection, table: str, schema: str | None) -> list[sa.ColumnClause]:
    return [sa.column(c["name"]) for c in sa.inspect(connection).get_columns(table, schema=schema)]
