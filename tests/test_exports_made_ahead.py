"""made_ahead: the items in their order, the maker's error raised in its place, and no thread
left making items once the user stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.made_ahead import made_ahead


@given(st.lists(st.binary(max_size=20)), st.integers(min_value=1, max_value=4))
def test_the_items_come_in_their_order(items: list[bytes], depth: int) -> None:
    assert list(made_ahead(iter(items), "test-ahead", depth)) == items


def _then_fails(good: int) -> Iterator[int]:
    yield from range(good)
    raise ValueError("chunk 3 could not be made")


def test_what_making_raises_is_raised_after_the_items_before_it() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="chunk 3"):
        for item in made_ahead(_then_fails(3), "test-ahead"):
            got.append(item)
    assert got == [0, 1, 2]


def test_closing_early_stops_the_maker() -> None:
    made: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    ahead = made_ahead(endless(), "test-ahead-endless", depth=2)
    assert next(ahead) == 0
    ahead.close()  # as when deflating the chunk raised
    assert not [t for t in threading.enumerate() if t.name == "test-ahead-endless"]
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= 4  # made at most depth + the one in hand + one more
