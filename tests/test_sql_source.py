"""The database source without a server: passwords are never in the config, the password's place
is resolved at the edge, chunked SQLite reads equal whole reads, and the connection string
handed to libpq carries any password as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from extracts.digest import sha256_of_frame
from extracts.sql import SqlSource, _libpq_conninfo, read_sql_extract
from flows.db_password import database_password
from flows.settings import ConfigError, load_settings
from schemas.rules import FatalInputError

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://nis_reader:{SECRET}@dbhost/casework",
        f"mssql+pyodbc://nis_reader:{SECRET}@casework_dsn",
    ],
)
def test_a_url_with_a_password_in_the_config_file_is_refused(tmp_path: Path, url: str) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(f'[source]\nurl = "{url}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert message.startswith(f"config file {config}: source.url is wrong: ")
    assert (
        "source.url holds a password, and a password must never be written in a setting (the "
        "config file, or NIS_SOURCE__URL in the environment)" in message
    )
    assert "NIS_DB_PASSWORD" in message and "source.password_secret" in message
    assert SECRET not in message and "dbhost" not in message


def test_a_url_with_a_password_in_the_environment_is_refused_saying_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIS_SOURCE__URL", f"postgresql+psycopg://nis_reader:{SECRET}@dbhost/cw")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    message = str(caught.value)
    assert "or NIS_SOURCE__URL in the environment" in message
    assert SECRET not in message and "dbhost" not in message


def test_run_refuses_it_with_exit_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.commands import run_command

    config = tmp_path / "nis.toml"
    config.write_text(f'[source]\nurl = "postgresql://u:{SECRET}@h/db"\n', encoding="utf-8")
    assert run_command("2025-03-31", None, config, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: config file ")
    assert SECRET not in err and "Traceback" not in err


def test_a_url_without_a_password_and_names_of_where_it_is_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "nis.toml"
    config.write_text(
        '[source]\nurl = "postgresql+psycopg://nis_reader@dbhost/casework"\n'
        'password_env = "CASEWORK_PASSWORD"\n',
        encoding="utf-8",
    )
    source = load_settings(config).source
    assert (source.password_env, source.password_secret) == ("CASEWORK_PASSWORD", None)
    with pytest.raises(ConfigError, match="either source.password_env or source.password_secret"):
        load_settings(
            None, source={"url": "sqlite://", "password_env": "A", "password_secret": "b"}
        )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("password_env", "source.password_env is wrong: must name an environment variable"),
        ("password_secret", "source.password_secret is wrong: must name a Prefect Secret block"),
    ],
)
def test_a_password_pasted_where_its_place_is_named_is_refused_without_echoing_it(
    tmp_path: Path, key: str, expected: str
) -> None:
    # The messages of an unset variable or a missing block name the place: a password written
    # there instead would be printed, logged and kept in Prefect's database.
    config = tmp_path / "nis.toml"
    config.write_text(
        f'[source]\nurl = "postgresql+psycopg://nis_reader@dbhost/cw"\n{key} = "{SECRET}!"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert expected in message and "never hold the password itself" in message
    assert SECRET not in message


@pytest.mark.parametrize("name", ["CASEWORK_PASSWORD", "nis_db_pw", "_PW2"])
def test_a_variable_name_of_any_case_is_accepted(tmp_path: Path, name: str) -> None:
    source = load_settings(None, source={"url": "sqlite://", "password_env": name}).source
    assert source.password_env == name


def test_the_password_comes_from_the_named_variable_or_nis_db_password() -> None:
    named = database_password("CASEWORK_PASSWORD", None, {"CASEWORK_PASSWORD": SECRET})
    assert named is not None and named.get_secret_value() == SECRET
    assert SECRET not in repr(named) and SECRET not in str(named)
    default = database_password(None, None, {"NIS_DB_PASSWORD": SECRET})
    assert default is not None and default.get_secret_value() == SECRET
    # The default variable unset (or empty): no password, for a database that needs none.
    assert database_password(None, None, {}) is None
    assert database_password(None, None, {"NIS_DB_PASSWORD": ""}) is None
    with pytest.raises(ConfigError) as caught:
        database_password("CASEWORK_PASSWORD", None, {"NIS_DB_PASSWORD": SECRET})
    assert str(caught.value) == (
        "the environment variable CASEWORK_PASSWORD named by source.password_env is not set: "
        "set it to the database password before the run"
    )


def test_the_password_never_shows_in_the_source_or_the_libpq_string_but_once() -> None:
    source = SqlSource(url="postgresql+psycopg://nis_reader@dbhost:5433/casework", password=SECRET)
    assert SECRET not in repr(source)
    from sqlalchemy.engine import make_url

    url = make_url("postgresql+psycopg://nis_reader@/casework?host=/run/pg&sslmode=require")
    text = _libpq_conninfo(url.set(password="it's a \\ pass"))
    assert text == (
        "host='/run/pg' sslmode='require' dbname='casework' user='nis_reader' "
        "password='it\\'s a \\\\ pass'"
    )
    tcp = _libpq_conninfo(make_url(source.url))
    assert tcp == "host='dbhost' port='5433' dbname='casework' user='nis_reader'"


@pytest.fixture
def sqlite_people(tmp_path: Path) -> str:
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (person_id, family_id, dob, nis_opt_out)")
        # SQLite lets one column hold text and numbers: it must still read as text.
        connection.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)",
            [
                ("P1", "F1", "2010-01-02", 0),
                ("P2", "F1", "03/04/2011", 1),
                (3, "F2", None, "0"),
                ("P4", "F2", "2012-05-06", None),
                ("P5", 5.0, "", 1),
            ],
        )
    return f"sqlite:///{path}"


def test_a_sqlite_read_in_chunks_equals_one_read(sqlite_people: str) -> None:
    source = SqlSource(url=sqlite_people)
    label, whole, digest = read_sql_extract(source, "people")
    _, pieces, piece_digest = read_sql_extract(source, "people", chunk_rows=2)
    assert label == "table people"
    pd.testing.assert_frame_equal(pieces, whole)
    assert piece_digest == digest == sha256_of_frame(whole)
    assert whole.index.tolist() == [2, 3, 4, 5, 6]
    assert whole["person_id"].tolist() == ["P1", "P2", "3", "P4", "P5"]
    assert whole["family_id"].tolist() == ["F1", "F1", "F2", "F2", "5"]
    assert whole["nis_opt_out"].tolist()[:3] == ["0", "1", "0"]
    assert pd.isna(whole.loc[5, "nis_opt_out"]) and pd.isna(whole.loc[4, "dob"])


def test_a_database_that_does_not_answer_is_a_connection_error() -> None:
    source = SqlSource(url="postgresql+psycopg://nis_reader@127.0.0.1:1/casework")
    with pytest.raises(ConnectionError, match=r"^table families: database unavailable"):
        read_sql_extract(source, "families")


@pytest.mark.parametrize("where", ["missing.db", "no/such/folder.db", "a-folder"])
def test_a_sqlite_file_that_is_not_there_is_a_mistake_said_at_once(
    tmp_path: Path, where: str
) -> None:
    """Not a database that is down (retried for minutes), and no empty file made in its place."""
    (tmp_path / "a-folder").mkdir()
    path = tmp_path / where
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(SqlSource(url=f"sqlite:///{path}"), "families")
    what = "is a folder" if where == "a-folder" else "does not exist"
    assert str(caught.value) == (
        f"[F001] table families: extract not found (the SQLite database file {path} {what} "
        "(source.url))"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]


def _cases_db(tmp_path: Path) -> Path:
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE offences (person_id, offence_date, offence_category)")
        connection.execute("INSERT INTO offences VALUES ('P1', '2024-11-11', ':none')")
        connection.execute("CREATE TABLE asb_incidents (person_id, incident_date)")
    connection.close()
    return path


@pytest.mark.parametrize(
    "query",
    [
        # What the settings would refuse (tests/test_settings.py), given here straight.
        "DROP TABLE asb_incidents",
        "CREATE TABLE copied AS SELECT * FROM offences",
        "ATTACH DATABASE '{attached}' AS a",
        "PRAGMA query_only = OFF",
        "DELETE FROM asb_incidents RETURNING *",
        # What the settings let through: a WITH that writes.
        "WITH gone AS (SELECT 1) DELETE FROM asb_incidents",
    ],
)
def test_a_sqlite_query_that_would_write_is_refused_and_changes_nothing(
    tmp_path: Path, query: str
) -> None:
    path = _cases_db(tmp_path)
    before = path.read_bytes()
    attached = tmp_path / "attached.db"
    source = SqlSource(
        url=f"sqlite:///{path}", queries={"offences": query.format(attached=attached)}
    )
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(source, "offences")
    assert str(caught.value) == (
        "[F002] query for offences: extract cannot be read (the query would change the "
        "database, which is read only: give a query that only reads (SELECT))"
    )
    assert path.read_bytes() == before and not attached.exists()


def test_a_sqlite_query_is_run_as_written_colons_and_all(tmp_path: Path) -> None:
    path = _cases_db(tmp_path)
    query = "SELECT * FROM offences WHERE offence_category = ':none'"
    _, frame, _ = read_sql_extract(
        SqlSource(url=f"sqlite:///{path}", queries={"offences": query}), "offences"
    )
    assert frame["offence_category"].tolist() == [":none"]


def test_a_bytes_column_reads_as_utf8_text_and_other_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (person_id, surname)")
        connection.executemany(
            "INSERT INTO people VALUES (?, ?)",
            [("P1", "Brontë".encode()), ("P2", None), ("P3", b"Smith")],
        )
    source = SqlSource(url=f"sqlite:///{path}")
    _, frame, _ = read_sql_extract(source, "people")
    assert frame["surname"].tolist()[::2] == ["Brontë", "Smith"]
    assert pd.isna(frame["surname"].iloc[1])

    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO people VALUES ('P4', ?)", (b"\xff\xfe",))
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(source, "people")
    assert "\\xff" not in str(caught.value)


def test_a_zoned_moment_reads_as_its_date_in_england() -> None:
    """A date kept as midnight in England (TIMESTAMPTZ, a zoned parquet timestamp) is the day
    before in UTC all summer: it must read as the English date, as the CSV of it says."""
    import datetime as dt

    from extracts.text import column_to_text

    moments = ["2025-08-14 23:00", "2025-01-15 00:00", "2025-03-30 00:30", "2025-10-25 23:30"]
    expected = ["2025-08-15", "2025-01-15", "2025-03-30", "2025-10-26"]
    arrow_like = pd.Series(pd.to_datetime(moments).tz_localize("UTC"))
    assert column_to_text(arrow_like).tolist() == expected
    objects = pd.Series(
        [dt.datetime.fromisoformat(m).replace(tzinfo=dt.UTC) for m in moments], dtype=object
    )
    assert column_to_text(objects).tolist() == expected
    # Without a zone a timestamp is the date written, whatever the season.
    naive = pd.Series(pd.to_datetime(moments))
    assert column_to_text(naive).tolist() == [m[:10] for m in moments]


def test_what_sqlite_refuses_is_said_in_plain_words_without_its_own_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cases.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (person_id TEXT, surname TEXT)")
        # ZZ and a byte that is not UTF-8, stored as TEXT: SQLite's message would quote it.
        connection.execute("INSERT INTO people VALUES ('P1', CAST(X'5A5AFF' AS TEXT))")
    connection.close()
    not_sqlite = tmp_path / "extract.db"
    not_sqlite.write_text("person_id,family_id\nP1,F1\n" * 100, encoding="utf-8")
    cases = [
        (SqlSource(url=f"sqlite:///{path}"), "a text cell holds bytes that are not UTF-8 text"),
        (SqlSource(url=f"sqlite:///{not_sqlite}"), "the file is not a SQLite database"),
        (
            SqlSource(url=f"sqlite:///{path}", queries={"people": "SELECT FROM WHERE 'ZZ'"}),
            "the query is not valid SQL: a syntax error",
        ),
        (
            SqlSource(url=f"sqlite:///{path}", queries={"people": "SELECT zz_name FROM people"}),
            "the query names a column its tables do not have",
        ),
        (
            SqlSource(url=f"sqlite:///{path}", queries={"people": "SELECT * FROM zz_table"}),
            "the query names a table the database does not have",
        ),
    ]
    for source, says in cases:
        with pytest.raises(FatalInputError) as caught:
            read_sql_extract(source, "people")
        assert str(caught.value).endswith(f"extract cannot be read ({says})")
        assert "ZZ" not in str(caught.value) and "zz" not in str(caught.value)


def test_a_driver_that_is_not_installed_is_named() -> None:
    """SQL Server's driver is an extra (pip install -e '.[sqlserver]'): without it the URL is not
    'bad', its driver is missing."""
    import importlib.util

    if importlib.util.find_spec("pyodbc") is not None:
        pytest.skip("pyodbc is installed here")
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(SqlSource(url="mssql+pyodbc://nis_reader@dbhost/casework"), "families")
    assert str(caught.value) == (
        "[F002] table families: extract cannot be read (the database driver pyodbc is not "
        "installed)"
    )


def test_a_sqlite_file_uri_is_read_only_and_looked_for_too(tmp_path: Path) -> None:
    """``sqlite:///file:...?uri=true`` gets the same guard as a plain path: a WITH holding a
    DELETE (which the settings' first-word check lets through) is refused, and a missing file
    is said, not made."""
    path = _cases_db(tmp_path)
    query = "WITH x AS (SELECT 1) DELETE FROM offences RETURNING person_id"
    source = SqlSource(url=f"sqlite:///file:{path}?uri=true", queries={"offences": query})
    with pytest.raises(FatalInputError, match="the query would change the database"):
        read_sql_extract(source, "offences")
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM offences").fetchone() == (1,)
    connection.close()
    missing = tmp_path / "missing.db"
    with pytest.raises(FatalInputError, match="the SQLite database file .* does not exist"):
        read_sql_extract(SqlSource(url=f"sqlite:///file:{missing}?uri=true"), "offences")
    assert not missing.exists()


def test_table_valued_functions_read_through_the_guard(tmp_path: Path) -> None:
    path = _cases_db(tmp_path)
    query = (
        "SELECT o.person_id, o.offence_date, j.value AS offence_category "
        "FROM offences o, json_each('[\"THEFT\"]') j"
    )
    source = SqlSource(url=f"sqlite:///{path}", queries={"offences": query})
    assert read_sql_extract(source, "offences")[1]["offence_category"].tolist() == ["THEFT"]


def test_sqlite_connections_are_query_only_and_an_in_memory_uri_is_not_looked_for(
    tmp_path: Path,
) -> None:
    path = _cases_db(tmp_path)
    query = (
        "SELECT person_id, offence_date, (SELECT query_only FROM pragma_query_only) "
        "AS offence_category FROM offences"
    )
    source = SqlSource(url=f"sqlite:///{path}", queries={"offences": query})
    assert read_sql_extract(source, "offences")[1]["offence_category"].tolist() == ["1"]
    # An in-memory database named as a URI has no file to look for: its tables are missing.
    memory = SqlSource(url="sqlite:///file:cases?mode=memory&uri=true")
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(memory, "offences")
    assert str(caught.value) == (
        "[F001] table offences: extract not found (the database has no such table)"
    )
