"""``bound_heap_growth`` (issue 6): glibc accepts the settings, once per process, and allocation works."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from emotrace.media.malloc import bound_heap_growth


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_settings_and_allocation_still_works() -> None:
    assert bound_heap_growth() is True
    assert bound_heap_growth() is True  # cached: applied once
    # Blocks above and below the 256 KB mmap threshold, allocated and freed, as the decoder does.
    for n in (100_000, 400_000, 35_000_000):
        block = np.ones(n, np.uint8)
        assert int(block.sum()) == n
        del block
