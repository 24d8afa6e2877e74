"""The research extract's key: taken from the environment or a Prefect Secret block only when it
holds more than white space, never shown, and called short below 32 characters."""

from __future__ import annotations

import pytest

import flows.pseudonym_key as pseudonym_key
from flows.pseudonym_key import (
    PSEUDONYM_KEY_ENV,
    RECOMMENDED_KEY_CHARS,
    PseudonymKey,
    SecretError,
    load_pseudonym_key,
)


def test_a_key_of_white_space_is_no_key() -> None:
    with pytest.raises(SecretError, match="no pseudonymisation key"):
        load_pseudonym_key(None, {PSEUDONYM_KEY_ENV: "  \t "})


def test_the_environment_wins_and_is_named() -> None:
    key = load_pseudonym_key("team-key", {PSEUDONYM_KEY_ENV: "k" * 40})
    assert (key.value, key.source) == (b"k" * 40, "environment")


@pytest.mark.parametrize("held", ["", "   ", None, 42])
def test_a_block_holding_no_text_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, held: object
) -> None:
    monkeypatch.setattr(pseudonym_key, "_load_block", lambda name: held)
    with pytest.raises(SecretError, match="holds no text key"):
        load_pseudonym_key("team-key", {})


def test_a_block_key_is_named_by_its_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pseudonym_key, "_load_block", lambda name: "s" * 32)
    key = load_pseudonym_key("team-key", {})
    assert (key.value, key.source) == (b"s" * 32, "prefect-secret:team-key")


def test_the_key_is_never_shown() -> None:
    key = PseudonymKey(b"s3cret-value-nobody-may-see", "environment")
    assert "s3cret" not in repr(key) and "s3cret" not in str(key)


def test_short_means_under_the_recommended_length() -> None:
    assert RECOMMENDED_KEY_CHARS == 32
    assert PseudonymKey(b"k" * 31, "environment").short
    assert not PseudonymKey(b"k" * 32, "environment").short
