"""The one typed place for configuration, and the only module that reads it.

Each setting comes from, in this order of precedence: a command-line flag, a ``NIS_*``
environment variable (``NIS_QUARANTINE_THRESHOLD=0.02``, ``NIS_SOURCE__PATH=...``), the TOML
config file, the default. Lower layers (readers, validation, writers) never import this module:
the flows and the command line pass them the values they need.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from extracts.source import ExtractSource
from schemas.codes import LA_CODE_PATTERN
from schemas.errors import UserInputError
from schemas.models import EXTRACT_NAMES


class ConfigError(UserInputError):
    """A config file or setting that cannot be used; the message names the file and the key."""


# Where the database password is looked for when the config names no other place.
DB_PASSWORD_ENV = "NIS_DB_PASSWORD"


# Query-string keys drivers take a password from (libpq's password, ODBC's PWD).
_PASSWORD_KEYS = frozenset({"password", "pwd", "passwd"})

# A query that reads: SELECT, WITH ... (the database, opened read-only, refuses a WITH that
# writes), VALUES or TABLE, after comments and opening brackets. A comment ends at its first
# "*/" (so none can hide a statement, and the match never backtracks through them).
_COMMENT = r"--[^\n]*(?:\n|$)|/\*(?:(?!\*/).)*\*/"
_READING_QUERY = re.compile(
    rf"(?:\s|\(|{_COMMENT})*(?:select|with|values|table)\b", re.IGNORECASE | re.DOTALL
)
# What is not code in a query: string literals, quoted names and comments (a ";" in them does
# not end a statement).
_NOT_CODE = re.compile(rf"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|{_COMMENT}", re.DOTALL)


def _url_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL at all: the reader says so when it connects
        return False
    if parsed.password or any(k.casefold() in _PASSWORD_KEYS for k in parsed.query):
        return True
    # SQL Server's odbc_connect holds a whole ODBC connection string, which may hold PWD=.
    odbc = next((v for k, v in parsed.query.items() if k.casefold() == "odbc_connect"), "")
    text = odbc if isinstance(odbc, str) else ";".join(odbc)
    return re.search(r"(?:^|;)\s*(?:pwd|password)\s*=", text, re.IGNORECASE) is not None


def _sqlite_from(base: Path, url: str) -> str:
    """A SQLite URL's relative file path taken from ``base`` (the config file's folder), as
    every other relative path in the file is; any other URL as it is."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return url
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str((base / database).resolve())).render_as_string(
        hide_password=False
    )


# Where a secret is, named: a variable's name, a Prefect block's (lower-case letters, digits and
# dashes). Anything else is most likely the secret itself pasted in, and must not be echoed back
# (the messages of an unset variable or a missing block name the place).
_VARIABLE_NAME = (r"[A-Za-z_][A-Za-z0-9_]*", "letters, digits and underscores")
_BLOCK_NAME = (r"[a-z0-9][a-z0-9-]*", "lower-case letters, digits and dashes")


def only_a_name(value: str | None, shape: tuple[str, str], place: str, secret: str) -> str | None:
    pattern, spelled = shape
    if value is not None and not re.fullmatch(pattern, value):
        raise ValueError(f"must name {place} ({spelled}), never hold {secret} itself")
    return value


