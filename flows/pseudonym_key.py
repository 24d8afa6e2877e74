"""The research extract's pseudonymisation key: from the environment variable ``NIS_PSEUDONYM_KEY``,
or else from the Prefect Secret block the config names (``pseudonym_secret``); never from the
config file (the settings refuse a key there), never written, never logged, never in a message.

The environment wins when both are set, as command-line values win over the file elsewhere;
which one was used is reported (by name, never by value) so that an analyst can tell why
pseudonyms of two periods do not link.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PSEUDONYM_KEY_ENV = "NIS_PSEUDONYM_KEY"
CONFIG_KEY = "pseudonym_secret"
# A shorter key can be found by trying keys against a known id's pseudonym.
RECOMMENDED_KEY_CHARS = 32


class SecretError(Exception):
    """No usable pseudonymisation key; the message names where to put one, never a value."""


@dataclass(frozen=True)
class PseudonymKey:
    value: bytes = field(repr=False)  # never shown, even in a traceback's locals
    source: str  # "environment" or "prefect-secret:<block name>"

    @property
    def short(self) -> bool:
        return len(self.value) < RECOMMENDED_KEY_CHARS


def _missing(block_name: str | None, why: str) -> SecretError:
    where = f"set the environment variable {PSEUDONYM_KEY_ENV}"
    if block_name is None:
        where += f", or name a Prefect Secret block holding it with {CONFIG_KEY} in the config"
    return SecretError(f"{why}: {where}")


def load_pseudonym_key(
    block_name: str | None, environ: Mapping[str, str] | None = None
) -> PseudonymKey:
    """The key from ``NIS_PSEUDONYM_KEY`` or else the Prefect Secret block ``block_name``.

    Raises :class:`SecretError` when neither gives a non-empty key. Loading a block needs
    Prefect's API (a configured server, or the temporary local one Prefect starts itself).
    """
    env = os.environ if environ is None else environ
    text = env.get(PSEUDONYM_KEY_ENV, "")
    if text.strip():
        return PseudonymKey(text.encode("utf-8"), "environment")
    if block_name is None:
        state = "is empty" if PSEUDONYM_KEY_ENV in env else "is not set"
        raise _missing(None, f"no pseudonymisation key ({PSEUDONYM_KEY_ENV} {state})")
    value = _load_block(block_name)
    if not isinstance(value, str) or not value.strip():
        raise _missing(
            block_name,
            f"the Prefect Secret block {block_name!r} ({CONFIG_KEY} in the config) holds no "
            "text key",
        )
    return PseudonymKey(value.encode("utf-8"), f"prefect-secret:{block_name}")


def _load_block(block_name: str) -> object:
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(block_name)  # synchronous here: no event loop is running
    except ValueError:  # Prefect's "Unable to find block document named ..."
        raise _missing(
            block_name,
            f"there is no Prefect Secret block named {block_name!r} ({CONFIG_KEY} in the config)",
        ) from None
    except Exception as exc:  # the API cannot be reached; its message may quote a URL, no key
        raise SecretError(
            f"the Prefect Secret block {block_name!r} ({CONFIG_KEY} in the config) could not be "
            f"loaded: {type(exc).__name__}; or set {PSEUDONYM_KEY_ENV}"
        ) from None
    return block.get()
