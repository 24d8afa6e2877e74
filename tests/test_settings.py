"""Settings in the order people expect: a command-line flag, then a ``NIS_*`` environment
variable, then the config file, then the default; and config mistakes in the config's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _no_nis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("NIS_")]:
        monkeypatch.delenv(name)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nis.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_then_file_then_environment_then_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(None).quarantine_threshold == 0.05
    config = _config(tmp_path, "quarantine_threshold = 0.5\n")
    assert load_settings(config).quarantine_threshold == 0.5
    monkeypatch.setenv("NIS_QUARANTINE_THRESHOLD", "0.02")
    assert load_settings(config).quarantine_threshold == 0.02
    assert load_settings(None).quarantine_threshold == 0.02
    assert load_settings(config, quarantine_threshold=0.3).quarantine_threshold == 0.3


def test_output_folder_flag_beats_environment_beats_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, 'output_dir = "from-file"\n')
    assert load_settings(config).output_dir == tmp_path / "from-file"
    monkeypatch.setenv("NIS_OUTPUT_DIR", str(tmp_path / "from-env"))
    assert load_settings(config).output_dir == tmp_path / "from-env"
    flagged = load_settings(config, output_dir=tmp_path / "from-flag")
    assert flagged.output_dir == tmp_path / "from-flag"
    # A flag that was not given (None) does not count.
    assert load_settings(config, output_dir=None).output_dir == tmp_path / "from-env"


def test_nested_settings_merge_across_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(
        tmp_path,
        '[source]\npath = "extracts"\n[source.tables]\npeople = "eh_people"\n',
    )
    monkeypatch.setenv("NIS_SOURCE__PATH", str(tmp_path / "env-extracts"))
    settings = load_settings(config)
    assert settings.source.path == tmp_path / "env-extracts"
    assert dict(settings.source.tables) == {"people": "eh_people"}  # kept from the file
    flagged = load_settings(config, source_path=tmp_path / "flag-extracts")
    assert flagged.source.path == tmp_path / "flag-extracts"


def test_a_source_folder_flag_replaces_a_database_from_the_file(tmp_path: Path) -> None:
    config = _config(tmp_path, '[source]\nurl = "sqlite:///cases.db"\n')
    assert load_settings(config).source.url == f"sqlite:///{tmp_path / 'cases.db'}"
    settings = load_settings(config, source_path=tmp_path)
    assert settings.source.url is None and settings.source.path == tmp_path


def test_relative_paths_in_the_file_are_from_its_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    config = _config(tmp_path / "conf", '[source]\npath = "../extracts"\n')
    assert load_settings(config).source.path == tmp_path / "extracts"


def test_a_sqlite_files_relative_path_in_the_file_is_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As every other relative path in the file (nis.example.toml says so): it was taken from
    the working folder, where SQLite made an empty database and reported its tables missing."""
    (tmp_path / "conf").mkdir()
    config = _config(tmp_path / "conf", '[source]\nurl = "sqlite:///../data/cases.db"\n')
    monkeypatch.chdir(tmp_path / "conf")
    assert load_settings(config).source.url == f"sqlite:///{tmp_path / 'data' / 'cases.db'}"
    for url in (
        "sqlite:////srv/cases.db",
        "sqlite://",
        "sqlite:///file:/srv/cases.db?uri=true",
        "postgresql://u@h/db",
    ):
        assert load_settings(_config(tmp_path, f'[source]\nurl = "{url}"\n')).source.url == url
    # From the environment, a relative path is the working folder's, as SQLite takes it.
    monkeypatch.setenv("NIS_SOURCE__URL", "sqlite:///cases.db")
    assert load_settings().source.url == "sqlite:///cases.db"


def test_extract_date_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    monkeypatch.setenv("NIS_EXTRACT_DATE", "2026-04-20")
    assert load_settings(None).resolved_extract_date() == date(2026, 4, 20)