class SourceSettings(BaseModel):
    """Where the ten case extracts come from: a folder of files or a SQL database."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = Field(default=None, description="folder holding the ten extract files")
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. sqlite:///cases.db or postgresql+psycopg://...",
    )
    tables: dict[str, str] = Field(
        default_factory=dict, description="extract name -> table name (default: the extract name)"
    )
    queries: dict[str, str] = Field(
        default_factory=dict, description="extract name -> SQL query (wins over tables)"
    )
    # Database passwords: only the name of where the password is, never the password itself.
    password_env: str | None = Field(
        default=None,
        description="environment variable holding the database password "
        f"(default {DB_PASSWORD_ENV})",
    )
    password_secret: str | None = Field(
        default=None, description="name of a Prefect Secret block holding the database password"
    )

    @field_validator("url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        if value is not None and _url_password(value):
            # The message must not repeat the URL: it holds the password.
            raise ValueError(
                "source.url holds a password, and a password must never be written in a setting "
                "(the config file, or NIS_SOURCE__URL in the environment): remove it from the URL "
                "(postgresql+psycopg://user@host/db) and put it in "
                f"the environment variable {DB_PASSWORD_ENV} (or another named by "
                "source.password_env), or in a Prefect Secret block named by "
                "source.password_secret"
            )
        return value

    @field_validator("password_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        return only_a_name(value, _VARIABLE_NAME, "an environment variable", "the password")

    @field_validator("password_secret")
    @classmethod
    def _password_block_name(cls, value: str | None) -> str | None:
        return only_a_name(value, _BLOCK_NAME, "a Prefect Secret block", "the password")

    @field_validator("queries")
    @classmethod
    def _queries_read(cls, value: dict[str, str]) -> dict[str, str]:
        for name, query in value.items():
            # (the messages never quote the query: it may hold values)
            if not _READING_QUERY.match(query):
                raise ValueError(
                    f"source.queries.{name} is not a query that reads (SELECT, or WITH ... "
                    "SELECT): the pipeline never changes the database it reads"
                )
            if ";" in _NOT_CODE.sub(" ", query).strip().rstrip(";"):
                raise ValueError(
                    f"source.queries.{name} holds more than one statement: give one query"
                )
        return value

    @_model_validator(mode="after")
    def _one_kind(self) -> SourceSettings:
        if self.path is not None and self.url is not None:
            raise ValueError("give either source.path or source.url, not both")
        if self.password_env is not None and self.password_secret is not None:
            raise ValueError("give either source.password_env or source.password_secret, not both")
        unknown = (set(self.tables) | set(self.queries)) - set(EXTRACT_NAMES)
        if unknown:
            raise ValueError(
                f"unknown extract names in source tables/queries: {sorted(unknown)}; "
                f"the extracts are {', '.join(EXTRACT_NAMES)}"
            )
        return self


# The config file's values for the Settings being built (a source below the environment).
_FILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("nis_config_file_values", default=None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIS_", env_nested_delimiter="__", extra="forbid")

    la_code: str | None = Field(
        default=None,
        description="ONS code of the council; default: taken from the families extract",
        pattern=LA_CODE_PATTERN,
    )
    source: SourceSettings = Field(default_factory=SourceSettings)
    column_map: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="per extract: the council's own header -> the contract's column name",
    )
    quarantine_threshold: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="largest share of people rows that may be quarantined",
    )
    output_dir: Path = Field(default=Path("submissions"), description="root folder for submissions")
    extract_date: date | None = Field(
        default=None,
        description="date the extracts were taken (later dates of birth are errors); default today",
    )
    census_lag_weeks: int = Field(
        default=6,
        ge=0,
        description="scheduled runs take the latest census date at least this long ago",
    )
    package_recipient: str | None = Field(
        default=None,
        description=(
            "age public key (age1...) of whoever receives the submission: scheduled runs then "
            "also build the encrypted transfer package (nis package --recipient)"
        ),
    )
    pseudonym_secret: str | None = Field(
        default=None,
        description=(
            "name of the Prefect Secret block holding the research extract's pseudonymisation "
            "key (else the key comes from NIS_PSEUDONYM_KEY); never the key itself"
        ),
    )

    @field_validator("quarantine_threshold", "census_lag_weeks", mode="before")
    @classmethod
    def _not_true_or_false(cls, value: object, info: ValidationInfo) -> object:
        # Pydantic reads TOML's true as 1: a threshold of 100%, which lets any run through.
        if isinstance(value, bool):
            kind = "float_type" if info.field_name == "quarantine_threshold" else "int_type"
            raise PydanticCustomError(kind, "not true or false")
        return value

    @field_validator("package_recipient")
    @classmethod
    def _age_public_key(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from exports.package import PackageRefused, parse_recipient

        try:
            parse_recipient(value)
        except PackageRefused as exc:
            raise ValueError(str(exc).replace("--recipient", "package_recipient")) from None
        return value.strip()

    @field_validator("pseudonym_secret")
    @classmethod
    def _block_name(cls, value: str | None) -> str | None:
        return only_a_name(value, _BLOCK_NAME, "a Prefect Secret block", "the key")

    @field_validator("column_map")
    @classmethod
    def _known_extracts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = set(value) - set(EXTRACT_NAMES)
        if unknown:
            raise ValueError(
                f"unknown extract names in column_map: {sorted(unknown)}; "
                f"the extracts are {', '.join(EXTRACT_NAMES)}"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (passed as init values) win over the environment, which wins over the file.
        file_source = InitSettingsSource(settings_cls, init_kwargs=_FILE_VALUES.get() or {})
        return (init_settings, env_settings, file_source)

    def resolved_extract_date(self) -> date:
        return self.extract_date or date.today()

    def results_sha256(self) -> str:
        """A digest of the settings that shape a submission's files besides the inputs: the
        column map (as headers are matched) and the extract date when one is set. (An unset one
        is today: hashing it would make yesterday's submission stale every morning.)"""
        shaping = {
            "column_map": {
                extract: {k.strip().casefold(): v.strip().casefold() for k, v in m.items()}
                for extract, m in sorted(self.column_map.items())
            },
            "extract_date": self.extract_date.isoformat() if self.extract_date else None,
        }
        text = json.dumps(shaping, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def extract_source(self, password: str | None = None) -> ExtractSource:
        """Where the readers find the extracts, as plain values; ``password`` is the database
        password, looked up at the edge (``flows.db_password``), never a setting."""
        return ExtractSource(
            folder=self.source.path,
            url=self.source.url,
            tables=dict(self.source.tables),
            queries=dict(self.source.queries),
            column_map={k: dict(v) for k, v in self.column_map.items()},
            password=password,
        )


def _refuse_keys_in_file(data: dict[str, Any], config_path: Path) -> None:
    """A pseudonymisation key must never sit in a config file, which is copied, mailed and
    committed: refuse any setting that looks like one (its value is never shown)."""

    def keys(table: dict[str, Any], prefix: str = "") -> list[str]:
        found = []
        for key, value in table.items():
            found.append(prefix + str(key))
            if isinstance(value, dict):
                found.extend(keys(value, f"{prefix}{key}."))
        return found

    for key in keys(data):
        if "pseudonym" in key.casefold() and key != "pseudonym_secret":
            raise ConfigError(
                f"config file {config_path}: {key}: the pseudonymisation key must never be in the "
                "config file; set the environment variable NIS_PSEUDONYM_KEY, or keep the key in "
                "a Prefect Secret block and name the block with pseudonym_secret"
            )


def _read_file(config_path: Path) -> dict[str, Any]:
    where = f"config file {config_path}"
    if config_path.is_dir():
        raise ConfigError(f"{where} is a folder, not a TOML file")
    try:
        raw = config_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text; save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    _refuse_keys_in_file(data, config_path)
    # Relative paths in the file are relative to the file (joining keeps absolute ones).
    base = config_path.parent
    source = data.get("source")
    if isinstance(source, dict) and isinstance(source.get("path"), str) and source["path"]:
        source["path"] = str((base / source["path"]).resolve())
    if isinstance(source, dict) and isinstance(source.get("url"), str):
        source["url"] = _sqlite_from(base, source["url"])
    if isinstance(data.get("output_dir"), str) and data["output_dir"]:
        data["output_dir"] = str((base / data["output_dir"]).resolve())
    return data


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from flags (``overrides``; None = not given), ``NIS_*`` environment variables,
    the TOML file at ``config_path`` and the defaults, in that order of precedence."""
    file_values = _read_file(Path(config_path)) if config_path is not None else {}
    flags: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "source_path":
            # A source folder on the command line replaces a database named anywhere else.
            flags["source"] = {"path": str(value), "url": None}
        else:
            flags[key] = value
    token = _FILE_VALUES.set(file_values)
    try:
        return Settings(**flags)
    except ValidationError as exc:
        where = f"config file {config_path}" if config_path else "settings"
        raise ConfigError(f"{where}: {_explain(exc)}") from None
    finally:
        _FILE_VALUES.reset(token)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors in the config's own words: the key, what is wrong, what is allowed."""
    problems = []
    for error in exc.errors():
        location = [str(p) for p in error["loc"]]
        key = ".".join(location) or "the file"
        if error["type"] == "extra_forbidden":
            section = location[:-1]
            allowed = _keys_of(section)
            problems.append(
                f"unknown setting {key!r}; the settings"
                + (f" under [{'.'.join(section)}]" if section else "")
                + f" are: {', '.join(allowed)}"
            )
        elif error["type"] == "string_pattern_mismatch" and location == ["la_code"]:
            problems.append(
                "la_code is not an ONS upper-tier authority code (E06, E08, E09 or E10 and six "
                "digits, e.g. E08000012)"
            )
        else:
            problems.append(f"{key} {_plain_words(error)}")
    return "; ".join(problems)


# Pydantic's error kinds, in the config's words (what the key must be, not the library's view).
_MUST_BE = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date written YYYY-MM-DD",
    "date_type": "must be a date written YYYY-MM-DD",
    "dict_type": 'must be a table (a [section], or { key = "value" })',
    "model_type": 'must be a table (a [section], or { key = "value" })',
    "model_attributes_type": 'must be a table (a [section], or { key = "value" })',
    "string_type": "must be text in quotes",
    "path_type": "must be a path in quotes",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
}


def _plain_words(error: Any) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if kind in _MUST_BE:
        return _MUST_BE[kind]
    if kind == "greater_than_equal":
        return f"must be at least {context.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {context.get('le')}"
    if kind == "value_error":
        return "is wrong: " + str(error["msg"]).removeprefix("Value error, ")
    return f"is wrong: {error['msg']}"


def _keys_of(section: list[str]) -> list[str]:
    model: type[BaseModel] = Settings
    if section == ["source"]:
        model = SourceSettings
    return list(model.model_fields)
