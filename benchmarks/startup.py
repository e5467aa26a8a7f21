"""What a run pays before its first video: imports, model, detector, acoustic warm-up, the probe child, and
the launch of a whole run on a 2-second post with one worker and with one worker per core (issue 16).

    .venv/bin/python benchmarks/startup.py [--repeats 3] [--json startup.json]

Each step is timed in a fresh interpreter, in the order a worker meets them (each one's figure is what it
adds to the ones before it): ``import apache_beam``, ``import torch``, the rest of the analyze pipeline's
imports, the model bundle (``open_bundle``), the RetinaFace session (``detector_for``), the acoustic
descriptors' first run (``warm_up``; numba's cached compile until issue 16), and the probe child's start
and first probe. Then ``emotrace analyze`` on one 2-second 720p post end to end, with
``--direct_num_workers=1`` and with the default (one worker process per core). Wall and CPU seconds, and
the tail: from the commit marker's write (the run's last output) to the command's exit, which is the
workers' and the launcher's shutdown; the median of the repeats.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

from bench_util import DEFAULT_CACHE, analyze_argv, fresh_dir, machine, run_measured, talking_head_post

_STEPS = r"""
import json, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
out = {}
def step(name, fn):
    t0, c0 = time.perf_counter(), cpu()
    fn()
    out[name] = (time.perf_counter() - t0, cpu() - c0)
step("python", lambda: None)
step("import apache_beam", lambda: __import__("apache_beam"))
step("import torch", lambda: __import__("torch"))
step("import the analyze pipeline", lambda: __import__("emotrace.pipelines.analyze"))
from emotrace.transforms.inference import open_bundle
from emotrace.features.faces import detector_for
from emotrace.features.acoustics import warm_up
from emotrace.media.probe_worker import ProbeWorker
from emotrace.schemas.config import AnalyzeConfig
step("model bundle", lambda: open_bundle(None).build_model())
step("RetinaFace session", lambda: detector_for(AnalyzeConfig().faces))
step("acoustic warm-up", warm_up)
cfg = AnalyzeConfig().decode
def probe():
    w = ProbeWorker()
    w.probe(sys.argv[1], cfg.format_whitelist, cfg.max_pixels, cfg.timeout_s, time.monotonic())
    w.close()
step("probe child: start + first probe", probe)
print(json.dumps(out))
"""


def steps(post: str) -> dict[str, tuple[float, float]]:
    """(wall s, CPU s) of each start-up step, in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _STEPS, post], capture_output=True, text=True, check=True)
    return {k: tuple(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=DEFAULT_CACHE)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    folder = os.path.join(args.cache, "th720_1x2s")
    post = talking_head_post(os.path.join(folder, "post0.mp4"), 2.0, 1280, 720, 25, seed=0)
    runs = [steps(post) for _ in range(args.repeats)]
    report: dict[str, object] = {"machine": machine(), "steps": {}, "runs": {}}
    print(f"{'step':40s} {'wall s':>8s} {'cpu s':>8s}")
    for name in runs[0]:
        wall = statistics.median(r[name][0] for r in runs)
        cpu = statistics.median(r[name][1] for r in runs)
        report["steps"][name] = {"wall_s": wall, "cpu_s": cpu}  # type: ignore[index]
        print(f"{name:40s} {wall:8.2f} {cpu:8.2f}")
    for tag, extra in (("1 worker", ["--direct_num_workers=1"]), ("default (all cores)", [])):
        results, tails = [], []
        for _ in range(args.repeats):
            out = fresh_dir("emotrace-bench-startup-")
            results.append(run_measured(analyze_argv(folder, out, extra)))
            tails.append(time.time() - os.path.getmtime(glob.glob(os.path.join(out, "_runs", "*.json"))[0]))
        wall = statistics.median(r.wall_s for r in results)
        cpu = statistics.median(r.cpu_s for r in results)
        tail = statistics.median(tails)
        report["runs"][tag] = {  # type: ignore[index]
            "wall_s": wall,
            "cpu_s": cpu,
            "tail_s": tail,
            "all_wall_s": [r.wall_s for r in results],
            "rc": [r.rc for r in results],
        }
        print(f"{'analyze, 2 s post, ' + tag:40s} {wall:8.2f} {cpu:8.2f}   tail after commit {tail:5.2f} s")
    print(f"load average {os.getloadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
