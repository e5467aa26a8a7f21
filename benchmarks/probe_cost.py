"""What probing in a killable child process costs per video (issue 15), against probing in-process.

    .venv/bin/python benchmarks/probe_cost.py [--repeats 50] [--json out.json]

Builds the three sample posts (once, in a temp folder) and probes each ``--repeats`` times both ways,
interleaved, in the same run: ``media.probe.probe`` in this process, and ``media.probe_worker.ProbeWorker``
(one child, started once, as a worker's DoFn holds it). Reports ms per probe, the difference and the ratio,
and the child's start-up (paid once per worker, at its first probe).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from emotrace.datasets.sample_posts import build_sample_posts
from emotrace.media.probe import probe
from emotrace.media.probe_worker import ProbeWorker
from emotrace.schemas.config import ALLOWED_CONTAINER_FORMATS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="emotrace-probe-cost-")
    build_sample_posts(folder, seed=0)
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".mp4"))
    worker = ProbeWorker()
    t0 = time.perf_counter()
    worker.probe(paths[0], ALLOWED_CONTAINER_FORMATS, None, 60)
    start_s = time.perf_counter() - t0
    in_process = child = 0.0
    for _ in range(args.repeats):
        for path in paths:
            t0 = time.perf_counter()
            a = probe(path, ALLOWED_CONTAINER_FORMATS)
            t1 = time.perf_counter()
            b = worker.probe(path, ALLOWED_CONTAINER_FORMATS, None, 60)
            child += time.perf_counter() - t1
            in_process += t1 - t0
            assert a == b
    worker.close()
    n = args.repeats * len(paths)
    report = {
        "probes": n,
        "in_process_ms": 1000 * in_process / n,
        "child_ms": 1000 * child / n,
        "added_ms_per_video": 1000 * (child - in_process) / n,
        "ratio": child / in_process,
        "child_start_s": start_s,
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
