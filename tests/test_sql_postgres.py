"""Reading extracts from a real PostgreSQL server (started by the ``postgres`` fixture): typed and
text tables read as the CSV does, chunked reads equal whole reads, missing tables and broken
queries are named, a lost connection is a ConnectionError and never a partial table, and the
password comes from the environment, never the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from embedded_pg import PASSWORD_ROLE, EmbeddedPostgres
from pg_support import (
    DATABASE,
    PASSWORD,
    PLACEMENTS,
    READER,
    Placement,
    admin,
    create_case_database,
    load_extract,
    source_config,
)
from typer.testing import CliRunner

import extracts.sql
from extracts.digest import sha256_of_frame
from extracts.reader import read_extract, read_extracts
from extracts.sql import SqlSource, read_sql_extract
from flows.db_password import source_password
from flows.settings import load_settings
from nis_pipeline.cli import app
from schemas.models import EXTRACT_NAMES
from schemas.rules import FatalInputError
from schemas.validation import ValidationResult, validate
from synth.generate import write_synthetic

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("postgres")]

EXTRACT_DATE = "2026-10-31"  # the synthetic data's extract date


@pytest.fixture(scope="module")
def extracts_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pg-extracts")
    write_synthetic(folder, families=20, seed=21)
    return folder


@pytest.fixture(scope="module")
def case_db(postgres: EmbeddedPostgres, extracts_folder: Path) -> EmbeddedPostgres:
    create_case_database(postgres, extracts_folder)
    with admin(postgres, DATABASE) as connection:
        # The people extract twice more: every column as text with empty strings for blanks,
        # and typed with NULLs, beside the typed table the config names.
        for table, placement in (
            ("people_as_text", Placement("people_as_text", typed=False, blanks_as_null=False)),
            ("people_as_text_nulls", Placement("people_as_text_nulls", typed=False)),
        ):
            load_extract(connection, extracts_folder / "people.csv", "people", placement)
            connection.execute(sa.text(f"GRANT SELECT ON {table} TO {READER}"))
    return postgres


def _source(server: EmbeddedPostgres, **kwargs: Any) -> SqlSource:
    return SqlSource(url=server.url(READER, DATABASE), **kwargs)


def _db_settings(server: EmbeddedPostgres, tmp_path: Path) -> Any:
    return load_settings(
        source_config(server, tmp_path / "nis.toml", head=f"extract_date = {EXTRACT_DATE}\n")
    )


def test_every_extract_reads_as_its_csv_does(
    case_db: EmbeddedPostgres, extracts_folder: Path, tmp_path: Path
) -> None:
    """Text and typed tables, NULL and empty blanks, a mixed-case schema, a renaming query: the
    text tables read exactly as the CSV (row numbers included), and every extract validates to
    the same clean frame and the same findings as the CSV."""
    from_db = read_extracts(_db_settings(case_db, tmp_path).extract_source())
    from_csv = read_extracts(load_settings(None, source_path=extracts_folder).extract_source())
    for name in EXTRACT_NAMES:
        if not PLACEMENTS[name].typed:
            pd.testing.assert_frame_equal(from_db[name].frame, from_csv[name].frame, obj=name)
    extract_date = dt.date.fromisoformat(EXTRACT_DATE)
    db_result, csv_result = validate(from_db, extract_date), validate(from_csv, extract_date)
    for name in EXTRACT_NAMES:
        assert len(db_result.clean[name]) == from_csv[name].rows - _quarantined(csv_result, name)
        pd.testing.assert_frame_equal(db_result.clean[name], csv_result.clean[name], obj=name)
    pd.testing.assert_frame_equal(db_result.findings, csv_result.findings)
    assert from_db["people"].source == "table CaseWork.EH_People"
    assert from_db["offences"].source == "table yot.offences"
    assert from_db["school_attendance"].source == "query for school_attendance"
    assert from_db["people"].rows == from_csv["people"].rows > 20


def _quarantined(result: ValidationResult, name: str) -> int:
    counts = result.counts.set_index("extract")
    return int(counts.loc[name, "quarantined"])


def test_typed_and_text_tables_hold_the_same_text(case_db: EmbeddedPostgres) -> None:
    """An empty string and NULL are both a blank after reading; a DATE column reads as the ISO
    text of the same date, an INTEGER column as the digits the CSV holds."""
    reads = {
        table: read_extract(
            load_settings(
                None, source={"url": case_db.url(READER, DATABASE), "tables": {"people": table}}
            ).extract_source(),
            "people",
        ).frame
        for table in ("CaseWork.EH_People", "people_as_text", "people_as_text_nulls")
    }
    text = reads["people_as_text"]
    pd.testing.assert_frame_equal(reads["people_as_text_nulls"], text)
    typed = reads["CaseWork.EH_People"]
    assert text["dob"].str.contains("/").any()  # the CSV mixes UK and ISO dates
    uk = text["dob"].str.fullmatch(r"\d\d/\d\d/\d{4}")
    iso = text["dob"].where(
        ~uk, text["dob"].str.replace(r"(..)/(..)/(....)", r"\3-\2-\1", regex=True)
    )
    pd.testing.assert_series_equal(typed["dob"], iso.astype("str"), check_names=False)
    others = [
        c for c in text.columns if c not in ("dob", "expected_dob", "date_joined", "date_left")
    ]
    pd.testing.assert_frame_equal(typed[others], text[others])
    assert typed["nis_opt_out"].dropna().isin(["0", "1"]).all()


def test_chunked_read_equals_one_read_and_the_digest_is_of_the_text(
    case_db: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[int] = []
    as_text = extracts.sql._as_text

    def counting(frame: pd.DataFrame) -> pd.DataFrame:
        chunks.append(len(frame))
        return as_text(frame)

    monkeypatch.setattr(extracts.sql, "_as_text", counting)
    source = _source(case_db, tables={"people": "CaseWork.EH_People"})
    label, whole, digest = read_sql_extract(source, "people")
    assert len(chunks) == 1
    chunks.clear()
    _, pieces, piece_digest = read_sql_extract(source, "people", batch_bytes=1024)
    assert len(chunks) > 3 and sum(chunks) == len(whole)
    pd.testing.assert_frame_equal(pieces, whole)
    assert piece_digest == digest == sha256_of_frame(whole)
    assert whole.index[0] == 2 and whole.index[-1] == len(whole) + 1


def test_an_empty_table_reads_as_no_rows_with_its_columns(case_db: EmbeddedPostgres) -> None:
    with admin(case_db, DATABASE) as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE no_offences (person_id text, offence_date date, "
                "offence_category text)"
            )
        )
        connection.execute(sa.text(f"GRANT SELECT ON no_offences TO {READER}"))
    _, frame, digest = read_sql_extract(
        _source(case_db, tables={"offences": "no_offences"}), "offences"
    )
    assert list(frame.columns) == ["person_id", "offence_date", "offence_category"]
    assert len(frame) == 0
    assert digest == sha256_of_frame(frame)


def test_a_missing_table_and_a_broken_query_are_named_without_sql(
    case_db: EmbeddedPostgres,
) -> None:
    with pytest.raises(FatalInputError) as missing:
        read_sql_extract(_source(case_db, tables={"offences": "yot.no_such_table"}), "offences")
    assert (
        str(missing.value) == "[F001] table yot.no_such_table: extract not found "
        "(the database has no such table)"
    )
    with pytest.raises(FatalInputError) as broken:
        read_sql_extract(
            _source(case_db, queries={"offences": "SELECT 'Jane Doe' FROM nowhere_at_all"}),
            "offences",
        )
    assert str(broken.value) == (
        "[F002] query for offences: extract cannot be read (ProgrammingError, SQLSTATE 42P01)"
    )


def test_a_query_that_would_write_is_refused_by_the_server_even_for_the_owner(
    case_db: EmbeddedPostgres,
) -> None:
    """The read's transaction is read only: a WITH holding a DELETE, which the
    settings' check of the query's first word lets through, is refused by the server itself,
    also for a login that may write."""
    query = "WITH gone AS (DELETE FROM yot.offences RETURNING *) SELECT * FROM gone"
    owner = case_db.admin_url(DATABASE)
    source = SqlSource(url=owner, queries={"offences": query})
    table = SqlSource(url=owner, tables={"offences": "yot.offences"})
    before = len(read_sql_extract(table, "offences")[1])
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(source, "offences")
    assert str(caught.value) == (
        "[F002] query for offences: extract cannot be read (the query would change the "
        "database, which is read only: give a query that only reads (SELECT))"
    )
    after = len(read_sql_extract(table, "offences")[1])
    assert before == after > 0


def test_an_unreachable_database_is_a_connection_error(postgres: EmbeddedPostgres) -> None:
    from embedded_pg import free_port

    source = SqlSource(url=f"postgresql+psycopg://{READER}@127.0.0.1:{free_port()}/{DATABASE}")
    with pytest.raises(ConnectionError) as caught:
        read_sql_extract(source, "families")
    assert str(caught.value) == (
        "table families: database unavailable or connection lost (OperationalError)"
    )


def test_a_connection_dropped_mid_pull_raises_and_returns_nothing(
    case_db: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend is terminated (as a DBA or a failover would) after the first batch has
    arrived: the read raises ConnectionError; no partial table comes back."""
    query = (
        "SELECT 'P' || g AS person_id, repeat('x', 200) AS offence_category, "
        "DATE '2024-01-01' + (g % 300) AS offence_date FROM generate_series(1, 400000) g"
    )
    as_text = extracts.sql._as_text
    seen: list[int] = []

    def drop_after_first(frame: pd.DataFrame) -> pd.DataFrame:
        if not seen:
            with admin(case_db) as connection:
                ended = (
                    connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE query LIKE '%generate_series(1, 400000)%' "
                            "AND pid <> pg_backend_pid()"
                        )
                    )
                    .scalars()
                    .all()
                )
            assert ended == [True]
        seen.append(len(frame))
        return as_text(frame)

    monkeypatch.setattr(extracts.sql, "_as_text", drop_after_first)
    result = None
    with pytest.raises(ConnectionError) as caught:
        result = read_sql_extract(
            _source(case_db, queries={"offences": query}), "offences", batch_bytes=64 * 1024
        )
    assert result is None
    assert 0 < sum(seen) < 400000  # part of the table had arrived when the connection died
    assert str(caught.value) == (
        "query for offences: database unavailable or connection lost (OSError)"
    )


