"""The one typed place for configuration: a TOML file, environment variables (``NIS_*``) and CLI
overrides all land in :class:`Settings`."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EXTRACT_NAMES: tuple[str, ...] = (
    "families",
    "people",
    "eligibility",
    "school_attendance",
    "exclusions",
    "offences",
    "asb_incidents",
    "domestic_abuse_incidents",
    "social_care_episodes",
    "employment_spells",
)


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the setting."""


# Where the database password is looked for when the config names no other place.
DB_PASSWORD_ENV = "NIS_DB_PASSWORD"


def _url_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return bool(make_url(url).password)
    except Exception:  # not a URL at all: the reader says so when it connects
        return False


class SourceSettings(BaseModel):
    """Where the ten case extracts come from: a folder of files or a SQL database."""

    path: Path | None = None
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
                "source.url holds a password, and a password must never be written in a config "
                "file: remove it from the URL (postgresql+psycopg://user@host/db) and put it in "
                f"the environment variable {DB_PASSWORD_ENV} (or another named by "
                "source.password_env), or in a Prefect Secret block named by "
                "source.password_secret"
            )
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSettings:
        if self.path is not None and self.url is not None:
            raise ValueError("give either source.path or source.url, not both")
        if self.password_env is not None and self.password_secret is not None:
            raise ValueError("give either source.password_env or source.password_secret, not both")
        unknown = (set(self.tables) | set(self.queries)) - set(EXTRACT_NAMES)
        if unknown:
            raise ValueError(f"unknown extract names in source tables/queries: {sorted(unknown)}")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIS_", env_nested_delimiter="__", extra="forbid")

    la_code: str | None = Field(
        default=None,
        description="ONS code of the council; default: taken from the families extract",
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

    @field_validator("column_map")
    @classmethod
    def _known_extracts(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = set(value) - set(EXTRACT_NAMES)
        if unknown:
            raise ValueError(f"unknown extract names in column_map: {sorted(unknown)}")
        return value

    def resolved_extract_date(self) -> date:
        return self.extract_date or date.today()


def load_settings(config_path: Path | None = None, **overrides: Any) -> Settings:
    """Read the TOML config (if any), then apply non-None overrides (CLI flags win)."""
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            with open(config_path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file {config_path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_path} is not valid TOML: {exc}") from None
        # Relative paths in the file are relative to the file (joining keeps absolute ones).
        base = config_path.parent
        source = data.get("source")
        if isinstance(source, dict) and source.get("path"):
            source["path"] = str((base / source["path"]).resolve())
        if data.get("output_dir"):
            data["output_dir"] = str((base / data["output_dir"]).resolve())
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "source_path":
            data["source"] = {**data.get("source", {}), "path": str(value), "url": None}
        else:
            data[key] = value
    try:
        return Settings(**data)
    except ValidationError as exc:
        where = f"config file {config_path}" if config_path else "settings"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None
