"""Where the extracts come from, as plain values: the readers take this, never the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ExtractSource:
    """A folder of extract files, or a SQL database with a table or query per extract; and the
    council's own headers, per extract, mapped to the contract's column names."""

    folder: Path | None = None
    url: str | None = None
    tables: Mapping[str, str] = field(default_factory=dict)
    queries: Mapping[str, str] = field(default_factory=dict)
    column_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The database password, looked up by the caller; never shown in a repr or compared.
    password: str | None = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """Where the extracts are, safe to show (a database is never shown by its URL, which
        may carry a user name)."""
        return str(self.folder) if self.url is None else "the database"
