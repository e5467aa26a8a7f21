"""Peak memory of ``emotrace analyze`` on a 1-minute and a 60-minute video (issue 6).

    .venv/bin/python benchmarks/memory.py [--minutes 1 60] [--json out.json]

Generates (once, cached under benchmarks/.cache) 640x360 talking-head videos with a face and a
speech-like soundtrack, cheaply (5 fps source, x264 ultrafast), then runs the real pipeline (DirectRunner,
default options) on each, one video per run, and reports:

* ``maxrss``: the peak RSS of the largest single process of the run's tree (``getrusage(RUSAGE_CHILDREN)``
  in a wrapper process around the command: the pipeline itself, or an ffmpeg);
* ``tree peak``: the peak of the summed RSS of the whole tree (pipeline + ffmpeg children), sampled from
  /proc every 0.2 s;
* the ratio longest / shortest of both (issue 6's acceptance: 60 min at most 1.2x the 1-minute figure);
* that the trace has every grid step exactly once (no step missing, no (track, step) written twice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from bench_util import DEFAULT_CACHE, analyze_argv, fresh_dir, machine, run_measured, talking_head_post

from emotrace.media.probe import probe
from emotrace.pipelines.summary import read_run_table, summarize_committed
from emotrace.schemas.config import GridConfig

WIDTH, HEIGHT, SOURCE_FPS = 640, 360, 5.0


def step_coverage(output: str, run_id: str, duration_s: float) -> dict[str, int]:
    """Steps expected for ``duration_s``, steps present in the trace, and duplicate (track, step) rows."""
    grid = GridConfig()
    table = read_run_table(output, "traces", run_id)
    steps = np.rint(table.column("t_s").to_numpy() / grid.step_s).astype(np.int64)
    tracks = np.asarray([-1 if t is None else t for t in table.column("track_id").to_pylist()], np.int64)
    pairs = np.unique(np.stack([tracks, steps], axis=1), axis=0)
    return {
        "expected_steps": grid.n_steps(duration_s),
        "distinct_steps": len(np.unique(steps)),
        "duplicate_rows": len(steps) - len(pairs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 60.0])
    parser.add_argument("--cache", default=DEFAULT_CACHE, help="where generated videos are kept")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--extra", default="", help="more analyze options, space-separated")
    parser.add_argument(
        "--hd",
        action="store_true",
        help="1280x720 25 fps posts (throughput.py's corpus) instead of 640x360 5 fps",
    )
    args = parser.parse_args(argv)
    log_dir = fresh_dir("emotrace-bench-logs-")
    report: dict[str, object] = {"machine": machine(), "extra_options": args.extra.split(), "runs": []}
    runs: list[dict[str, float]] = []
    for minutes in args.minutes:
        t0 = time.perf_counter()
        if args.hd:  # the throughput benchmark's 720p corpus (the same cached file for the same length)
            folder = os.path.join(args.cache, f"th720_1x{minutes * 60:g}s")
            path = talking_head_post(os.path.join(folder, "post0.mp4"), minutes * 60, 1280, 720, 25, seed=0)
        else:
            folder = os.path.join(args.cache, f"long_{minutes:g}min")
            path = talking_head_post(
                os.path.join(folder, "post.mp4"),
                minutes * 60,
                WIDTH,
                HEIGHT,
                SOURCE_FPS,
                seed=0,
                preset="ultrafast",
            )
        made_s = time.perf_counter() - t0
        duration = probe(path).duration_s
        out, run_id = fresh_dir("emotrace-bench-mem-"), f"mem-{minutes:g}min"
        cmd = analyze_argv(folder, out, ["--run-id", run_id, *args.extra.split()])
        result = run_measured(cmd, os.path.join(log_dir, f"{run_id}.log"))
        summary = summarize_committed(out, run_id)
        if result.rc != 0 or summary.by_status != {"ok": 1}:
            raise RuntimeError(f"{run_id}: rc {result.rc}, videos {summary.by_status}; see {log_dir}")
        run = {
            "minutes": minutes,
            "media_s": duration,
            "wall_s": result.wall_s,
            "cpu_s": result.cpu_s,
            "maxrss_mb": result.maxrss_mb,
            "tree_peak_mb": result.tree_peak_mb,
            **step_coverage(out, run_id, duration),
        }
        runs.append(run)
        print(
            f"{minutes:g} min ({made_s:.0f} s to make): wall {result.wall_s:.0f} s, "
            f"maxrss {result.maxrss_mb:.0f} MB, "
            f"tree peak {result.tree_peak_mb:.0f} MB; steps {run['distinct_steps']}/{run['expected_steps']}, "
            f"duplicates {run['duplicate_rows']}",
            flush=True,
        )
    report["runs"] = runs
    if len(runs) >= 2:
        short, long = min(runs, key=lambda r: r["media_s"]), max(runs, key=lambda r: r["media_s"])
        ratios = {k: long[k] / short[k] for k in ("maxrss_mb", "tree_peak_mb")}
        report["ratios"] = ratios
        print(
            f"machine: {os.cpu_count()} cores; logs in {log_dir}\n"
            f"{long['minutes']:g} min / {short['minutes']:g} min: maxrss {ratios['maxrss_mb']:.2f}x, "
            f"tree peak {ratios['tree_peak_mb']:.2f}x (target <= 1.2)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
