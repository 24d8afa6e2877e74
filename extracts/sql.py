"""Read an extract from a SQL database: PostgreSQL through ADBC, anything else (SQLite in tests,
SQL Server) through SQLAlchemy.

Large tables never sit in memory twice and are never fetched row by row:

- PostgreSQL is read with the ADBC driver (``adbc-driver-postgresql``), which runs the query as
  ``COPY ... TO STDOUT (FORMAT binary)`` and decodes it straight into Arrow record batches; each
  batch becomes a typed frame exactly as a parquet file's columns do.
- Other databases go through SQLAlchemy with a server-side cursor (``stream_results``), fetched
  ``chunk_rows`` rows at a time; each cell is rendered by its own type, as an xlsx cell is.

Each chunk is rendered as text as it arrives (the same :func:`column_to_text` a parquet or xlsx
cell goes through, so a DATE column, an INTEGER column and a text column of the same values all
read the same) and added to a running SHA-256 of the text as CSV: the digest equals
:func:`extracts.digest.sha256_of_frame` of the whole text frame, whatever the chunks.

Nothing here knows where the settings came from: the caller passes a :class:`SqlSource` of plain
values, and the password (from the environment or a secret store, resolved by the caller) is set
on the URL object only when connecting. Error messages hold the extract's table label, the
exception's type and an SQLSTATE, never SQL, a value or the URL.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from extracts.digest import frame_csv_bytes
from extracts.text import column_to_text
from schemas.raw import number_rows
from schemas.rules import RULES, FatalInputError

# Rows per chunk on the SQLAlchemy path, and the size ADBC aims its Arrow batches at.
CHUNK_ROWS = 100_000
BATCH_BYTES = 16 * 2**20

# SQLSTATE classes and codes of a lost or refused connection: worth a retry.
_CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLSTATEs of a table or schema that does not exist.
_MISSING_TABLE_SQLSTATES = ("42P01", "3F000")
# libpq's words for a refused login (the connection error carries no SQLSTATE).
_LOGIN_REFUSED = ("password authentication failed", "no password supplied", "authentication fail")


@dataclass(frozen=True)
class SqlSource:
    """Where the extracts live in a database: a SQLAlchemy URL without a password, the table
    (``schema.table`` outside the default schema) or query per extract, and the password to
    connect with, if any."""

    url: str
    tables: Mapping[str, str] = field(default_factory=dict)
    queries: Mapping[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)


class _Digest:
    """:func:`extracts.digest.sha256_of_frame` of a text frame, fed one chunk at a time."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._header = True

    def add(self, chunk: pd.DataFrame) -> None:
        self._hash.update(frame_csv_bytes(chunk, header=self._header))
        self._header = False

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def read_sql_extract(
    source: SqlSource, name: str, *, chunk_rows: int = CHUNK_ROWS, batch_bytes: int = BATCH_BYTES
) -> tuple[str, pd.DataFrame, str]:
    """Read one extract as text: its label (``table X`` or ``query for X``), the text frame
    indexed by source row number, and the digest of the text.

    Raises :class:`ConnectionError` when the database cannot be reached or the connection is
    lost mid-pull (nothing partial is returned), and :class:`FatalInputError` for a bad URL, a
    refused login, a missing table or a query that fails.
    """
    query = source.queries.get(name)
    table = source.tables.get(name, name)
    label = f"query for {name}" if query else f"table {table}"
    url = _connection_url(source, label)
    digest = _Digest()
    chunks: list[pd.DataFrame] = []
    if url.get_backend_name() == "postgresql":
        pieces = _read_postgres(url, query, table, label, batch_bytes)
    else:
        pieces = _read_sqlalchemy(url, query, table, label, chunk_rows)
    try:
        for raw in pieces:
            text = _as_text(raw)
            digest.add(text)
            chunks.append(text)
    except (FatalInputError, ConnectionError):
        raise
    except Exception as exc:
        raise _translate(exc, label, table_source=query is None) from None
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    return label, number_rows(frame), digest.hexdigest()