def test_unknown_key_is_named_with_the_keys_allowed(tmp_path: Path) -> None:
    config = _config(tmp_path, "quarantine_treshold = 0.1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert message.startswith(f"config file {config}: unknown setting 'quarantine_treshold'")
    assert "quarantine_threshold" in message and "la_code" in message
    assert "extra_forbidden" not in message and "pydantic" not in message.lower()


def test_unknown_key_under_source_names_the_section(tmp_path: Path) -> None:
    config = _config(tmp_path, '[source]\nfolder = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "unknown setting 'source.folder'; the settings under [source] are: path, url" in str(
        caught.value
    )


def test_bad_la_code_in_the_config_is_explained(tmp_path: Path) -> None:
    config = _config(tmp_path, 'la_code = "Liverpool"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "la_code is not an ONS upper-tier authority code" in str(caught.value)
    assert "E08000012" in str(caught.value)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.mkdir(), "is a folder, not a TOML file"),
        (lambda p: p.write_bytes(b'la_code = "\xe9"\n'), "is not UTF-8 text"),
        (lambda p: p.write_text("la_code = \n", encoding="utf-8"), "is not valid TOML"),
        (lambda p: None, "does not exist"),
    ],
    ids=["folder", "not-utf8", "not-toml", "missing"],
)
def test_unusable_config_files_are_one_clear_error(tmp_path: Path, make, needle: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nis.toml"
    make(path)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert needle in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            '[source]\npath = "extracts"\nurl = "sqlite:///cases.db"\n',
            "give either source.path or source.url, not both",
        ),
        (
            '[source]\nurl = "sqlite:///cases.db"\n[source.queries]\nfamilys = "SELECT 1"\n',
            "unknown extract names in source tables/queries: ['familys']",
        ),
        ("census_lag_weeks = -1\n", "census_lag_weeks"),
        (
            '[source]\nurl = "sqlite:///c.db"\n[source.queries]\noffences = "DROP TABLE x"\n',
            "source.queries.offences is not a query that reads (SELECT, or WITH ... SELECT)",
        ),
        (
            '[source]\nurl = "postgresql://u@h/db?password=not a real key"\n',
            "source.url holds a password",
        ),
        # TOML's true is not 1 (a threshold of 100%, which would let any run through).
        ("quarantine_threshold = true\n", "quarantine_threshold must be a number"),
        ("census_lag_weeks = false\n", "census_lag_weeks must be a whole number"),
        # The key's spelling is the file's own: any case of the word is a key in the file.
        ('PSEUDONYM_KEY = "not a real key"\n', "the pseudonymisation key must never be in"),
    ],
    ids=[
        "path-and-url",
        "unknown-query",
        "negative-lag",
        "query-that-writes",
        "password-in-query-string",
        "threshold-true",
        "lag-false",
        "key-in-capitals",
    ],
)
def test_config_mistakes_are_refused_in_the_configs_words(
    tmp_path: Path, text: str, needle: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, text))
    assert needle in str(caught.value)
    assert "not a real key" not in str(caught.value)


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows Notepad and Excel's "UTF-8" save the mark first."""
    path = tmp_path / "nis.toml"
    path.write_bytes(b"\xef\xbb\xbfquarantine_threshold = 0.2\n")
    assert load_settings(path).quarantine_threshold == 0.2


def test_a_database_url_with_an_empty_password_holds_no_password(tmp_path: Path) -> None:
    """``user:@host`` names no password (the driver asks the environment for it), so it is not
    refused as a secret in the file; ``user:pw@host`` is."""
    empty = "postgresql+psycopg://nis:@db.example/cases"
    assert load_settings(_config(tmp_path, f'[source]\nurl = "{empty}"\n')).source.url == empty
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, '[source]\nurl = "postgresql://nis:pw@db/cases"\n'))
    assert "source.url holds a password" in str(caught.value)
    assert "pw@" not in str(caught.value)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        # A comment ends at its first */: none can hide the statement's first word.
        ("/* x */ DELETE FROM people WHERE id IN /* y */ (SELECT id FROM people)", "not a query"),
        ("SELECT 1; DELETE FROM people; COMMIT", "more than one statement"),
        ("SELECT 1 FROM people; DROP TABLE people --", "more than one statement"),
    ],
)
def test_a_query_that_could_write_is_refused_however_it_is_dressed(
    tmp_path: Path, query: str, says: str
) -> None:
    text = f'[source]\nurl = "sqlite:///c.db"\n[source.queries]\npeople = {json.dumps(query)}\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, text))
    assert f"source.queries.people {'is ' if says == 'not a query' else 'holds '}{says}" in str(
        caught.value
    )


@pytest.mark.parametrize(
    "query",
    [
        "/* the council's view */ SELECT * FROM people",
        "-- one line\nWITH p AS (SELECT * FROM people) SELECT * FROM p",
        "(SELECT * FROM people)",
        "SELECT ';' AS a, \"b;c\" FROM people;",
        "VALUES ('P1', 'F1')",
        "TABLE people",
    ],
)
def test_queries_that_read_are_taken(tmp_path: Path, query: str) -> None:
    text = f'[source]\nurl = "sqlite:///c.db"\n[source.queries]\npeople = {json.dumps(query)}\n'
    assert load_settings(_config(tmp_path, text)).source.queries["people"] == query


def test_a_password_inside_odbc_connect_is_refused(tmp_path: Path) -> None:
    url = "mssql+pyodbc://u@dsn?odbc_connect=DRIVER%3D%7BX%7D%3BUID%3Du%3BPWD%3Dnot a real key"
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, f'[source]\nurl = "{url}"\n'))
    assert "source.url holds a password" in str(caught.value)
    assert "not a real key" not in str(caught.value)
    plain = "mssql+pyodbc://u@dsn?odbc_connect=DRIVER%3D%7BX%7D%3BUID%3Du"
    assert load_settings(_config(tmp_path, f'[source]\nurl = "{plain}"\n')).source.url == plain
