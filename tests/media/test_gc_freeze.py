"""``freeze_loaded_objects`` (issue 16, start-up cost): what a worker holds after setup leaves the
collector's walks, and garbage present at the call is collected first, never frozen (leaked)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from emotrace.media.gc_freeze import freeze_loaded_objects, frozen_after_loading


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector can free it


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process must not keep this test's frozen objects out of collections


def test_live_objects_are_frozen_and_garbage_is_not(unfrozen_after: None) -> None:
    kept = Node()
    dropped = Node()
    gone = weakref.ref(dropped)
    del dropped  # cyclic garbage, still alive until a collection
    assert gone() is not None
    before = gc.get_freeze_count()
    freeze_loaded_objects()
    assert gone() is None  # collected before the freeze, not frozen for the process's lifetime
    assert gc.get_freeze_count() > before
    assert not any(obj is kept for obj in gc.get_objects())  # out of every generation the collector walks
    again = Node()
    freeze_loaded_objects()  # a later call adds what was loaded since
    assert not any(obj is again for obj in gc.get_objects())


def test_no_collection_while_loading_then_frozen_and_back_on(unfrozen_after: None) -> None:
    assert gc.isenabled()
    with frozen_after_loading():
        assert not gc.isenabled()
        loaded = Node()
    assert gc.isenabled()
    assert not any(obj is loaded for obj in gc.get_objects())


def test_collections_stay_off_when_they_were(unfrozen_after: None) -> None:
    gc.disable()
    try:
        with frozen_after_loading():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
