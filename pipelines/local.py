"""Local runs use every core by default.

Beam's DirectRunner runs one worker unless told otherwise (``--direct_num_workers=1``), so a laptop ran
a video on one core and ffmpeg's threads. When the runner is the DirectRunner (named, or by default) and
the command line says nothing about its parallelism, the run gets one worker per core the process may
use; ``--direct_num_workers`` or ``--direct_running_mode`` on the command line are kept as given
(``--direct_num_workers=1`` is the old single-worker run).

Processes, not threads (``--direct_running_mode=multi_processing``): a worker process starts a fresh
interpreter that imports Beam, torch, scipy, librosa and onnxruntime and sets up the detector and model
again (~5 CPU s each), where worker threads would share the launcher's; but the Python that holds the GIL
(tracking, crops, Beam's own bookkeeping) serialises threads. Measured on the shared 2-core machine
(benchmarks/README.md, "Threads or processes"), three runs each: one 10-minute 720p video took 43-76 s
end to end with two processes and 58-80 s with two threads (steady 0.40-0.44x decode alone against
0.29-0.32x); threads only win on posts of seconds (a 2 s post 13 s against 26-30 s), where the start
dominates.
"""

from __future__ import annotations

import os

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

MODE = "multi_processing"  # one worker process per core (see the module docstring)
DIRECT_RUNNERS = frozenset({"direct", "switchingdirect"})


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which container limits often set), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def is_direct(runner: str | None) -> bool:
    """The Beam ``--runner`` is the DirectRunner (None: Beam's default, which is it)."""
    if runner is None:
        return True
    return runner.rsplit(".", 1)[-1].lower().removesuffix("runner") in DIRECT_RUNNERS


def use_all_cores(options: PipelineOptions, beam_args: list[str]) -> None:
    """One DirectRunner worker per usable core, unless ``beam_args`` set the DirectRunner's parallelism
    (or another runner runs the job)."""
    if not is_direct(options.view_as(StandardOptions).runner):
        return
    given = ("--direct_num_workers", "--direct_running_mode")
    if any(arg.split("=", 1)[0] in given for arg in beam_args):
        return
    cores = usable_cores()
    if cores > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = cores
        direct.direct_running_mode = MODE


def direct_workers(options: PipelineOptions) -> int:
    """The DirectRunner's worker count (after ``use_all_cores``); 0 for other runners, whose worker
    count the job does not know (``SegmentConfig.workers``)."""
    if not is_direct(options.view_as(StandardOptions).runner):
        return 0
    return max(1, options.view_as(DirectOptions).direct_num_workers or 1)
