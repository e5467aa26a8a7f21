"""Keep Python's cyclic garbage collector off the objects a worker loads once (issue 16: start-up cost).

A worker imports Beam, torch, scipy, librosa, numba, onnxruntime and OpenCV: millions of objects that
live as long as the process. Every full (oldest-generation) collection walks all of them, and the
interpreter runs several more at exit. Measured on the 2-core machine (benchmarks/startup.py and the
README's Performance section): a worker of ``emotrace analyze`` spent ~1-1.5 CPU s per minute of 720p
video in seven full collections that found almost nothing, and ~1.5 CPU s more tearing the heap
down at exit, which the local runner waits for one worker after the other before it returns.

``gc.freeze()`` moves every object tracked so far into a permanent generation that collections skip:
called once the heavy imports and loads are done, later collections (and the ones at exit) only walk
what the videos allocate. One full collection first, so that only live objects are frozen (a frozen
object that later becomes cyclic garbage is never collected; start-up objects live as long as the
process, and reference counting still frees the rest). That collection is paid once per process: the
next call walks only what was allocated since.

Where the process's own code does the loading (the ``emotrace`` command's launcher), collections are
also held off while it imports: an import adds objects faster than the collector's thresholds expect,
and ``import emotrace.pipelines.analyze`` took 3.6 CPU s with the collector on and 2.7 s with it off.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_LOCK = threading.Lock()


def freeze_loaded_objects() -> None:
    """Collect, then freeze what this process holds now. Call after loading what lives as long as the
    process (a worker's DoFn setup); calling again adds what was loaded since."""
    with _LOCK:
        gc.collect()
        gc.freeze()


@contextlib.contextmanager
def frozen_after_loading() -> Iterator[None]:
    """No collections while the block loads (imports); then what it loaded is frozen and collections
    resume (if they were on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_loaded_objects()
        if was_enabled:
            gc.enable()