def column_names(source: SqlSource, name: str) -> tuple[str, list[str]]:
    """The label and the column names of one extract's table or query, reading one small chunk
    at most (for ``nis columns``)."""
    query = source.queries.get(name)
    table = source.tables.get(name, name)
    label = f"query for {name}" if query else f"table {table}"
    url = _connection_url(source, label)
    if url.get_backend_name() == "postgresql":
        pieces = _read_postgres(url, query, table, label, 1024)
    else:
        pieces = _read_sqlalchemy(url, query, table, label, 1)
    try:
        first = next(pieces)
    except (FatalInputError, ConnectionError):
        raise
    except Exception as exc:
        raise _translate(exc, label, table_source=query is None) from None
    finally:
        pieces.close()
    return label, [str(c) for c in first.columns]


def _connection_url(source: SqlSource, label: str) -> URL:
    try:
        url = make_url(source.url)
    except Exception:
        raise FatalInputError(RULES["F002"], label, "source.url is not a SQLAlchemy URL") from None
    if source.password is not None:
        url = url.set(password=source.password)
    return url


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text (missing stays missing), by position: a query may repeat a name,
    which the caller reports."""
    names = list(frame.columns)
    columns = {i: column_to_text(frame.iloc[:, i]) for i in range(len(names))}
    return pd.DataFrame(columns, index=frame.index).set_axis(names, axis=1)


# --- PostgreSQL: ADBC, straight into Arrow -------------------------------------------------------


def _read_postgres(
    url: URL, query: str | None, table: str, label: str, batch_bytes: int
) -> Generator[pd.DataFrame, None, None]:
    try:
        from adbc_driver_postgresql import StatementOptions, dbapi
    except ImportError:
        raise FatalInputError(
            RULES["F002"],
            label,
            "the PostgreSQL driver is not installed: pip install -e '.[postgres]'",
        ) from None
    from sqlalchemy.dialects import postgresql

    if query is None:
        schema, _, bare = table.rpartition(".")
        # SQLAlchemy's quoting rules, so a mixed-case name means what it does on the other path.
        quoted = postgresql.dialect().identifier_preparer.format_table(
            sa.table(bare, schema=schema or None)
        )
        query = f"SELECT * FROM {quoted}"
    with dbapi.connect(_libpq_conninfo(url)) as connection, connection.cursor() as cursor:
        cursor.adbc_statement.set_options(
            **{StatementOptions.BATCH_SIZE_HINT_BYTES.value: str(batch_bytes)}
        )
        # The read's transaction is read only, enforced by the server: a query that writes (a
        # WITH holding a DELETE) is refused with SQLSTATE 25006. A statement in the transaction,
        # not a startup option, so that a connection pooler (PgBouncer) passes it on.
        cursor.execute("SET TRANSACTION READ ONLY")
        cursor.execute(query)
        reader = cursor.fetch_record_batch()
        empty = True
        _refuse_unreadable(reader.schema, label)
        for batch in reader:
            empty = False
            yield _plain_columns(batch, label).to_pandas(types_mapper=_nullable_types)
        if empty:
            yield reader.schema.empty_table().to_pandas(types_mapper=_nullable_types)


def _libpq_conninfo(url: URL) -> str:
    """libpq's ``key='value'`` form of the URL: it takes any password as it is (a URL would
    need every space and symbol in it percent-encoded), and the URL's query parameters
    (``sslmode``, ``host`` for a socket folder, ...) are libpq's own, as psycopg passes them."""
    parts: dict[str, str] = {}
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else ",".join(value)
    fields = {
        "host": url.host,
        "port": str(url.port) if url.port else None,
        "dbname": url.database,
        "user": url.username,
        "password": url.password,
    }
    parts.update({key: value for key, value in fields.items() if value})
    return " ".join(f"{key}={_conninfo_quote(value)}" for key, value in parts.items())


