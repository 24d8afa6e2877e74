"""Helpers of the PostgreSQL tests: a council-like case database built from synthetic extracts.

The extracts go into tables with the council's own names (some in other schemas, one with a
mixed-case name, one with the council's own column names read through a query), some as plain
text and some typed as a case system holds them (DATE, INTEGER), blanks stored as NULL in some
tables and as empty strings in others. A read-only role reads them, as a council's reporting
login would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from embedded_pg import PASSWORD_ROLE, EmbeddedPostgres
from sqlalchemy.pool import NullPool

from schemas.models import MODELS

DATABASE = "casework"
READER = "nis_reader"
PASSWORD = "correct horse's battery staple"  # spaces and a quote, as real ones have


@dataclass(frozen=True)
class Placement:
    """Where and how one extract is stored in the case database."""

    table: str  # "schema.table" outside public
    typed: bool  # DATE and INTEGER columns, or every column TEXT
    blanks_as_null: bool = True  # a blank cell as NULL, or as an empty string
    renamed: Mapping[str, str] = field(default_factory=dict)  # contract column -> council's


# Every extract under another name; text and typed tables, NULL and empty-string blanks.
PLACEMENTS: dict[str, Placement] = {
    "families": Placement("eh_families", typed=False, blanks_as_null=False),
    "people": Placement("CaseWork.EH_People", typed=True),
    "eligibility": Placement("eh_eligibility", typed=False),
    "school_attendance": Placement(
        "edu.pupil_attendance",
        typed=True,
        renamed={
            "person_id": "pupil_ref",
            "term_start": "term_from",
            "term_end": "term_to",
            "possible_sessions": "sessions_possible",
            "authorised_absence_sessions": "auth_abs",
            "unauthorised_absence_sessions": "unauth_abs",
        },
    ),
    "exclusions": Placement("edu.exclusions", typed=True),
    "offences": Placement("yot.offences", typed=True),
    "asb_incidents": Placement("eh_asb_incidents", typed=False, blanks_as_null=False),
    "domestic_abuse_incidents": Placement("eh_da_incidents", typed=True),
    "social_care_episodes": Placement("csc.episodes", typed=True),
    "employment_spells": Placement("dwp_spells", typed=False),
}

# The one extract read through a query that renames the council's columns back.
ATTENDANCE_QUERY = (
    "SELECT pupil_ref AS person_id, term_from AS term_start, term_to AS term_end, "
    "sessions_possible AS possible_sessions, auth_abs AS authorised_absence_sessions, "
    "unauth_abs AS unauthorised_absence_sessions FROM edu.pupil_attendance"
)


def engine(url: str) -> sa.Engine:
    # No pool: a test that restarts the server must not meet a dead pooled connection.
    return sa.create_engine(url, poolclass=NullPool)


@contextmanager
def admin(server: EmbeddedPostgres, database: str = "postgres") -> Iterator[sa.Connection]:
    with engine(server.admin_url(database)).connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def create_case_database(server: EmbeddedPostgres, extracts: Path) -> None:
    """The case database with all ten extracts, readable by :data:`READER` (trusted login)
    and by the password role."""
    with admin(server) as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
        for role in (READER, PASSWORD_ROLE):
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first()
            if not exists:
                connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        connection.execute(sa.text(f"ALTER ROLE {PASSWORD_ROLE} PASSWORD {_literal(PASSWORD)}"))
    with admin(server, DATABASE) as connection:
        schemas = {p.table.rpartition(".")[0] for p in PLACEMENTS.values()} - {""}
        for schema in sorted(schemas):
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for name, placement in PLACEMENTS.items():
            load_extract(connection, extracts / f"{name}.csv", name, placement)
        for schema in ["public", *sorted(schemas)]:
            for role in (READER, PASSWORD_ROLE):
                connection.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
                connection.execute(
                    sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
                )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_extract(connection: sa.Connection, csv_path: Path, name: str, place: Placement) -> None:
    """Create the table and fill it with COPY (as a DBA's bulk load would, and fast)."""
    text = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_filter=False)
    kinds = {c: _kind(name, c) if place.typed else "text" for c in text.columns}
    columns = [
        sa.Column(place.renamed.get(c, c), {"date": sa.Date, "int": sa.Integer}.get(k, sa.Text))
        for c, k in kinds.items()
    ]
    schema, _, bare = place.table.rpartition(".")
    table = sa.Table(bare, sa.MetaData(), *columns, schema=schema or None)
    table.create(connection)
    body = text.copy()
    for column, kind in kinds.items():
        if kind == "date":
            body[column] = body[column].map(_iso_date)
    # In COPY's CSV format an unquoted empty field is NULL; FORCE_NOT_NULL reads it as ''.
    options = "FORMAT csv"
    if not place.blanks_as_null:
        quoted = ", ".join(f'"{c.name}"' for c in columns)
        options += f", FORCE_NOT_NULL ({quoted})"
    target = connection.dialect.identifier_preparer.format_table(table)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {target} FROM STDIN ({options})") as copy:
        copy.write(body.to_csv(index=False, header=False))


def _kind(name: str, column: str) -> str:
    return str((MODELS[name].to_schema().columns[column].metadata or {}).get("kind", "text"))


def _iso_date(value: str) -> str:
    # The synthetic files mix ISO and UK dates, as councils' exports do; a DATE column holds
    # the date, whichever way it was written.
    if not value:
        return ""
    fmt = "%d/%m/%Y" if "/" in value else "%Y-%m-%d"
    return dt.datetime.strptime(value, fmt).date().isoformat()


def source_config(
    server: EmbeddedPostgres,
    path: Path,
    *,
    user: str = READER,
    head: str = "",
    source_lines: str = "",
    queries: Mapping[str, str] | None = None,
) -> Path:
    """A config file naming the case database (no password in it) and where each extract is;
    ``queries`` adds (or replaces) queries for some extracts."""
    tables = "\n".join(
        f'{name} = "{p.table}"' for name, p in PLACEMENTS.items() if name != "school_attendance"
    )
    all_queries = {"school_attendance": ATTENDANCE_QUERY, **(queries or {})}
    path.write_text(
        head
        + "[source]\n"
        + f'url = "{server.url(user, DATABASE)}"\n'
        + source_lines
        + "[source.tables]\n"
        + tables
        + "\n[source.queries]\n"
        + "".join(f'{name} = "{query}"\n' for name, query in all_queries.items()),
        encoding="utf-8",
    )
    return path
