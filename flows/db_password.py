"""The database password: looked up where a run starts (the flow, or ``nis validate``) and handed
to the reader as a value, never stored in the settings, a config file, a flow parameter, a log
line or an exception message.

The config names where the password is, not the password: ``source.password_secret`` names a
Prefect Secret block; otherwise ``source.password_env`` names an environment variable (default
``NIS_DB_PASSWORD``). No password at all is fine when the database needs none (a ``.pgpass``
file, a trusted local login, SQLite).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from flows.settings import DB_PASSWORD_ENV, ConfigError, Settings


def database_password(
    password_env: str | None,
    password_secret: str | None,
    environ: Mapping[str, str] | None = None,
) -> SecretStr | None:
    """The password for the database source, or None when none is given.

    Raises :class:`ConfigError` (naming the setting, never a value) when the place the config
    names holds nothing.
    """
    if password_secret is not None:
        return SecretStr(_from_secret_block(password_secret))
    environ = os.environ if environ is None else environ
    value = environ.get(password_env or DB_PASSWORD_ENV, "")
    if value:
        return SecretStr(value)
    if password_env is not None:
        raise ConfigError(
            f"the environment variable {password_env} named by source.password_env is not set: "
            "set it to the database password before the run"
        )
    return None


def _from_secret_block(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name)  # a block in a sync caller (typed as maybe a coroutine)
        value = block.get()
    except Exception as exc:
        raise ConfigError(
            f"the Prefect Secret block {name!r} named by source.password_secret could not be "
            f"loaded ({type(exc).__name__}): create it in the Prefect UI (Blocks, Secret) or "
            f"with Secret(value=...).save({name!r}) against the same Prefect server"
        ) from None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"the Prefect Secret block {name!r} named by source.password_secret holds no "
            "password text"
        )
    return value


def source_password(settings: Settings) -> str | None:
    """The password of the settings' database source, unwrapped for the reader (None for a
    folder source, or a database that needs none)."""
    if settings.source.url is None:
        return None
    secret = database_password(settings.source.password_env, settings.source.password_secret)
    return secret.get_secret_value() if secret is not None else None