def _conninfo_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _nullable_types(arrow_type: Any) -> Any:
    # Integers with gaps stay integers (not floats that lose digits past 2**53); flags stay
    # flags. Everything else converts as a parquet file's column does, to the same text.
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def _refuse_unreadable(schema: Any, label: str) -> None:
    """Refuse, naming the column and before any row is read, a column whose values have no
    faithful text here: arrays and records (``text[]``, a composite type) hold no single value a
    cell; ``money`` arrives as whole pence (12.50 would be read as 1250); an ``interval`` or a
    type the driver passes as raw bytes (``inet``, ``point``, ...) has no text form but a
    Python repr or binary garbage."""
    import pyarrow as pa

    for column in schema:
        kind = column.type
        postgres = (column.metadata or {}).get(b"POSTGRESQL:type", b"").decode() or str(kind)
        cast = "text"
        if pa.types.is_nested(kind):
            why = f"holds {kind} values, not one value a cell"
        elif postgres == "money":
            why, cast = "holds money values, which the driver gives as whole pence", "numeric"
        elif pa.types.is_interval(kind) or pa.types.is_duration(kind):
            why = f"holds {postgres} values, which are not a date, a number or text"
        elif isinstance(kind, pa.OpaqueType) and not pa.types.is_string(kind.storage_type):
            why = f"holds {postgres} values, which the driver gives as raw bytes"
        else:
            continue
        raise FatalInputError(
            RULES["F002"],
            label,
            f"column {column.name} {why}: select it as {cast} in the query ({column.name}::{cast})",
        )


def _plain_columns(batch: Any, label: str) -> Any:
    """The batch with the columns PostgreSQL types in its own way made plain while still in
    Arrow: DATE as ISO text (what ``date.isoformat`` gives a parquet file's dates), NUMERIC
    without a fraction of zeros (``13.0`` in a NUMERIC(6,1) is the whole number 13, as a whole
    float is), and JSON scalars as the value they hold (``"Laura"`` is the text Laura). Each
    distinct value is converted once: values repeat, and a Python object per cell is the
    slowest part of a read otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column in enumerate(batch.columns):
        field_ = batch.schema.field(i)
        kind = column.type
        if pa.types.is_date32(kind):
            encoded = pc.dictionary_encode(column)
            text = pc.take(pc.cast(encoded.dictionary, pa.string()), encoded.indices)
        elif isinstance(kind, pa.OpaqueType) and kind.type_name == "numeric":
            whole = pc.replace_substring_regex(column.storage, r"^(-?[0-9]+)\.0+$", r"\1")
            text = pc.replace_substring_regex(whole, r"^-0$", "0")
        elif isinstance(kind, pa.JsonType):
            encoded = pc.dictionary_encode(column.storage)
            values = [_json_scalar(v, field_.name, label) for v in encoded.dictionary.to_pylist()]
            text = pc.take(pa.array(values, pa.string()), encoded.indices)
        else:
            continue
        batch = batch.set_column(
            i, pa.field(field_.name, text.type, metadata=field_.metadata), text
        )
    return batch


def _json_scalar(written: str, column: str, label: str) -> str | None:
    """A JSON value as the text a cell of it means: a string unquoted, a number as written,
    true/false as 1/0 (as a boolean column reads), null missing; an array or object is refused
    naming the column (a key of it is chosen in the query, ``col->>'key'``)."""
    import json

    value = json.loads(written)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return written.strip()
    raise FatalInputError(
        RULES["F002"],
        label,
        f"column {column} holds JSON arrays or objects, not one value a cell: select the value "
        f"as text in the query (for example {column}->>'key')",
    )


# --- other databases: SQLAlchemy, in chunks ------------------------------------------------------


def _read_sqlalchemy(
    url: URL, query: str | None, table: str, label: str, chunk_rows: int
) -> Generator[pd.DataFrame, None, None]:
    try:
        if url.get_backend_name() == "sqlite":
            engine = _sqlite_read_only(url, label)
        else:
            engine = sa.create_engine(url)
    except FatalInputError:
        raise
    except ModuleNotFoundError as exc:
        raise FatalInputError(
            RULES["F002"], label, f"the database driver {exc.name} is not installed"
        ) from None
    except Exception as exc:
        raise FatalInputError(RULES["F002"], label, f"bad URL: {type(exc).__name__}") from None
    try:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as exc:
            # Nothing was read yet: anything but a refused login is the database being away.
            if _login_refused(exc):
                raise
            raise _connection_error(label, exc) from None
        with connection:
            # yield_per: a server-side cursor where the driver has one, chunk_rows at a time.
            streaming = connection.execution_options(yield_per=chunk_rows)
            if query is not None:
                # As written: sa.text would take ':none' in a string literal for a parameter.
                statement: Any = query
            else:
                # "schema.table" names a table outside the default schema (e.g. yot.offences).
                schema, _, bare = table.rpartition(".")
                if not sa.inspect(connection).has_table(bare, schema=schema or None):
                    raise FatalInputError(RULES["F001"], label, "the database has no such table")
                statement = sa.select(sa.text("*")).select_from(
                    sa.table(bare, schema=schema or None)
                )
            if isinstance(statement, str):
                result = streaming.exec_driver_sql(statement)
            else:
                result = streaming.execute(statement)
            names = list(result.keys())
            empty = True
            for rows in result.partitions():
                empty = False
                yield _rows_as_text(rows, names)
            if empty:
                yield _rows_as_text([], names)
    finally:
        engine.dispose()


# What a read-only SQLite connection may do: read tables and run functions (the authorizer's
# action codes); the pragmas that describe a table (SQLAlchemy's inspector asks table_info);
# and a pragma's value read, not set (SQLAlchemy reads read_uncommitted), but not the pragmas
# that act when read.
_SQLITE_READS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_SQLITE_DESCRIBING_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "foreign_key_list"}
)
_SQLITE_ACTING_PRAGMAS = frozenset(
    {"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory", "integrity_check"}
)


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, *rest: Any) -> int:
    if action in _SQLITE_READS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and (arg1 or "").casefold() == "sqlite_master":
        # How SQLite sets up a table-valued function (json_each, pragma_table_info) in a read;
        # query_only still refuses a real write to the schema.
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").casefold()
        if name in _SQLITE_DESCRIBING_PRAGMAS or (
            arg2 is None and name not in _SQLITE_ACTING_PRAGMAS
        ):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _sqlite_read_only(url: URL, label: str) -> sa.Engine:
    """An engine on a SQLite file whose connections refuse anything but reading (a query that
    writes, attaches another file or sets a pragma is denied by SQLite itself: ``query_only``
    and an authorizer). A file that is not there is a mistake in the config, said at once:
    SQLite would otherwise make an empty one, and report its tables missing (or, in a folder
    that is not there, be taken for a database that is down and retried for minutes). An
    in-memory database has no file to look for; a ``file:`` URI's path is looked for as any."""
    path = _sqlite_file(url)
    if path is not None and not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FatalInputError(
            RULES["F001"], label, f"the SQLite database file {path} {what} (source.url)"
        )

    # One connection a read, opened and closed with it (no pool to choose by the URL's mode).
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "connect")
    def read_only(connection: sqlite3.Connection, record: Any) -> None:
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_sqlite_authorizer)

    return engine