# --- passwords ----------------------------------------------------------------------------------


def _password_config(server: EmbeddedPostgres, tmp_path: Path, lines: str = "") -> Path:
    return source_config(
        server,
        tmp_path / "nis.toml",
        user=PASSWORD_ROLE,
        head=f"extract_date = {EXTRACT_DATE}\n",
        source_lines=lines,
    )


def test_validate_takes_the_password_from_the_environment(
    case_db: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _password_config(case_db, tmp_path, 'password_env = "CASEWORK_DB_PASSWORD"\n')
    assert PASSWORD not in config.read_text()
    runner = CliRunner()
    report = tmp_path / "report.xlsx"
    args = ["validate", "--config", str(config), "--report", str(report)]

    monkeypatch.delenv("CASEWORK_DB_PASSWORD", raising=False)
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2
    assert missing.output.strip() == (
        "error: the environment variable CASEWORK_DB_PASSWORD named by source.password_env is "
        "not set: set it to the database password before the run"
    )

    monkeypatch.setenv("CASEWORK_DB_PASSWORD", "not the password")
    wrong = runner.invoke(app, args)
    assert wrong.exit_code == 2
    assert "the database refused the login" in wrong.output
    assert "not the password" not in wrong.output

    monkeypatch.setenv("CASEWORK_DB_PASSWORD", PASSWORD)
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert report.is_file()
    assert PASSWORD not in done.output


def test_the_default_password_variable_is_nis_db_password(
    case_db: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(_password_config(case_db, tmp_path))
    monkeypatch.delenv("NIS_DB_PASSWORD", raising=False)
    assert source_password(settings) is None
    with pytest.raises(FatalInputError, match="refused the login"):
        read_extract(settings.extract_source(None), "families")
    monkeypatch.setenv("NIS_DB_PASSWORD", PASSWORD)
    families = read_extract(settings.extract_source(source_password(settings)), "families")
    assert families.source == "table eh_families" and families.rows > 0


def test_a_query_that_fails_part_way_is_a_fatal_error_not_a_lost_connection(
    case_db: EmbeddedPostgres,
) -> None:
    """A cast that fails on a later row reaches ADBC's stream as a bare OSError, as a lost
    connection does; it is the query's fault, so it is not retried (it was, for two minutes)."""
    query = (
        "SELECT 'P' || g AS person_id, 'theft' AS offence_category, "
        "CASE WHEN g < 300000 THEN DATE '2024-01-01' ELSE ('23/10/' || g)::date END "
        "AS offence_date FROM generate_series(1, 400000) g"
    )
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(
            _source(case_db, queries={"offences": query}), "offences", batch_bytes=64 * 1024
        )
    assert str(caught.value) == (
        "[F002] query for offences: extract cannot be read (the database stopped the query with "
        "an error part way (a value it could not convert, or a fault in the query): check the "
        "query and its columns' types)"
    )
    assert "23/10" not in str(caught.value)


def test_an_array_column_is_refused_naming_it(case_db: EmbeddedPostgres) -> None:
    query = (
        "SELECT 'P1' AS person_id, ARRAY['theft'] AS offence_category, "
        "DATE '2024-01-01' AS offence_date"
    )
    with pytest.raises(FatalInputError) as caught:
        read_sql_extract(_source(case_db, queries={"offences": query}), "offences")
    assert str(caught.value).startswith(
        "[F002] query for offences: extract cannot be read (column offence_category holds list<"
    )
    assert str(caught.value).endswith(
        "not one value a cell: select it as text in the query (offence_category::text))"
    )


def _read_one_column(case_db: EmbeddedPostgres, select: str) -> list[object]:
    _, frame, _ = read_sql_extract(_source(case_db, queries={"offences": select}), "offences")
    return [None if pd.isna(v) else v for v in frame["value"]]


def test_json_scalars_read_as_the_values_they_hold(case_db: EmbeddedPostgres) -> None:
    """A jsonb column holding a name reached the submission with its JSON quotes ("Laura")."""
    select = (
        'SELECT value FROM (VALUES (1, \'"Laura"\'::jsonb), (2, \'"Am\\u00e9 \\"Jo\\""\'), '
        "(3, '12'), (4, '-1.5e2'), (5, 'true'), (6, 'false'), (7, 'null'), (8, NULL)) "
        "AS t(n, value) ORDER BY n"
    )
    assert _read_one_column(case_db, select) == [
        "Laura",
        'Amé "Jo"',
        "12",
        "-150",  # jsonb keeps a number in its own form
        "1",
        "0",
        None,
        None,
    ]
    as_json = select.replace("::jsonb", "::json")
    assert _read_one_column(case_db, as_json) == [
        "Laura",
        'Amé "Jo"',
        "12",
        "-1.5e2",
        "1",
        "0",
        None,
        None,
    ]


def test_a_json_array_or_object_is_refused_naming_its_column(case_db: EmbeddedPostgres) -> None:
    select = 'SELECT value FROM (VALUES (\'"A"\'::jsonb), (\'{"name": "Laura"}\')) AS t(value)'
    with pytest.raises(FatalInputError) as caught:
        _read_one_column(case_db, select)
    assert str(caught.value) == (
        "[F002] query for offences: extract cannot be read (column value holds JSON arrays or "
        "objects, not one value a cell: select the value as text in the query (for example "
        "value->>'key'))"
    )
    assert "Laura" not in str(caught.value)


def test_a_whole_numeric_reads_without_its_fraction_of_zeros(case_db: EmbeddedPostgres) -> None:
    """Sessions kept as NUMERIC(6,1) read as 13.0, which the whole-number check refused (E109):
    every attendance row of such a council was quarantined."""
    select = (
        "SELECT v::numeric(6,1) AS value FROM (VALUES (1, 13.0), (2, 13.5), (3, -0.0), (4, 12.50), "
        "(5, 1000), (6, -7.000), (7, 100.01), (8, NULL)) AS t(n, v) ORDER BY n"
    )
    assert _read_one_column(case_db, select) == [
        "13",
        "13.5",
        "0",
        "12.5",
        "1000",
        "-7",
        "100",
        None,
    ]
    unconstrained = select.replace("v::numeric(6,1)", "v::numeric")
    assert _read_one_column(case_db, unconstrained) == [
        "13",
        "13.5",
        "0",
        "12.50",
        "1000",
        "-7",
        "100.01",
        None,
    ]


@pytest.mark.parametrize(
    ("sql_value", "why", "cast"),
    [
        ("12.50::money", "holds money values, which the driver gives as whole pence", "numeric"),
        (
            "INTERVAL '1 day'",
            "holds interval values, which are not a date, a number or text",
            "text",
        ),
        ("'10.0.0.1'::inet", "holds inet values, which the driver gives as raw bytes", "text"),
    ],
)
def test_a_type_with_no_faithful_text_is_refused_naming_its_column(
    case_db: EmbeddedPostgres, sql_value: str, why: str, cast: str
) -> None:
    with pytest.raises(FatalInputError) as caught:
        _read_one_column(case_db, f"SELECT {sql_value} AS value")
    assert str(caught.value) == (
        f"[F002] query for offences: extract cannot be read (column value {why}: select it as "
        f"{cast} in the query (value::{cast}))"
    )


def test_a_big_whole_number_beside_a_null_keeps_every_digit(case_db: EmbeddedPostgres) -> None:
    # With a NULL in the column, a float would hold 2**53 + 1 as 2**53: an id that is another's.
    select = (
        "SELECT v::bigint AS value FROM (VALUES (1, 9007199254740993), (2, NULL), (3, 42)) "
        "AS t(n, v) ORDER BY n"
    )
    assert _read_one_column(case_db, select) == ["9007199254740993", None, "42"]
