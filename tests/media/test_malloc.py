"""``bound_heap_growth`` (issue 6), observed on the heap itself through glibc's ``mallinfo2``.

With glibc's defaults, freeing one large mmapped block raises the mmap threshold to its size (the
threshold "creeps"), so later multi-MB chunks come from the heap, whose holes are not handed back. With
the settings applied, a block above 4 MB is still mmapped after a 20 MB one was freed. Each case runs in
a fresh interpreter: mallopt changes the whole process, and the test process must not inherit it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
            "keepcost")]
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def mmapped(n):  # does malloc serve an n-byte block by mmap (hblkhd grows by it)?
        before = libc.mallinfo2().hblkhd
        p = libc.malloc(n)
        grew = libc.mallinfo2().hblkhd - before
        libc.free(p)
        return grew >= n

    if sys.argv[1] == "bounded":
        from emotrace.media.malloc import bound_heap_growth
        assert bound_heap_growth() is True and bound_heap_growth() is True  # applied once, cached
    libc.free(libc.malloc(20 << 20))  # what a freed 35 MB frame chunk did to the threshold
    print(int(mmapped(5 << 20)), int(mmapped(1 << 20)))
    """
)


def _probe(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    big, small = out.stdout.split()
    return int(big), int(small)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")
def test_the_mmap_threshold_no_longer_creeps_after_a_large_free() -> None:
    assert _probe("defaults") == (0, 0)  # glibc's own behaviour: the 5 MB block now comes from the heap
    assert _probe("bounded") == (1, 0)  # above the fixed 4 MB threshold: mmapped, handed back on free