def _sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens, or None for an in-memory database: the path as given, or a
    ``file:`` URI's path (``sqlite:///file:/srv/cases.db?uri=true``)."""
    database = url.database or ""
    if database.startswith("file:"):
        path, _, options = database[len("file:") :].partition("?")
        if "mode=memory" in options or url.query.get("mode") == "memory":
            return None
        path = unquote(path.removeprefix("//localhost").removeprefix("//"))
        return Path(path) if path and path != ":memory:" else None
    return Path(database) if database and database != ":memory:" else None


def _rows_as_text(rows: Sequence[Any], names: list[str]) -> pd.DataFrame:
    """A chunk of driver rows as text, each cell by its own type, so how the rows fall into
    chunks never changes a value (pandas' own inference of a chunk would: SQLite lets one column
    hold text and numbers, and ``5.0`` among strings would read as "5.0" in one chunk and "5"
    in another)."""
    cells = pd.DataFrame(list(rows), columns=range(len(names)), dtype=object)
    text = {i: _cells_as_text(cells[i]) for i in range(len(names))}
    return pd.DataFrame(text, index=cells.index).set_axis(names, axis=1)


def _cells_as_text(values: pd.Series) -> pd.Series:
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):  # the common case, converted in one step
        return values.astype("str")
    if kind == "integer":
        return column_to_text(values.astype("Int64"))
    return column_to_text(values)  # dates, decimals, floats, mixed: one conversion per value


# --- errors --------------------------------------------------------------------------------------


