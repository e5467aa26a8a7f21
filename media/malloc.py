"""Keep a long video's decode from growing the process's heap: glibc malloc settings (issue 6).

Decoding streams frames in ~35 MB chunks and cuts ~0.3 MB windows of crops, from several threads
(Beam, onnxruntime, torch). With glibc's defaults, the first freed large block raises the mmap
threshold (up to 32 MB), so later crops and chunks come from per-thread heaps whose freed holes are
not handed back: the peak RSS of ``emotrace analyze`` grew with video length, 1344 MB for 1 minute
and 1592 MB for 10 minutes (benchmarks/memory.py, 2-core machine). A fixed 256 KB mmap threshold
(large blocks always go straight back to the OS), a 1 MB trim threshold and at most 2 arenas
(``MALLOC_ARENA_MAX=2`` and friends as environment variables) gave 1431 MB for 10 minutes.

``bound_heap_growth`` sets the same through ``mallopt`` in a running process: call it early (the CLI
entry point, and ``DoFn.setup`` of the stage that decodes, for workers that never run the CLI).
Arenas already made are kept; the thresholds act on every later allocation. A no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD_BYTES = 256 * 1024
TRIM_THRESHOLD_BYTES = 1024 * 1024
ARENA_MAX = 2


@lru_cache(maxsize=1)
def bound_heap_growth() -> bool:
    """Apply the settings once per process; True when glibc accepted all three."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_ARENA_MAX, ARENA_MAX)
    ok &= mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    ok &= mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return bool(ok)
