"""Helpers shared by the issue-6 benchmarks (throughput.py, memory.py): generated corpora, cached, and
running ``emotrace analyze`` as a child process with its wall time, CPU time and peak memory.

Not a test and not part of the package: the benchmarks import it from their own folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np

from emotrace.datasets.sample_posts import speech_like, talking_head_frames, write_video
from emotrace.media.probe import probe

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(HERE, ".cache")  # gitignored (.cache/)

# Runs argv, waits, and prints its children's rusage: ru_maxrss is then the peak RSS of the largest
# process of the pipeline's tree (the pipeline itself, a Beam worker or an ffmpeg), all waited for.
_WRAPPER = """
import json, resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "cpu_s": r.ru_utime + r.ru_stime, "maxrss_kb": r.ru_maxrss}))
"""


def talking_head_post(
    path: str, seconds: float, width: int, height: int, fps: float, seed: int, preset: str = "veryfast"
) -> str:
    """A generated talking-head post at ``path`` (made once; kept when it exists): the astronaut's face
    under a slow pan/zoom with a speech-like soundtrack. Long posts tile one minute of sound."""
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    sr = 16_000
    sound = speech_like(min(seconds, 60.0), sr, rng)
    sound = np.resize(sound, round(seconds * sr))  # repeats the minute: bounded memory to make it
    frames = talking_head_frames(round(seconds * fps), fps, rng, width, height)
    tmp = path + ".part.mp4"
    write_video(tmp, frames, fps, sound, sr, preset=preset, timeout_s=3600.0)
    os.replace(tmp, path)
    return path


def media_seconds(paths: list[str]) -> float:
    return sum(probe(p).duration_s for p in paths)


def _tree_rss_kb(root: int) -> int:
    """Total VmRSS of ``root`` and all its descendants, from /proc (Linux; 0 where unreadable)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process exited between listdir and read: it holds no memory any more
        children.setdefault(ppid, []).append(int(name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue  # exited since the scan: nothing to add
    return total


@dataclass
class RunResult:
    wall_s: float
    cpu_s: float  # user + system of the whole tree
    maxrss_mb: float  # peak RSS of the largest single process of the tree
    tree_peak_mb: float  # peak of the tree's summed RSS, sampled every 0.2 s
    rc: int


def run_measured(argv: list[str], log_path: str | None = None) -> RunResult:
    """Run ``argv`` in a wrapper process; its stdout/stderr go to ``log_path`` (or are dropped)."""
    peak = [0]
    with open(log_path or os.devnull, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, *argv], stdout=subprocess.PIPE, stderr=log, text=True
        )
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, _ = proc.communicate()
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    lines = out.strip().splitlines()
    log_lines = lines[:-1]
    if log_path and log_lines:
        with open(log_path, "a") as log:
            log.write("\n".join(log_lines) + "\n")
    stats = json.loads(lines[-1])
    return RunResult(wall, stats["cpu_s"], stats["maxrss_kb"] / 1024, peak[0] / 1024, stats["rc"])


def analyze_argv(input_path: str, output_dir: str, extra: list[str] | None = None) -> list[str]:
    """The ``emotrace analyze`` command line, run with this interpreter."""
    cli = [sys.executable, "-m", "emotrace.pipelines.cli", "analyze"]
    return [*cli, "--input", input_path, "--output", output_dir, *(extra or [])]


def fresh_dir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix)


def machine() -> dict[str, object]:
    return {"cores": os.cpu_count(), "loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
