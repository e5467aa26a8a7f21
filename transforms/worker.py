"""Process-wide settings of an analyze worker, made in one place (issue 17).

A worker process (a Dataflow SDK process, a DirectRunner multi-processing worker, or the launching
process itself on the in-process runners) runs the decoding stage, the model stage or both. The settings
change the whole process, so they are applied here, once per setting, from whichever stage starts first:

* glibc malloc bounds (``media.malloc``): peak memory flat in video length (issue 6);
* torch's intra-op threads, for a model on CPU: one, because runners give each core its own worker
  process, and torch's default of one thread per core only makes the workers and their ffmpeg and
  onnxruntime threads contend (issue 6); the model is a few % of a worker's CPU;
* once a stage has loaded what lives as long as the process (imports, detector, model): those objects
  frozen out of the garbage collector's walks (``media.gc_freeze``; issue 16, start-up cost), and, in
  the ``emotrace analyze`` command, no collections while it imports Beam and torch.

Nothing here is read from the environment, and nothing is undone: the in-process runners used by the
tests keep the settings for the rest of the test process (``tests/pipelines/conftest.py`` restores
torch's thread count after each pipeline test; the malloc bounds cannot be taken back, and only cost
CPU, never results).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from emotrace.media.gc_freeze import freeze_loaded_objects, frozen_after_loading
from emotrace.media.malloc import bound_heap_growth

CPU_MODEL_THREADS = 1

_lock = threading.Lock()


def configure_worker(model_on_cpu: bool = False) -> None:
    """Apply the worker settings; ``model_on_cpu``: this process runs the model on its CPU."""
    with _lock:
        bound_heap_growth()  # cached: mallopt runs once per process
        if not model_on_cpu:
            return
        import torch  # here: the analyze command imports this module before torch (launcher_imports)

        if torch.get_num_threads() != CPU_MODEL_THREADS:
            torch.set_num_threads(CPU_MODEL_THREADS)


def settle_worker() -> None:
    """A stage's setup has loaded what the process keeps (detector, model, numba's kernels): full
    collections stop walking it, and the interpreter's at exit too (media/gc_freeze.py)."""
    freeze_loaded_objects()


@contextlib.contextmanager
def launcher_imports() -> Iterator[None]:
    """The analyze command's imports (Beam, torch) with the collector held off, then frozen: the
    launcher runs the local runner's data plane, or every stage with one worker."""
    with frozen_after_loading():
        yield