def _translate(exc: BaseException, label: str, *, table_source: bool) -> Exception:
    """One safe exception for any driver's failure: ConnectionError (worth a retry) or a fatal
    input error. Driver messages are read to classify, never passed on: they can quote SQL,
    values and the connection string."""
    cause = exc
    # pandas wraps a failed execute in its own DatabaseError; the driver's error is the cause.
    if type(exc).__module__.startswith("pandas") and exc.__cause__ is not None:
        cause = exc.__cause__
    state = _sqlstate(cause)
    if _login_refused(cause):
        return FatalInputError(
            RULES["F002"],
            label,
            "the database refused the login: check the user in source.url and the password "
            "(source.password_env or source.password_secret)",
        )
    if _connection_lost(cause, state):
        return _connection_error(label, cause)
    if _write_refused(cause, state):
        return FatalInputError(
            RULES["F002"],
            label,
            "the query would change the database, which is read only: give a query that only "
            "reads (SELECT)",
        )
    if _query_failed_in_stream(cause):
        return FatalInputError(
            RULES["F002"],
            label,
            "the database stopped the query with an error part way (a value it could not "
            "convert, or a fault in the query): check the query and its columns' types",
        )
    if table_source and state in _MISSING_TABLE_SQLSTATES:
        return FatalInputError(RULES["F001"], label, "the database has no such table")
    plain = _sqlite_in_plain_words(_driver_error(cause))
    if plain is not None:
        return FatalInputError(RULES["F002"], label, plain)
    kind = type(_driver_error(cause)).__name__
    return FatalInputError(RULES["F002"], label, f"{kind}, SQLSTATE {state}" if state else kind)


# SQLite's own words (its errors carry no SQLSTATE) for what a person can fix, read only to
# classify: the message itself may quote the query or a value.
_SQLITE_WORDS = (
    ("file is not a database", "the file is not a SQLite database"),
    ("could not decode to utf-8", "a text cell holds bytes that are not UTF-8 text"),
    ("syntax error", "the query is not valid SQL: a syntax error"),
    ("no such table", "the query names a table the database does not have"),
    ("no such column", "the query names a column its tables do not have"),
)


def _sqlite_in_plain_words(error: BaseException) -> str | None:
    if not isinstance(error, sqlite3.Error):
        return None
    text = str(error).casefold()
    return next((plain for words, plain in _SQLITE_WORDS if words in text), None)


def _connection_error(label: str, exc: BaseException) -> ConnectionError:
    return ConnectionError(
        f"{label}: database unavailable or connection lost ({type(_driver_error(exc)).__name__})"
    )


def _driver_error(exc: BaseException) -> BaseException:
    orig = getattr(exc, "orig", None)  # SQLAlchemy keeps the DBAPI's own exception here
    return orig if isinstance(orig, BaseException) else exc


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(_driver_error(exc), "sqlstate", None)
    return state if isinstance(state, str) and state else None


def _login_refused(exc: BaseException) -> bool:
    text = str(_driver_error(exc)).casefold()
    return _sqlstate(exc) in ("28P01", "28000") or any(words in text for words in _LOGIN_REFUSED)


def _connection_lost(exc: BaseException, state: str | None) -> bool:
    if state is not None and state.startswith(_CONNECTION_SQLSTATES):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        # SQLAlchemy's dialects recognise their driver's "connection gone" errors.
        return bool(exc.connection_invalidated) or isinstance(exc, sa.exc.InterfaceError)
    driver = type(exc).__module__.split(".", 1)[0]
    if driver == "adbc_driver_manager":
        # ADBC reports a failed or lost connection as OperationalError without a SQLSTATE.
        return type(exc).__name__ == "OperationalError" and state is None
    # A broken Arrow stream (the server went away while batches were coming) is a bare OSError;
    # one that carries the server's own ERROR is the query's fault (below), not the connection's.
    return type(exc) is OSError and not _query_failed_in_stream(exc)


def _write_refused(exc: BaseException, state: str | None) -> bool:
    """The database refused a write: PostgreSQL's read-only transaction (SQLSTATE 25006), or
    SQLite's authorizer and read-only file."""
    if state == "25006":
        return True
    driver = _driver_error(exc)
    text = str(driver).casefold()
    return isinstance(driver, sqlite3.Error) and (
        "not authorized" in text or "readonly database" in text
    )


def _query_failed_in_stream(exc: BaseException) -> bool:
    """A bare OSError from ADBC's Arrow stream carrying libpq's report of an ERROR the server
    raised while the rows were coming (a cast that fails on a later row): retrying would only
    fail again. A lost connection reports no ERROR (libpq says FATAL, or that the server
    closed the connection)."""
    return type(exc) is OSError and "ERROR:" in str(exc)
