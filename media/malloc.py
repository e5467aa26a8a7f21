"""Keep a long video's decode from growing the process's heap: glibc malloc settings (issue 6).

Decoding streams frames in ~35 MB chunks and cuts ~0.3 MB windows of crops, from several threads
(Beam, onnxruntime, torch). With glibc's defaults, the first freed large block raises the mmap
threshold (up to 32 MB), so later crops and chunks come from per-thread heaps whose freed holes are
not handed back: the peak RSS of ``emotrace analyze`` grew with video length, 1344 MB for 1 minute
and 1592 MB for 10 minutes (benchmarks/memory.py, 2-core machine). A fixed mmap threshold (it stops
the threshold from creeping up), a trim threshold and at most 2 arenas fix that.

The sizes trade memory for CPU: every block served by mmap, and every heap top trimmed and grown back,
is paid again in page faults (one per 4 KB touched). At 256 KB / 1 MB (the first setting) the core of
the pipeline spent ~13 ms more CPU per media second than with glibc's defaults (60 vs 47 ms, 720p
talking heads), a tenth of the pipeline's cost. Now: a 4 MB mmap threshold and an 8 MB trim
threshold, with the frame-chunk and detector-input buffers reused (``media.decode``,
``features.faces``) instead of mapped afresh; the core is back to ~46 ms, and the 60-minute video
still peaks at 1.13x the 1-minute one (1196 vs 1060 MB, benchmarks/memory.py, 2026-11-25).

``bound_heap_growth`` sets them through ``mallopt`` in a running process: call it early (`emotrace analyze`'s
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

MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024
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
