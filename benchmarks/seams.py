"""Seam ratios of ``emotrace analyze`` traces on real videos of at least 15 s (issue 14).

    .venv/bin/python benchmarks/seams.py [--models default untrained PATH...] [--hops 5 1] [--json out.json]

For each model bundle and window hop (``--window-hop-s``; 5 = a window's length: back to back, as before
issue 14), runs the whole ``emotrace analyze`` (in this process, DirectRunner) on the real videos of
``datasets/real_videos.py`` (``../shared/realdata/video``: the 20 s Pexels clip and two composites of the
short real clips) and prints, per clip and pooled over the three, the seam ratio of arousal and valence
(``analytics/seams.py``) at two sets of boundaries:

* ``5 s``: the old back-to-back windows' boundaries (every 25 steps);
* ``run``: where the run's own windows start or end (every ``hop`` steps when the hop divides 25).

and ``chance``: the median and the largest ratio over the 24 shifts of the 5 s boundaries by 1..24 steps,
i.e. what a trace with no seam shows at arbitrary points (a short clip has few boundary pairs).

``default`` is the bundle ``analyze`` uses without ``--model``; ``untrained`` a random-weights bundle
(``model.bundle.make_untrained_bundle``, seed 0), a stress case whose outputs barely move, so that its
seams are most of its changes. Not a test: tests/pipelines/test_seams_realdata.py asserts the bar.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import pyarrow.dataset as ds
from bench_util import DEFAULT_CACHE, machine

from emotrace.analytics.seams import Boundaries, lane_pairs, phase_ratios, seam_stats
from emotrace.datasets.real_videos import real_videos
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
from emotrace.model.bundle import make_untrained_bundle, save_bundle
from emotrace.pipelines import analyze
from emotrace.schemas.config import GridConfig, hop_steps_for
from emotrace.schemas.rows import Row

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIMS = ("arousal", "valence")


def model_path(name: str, cache: str) -> str | None:
    if name == "default":
        return None
    if name == "untrained":
        path = os.path.join(cache, "untrained_bundle.pt")
        save_bundle(make_untrained_bundle(AUDIO_FEATURE_NAMES, seed=0), path)
        return path
    return name


def run_traces(videos: list[str], model: str | None, hop_s: float) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="emotrace-seams-") as tmp:
        manifest = os.path.join(tmp, "manifest.csv")
        with open(manifest, "w") as f:
            rows = [f"{os.path.abspath(v)},{os.path.basename(v)}\n" for v in videos]
            f.write("video_uri,post_id\n" + "".join(rows))
        out = os.path.join(tmp, "out")
        argv = ["--input", manifest, "--output", out, "--window-hop-s", str(hop_s)]
        analyze.run(argv + (["--model", model] if model else []))
        return ds.dataset(os.path.join(out, "traces"), format="parquet").to_table().to_pylist()


def report(rows: list[Row], grid: GridConfig) -> dict[str, dict[str, float]]:
    """Seam ratios per clip and pooled ("all")."""
    posts = sorted({r["post_id"] for r in rows})
    out: dict[str, dict[str, float]] = {}
    for post in [*posts, "all"]:
        pairs = lane_pairs(r for r in rows if post in ("all", r["post_id"]))
        old = seam_stats(pairs, Boundaries(25, 25))
        run = seam_stats(pairs, Boundaries(grid.window_steps, grid.hop))
        entry: dict[str, float] = {"pairs": old.n_boundary + old.n_other, "pairs_5s": old.n_boundary}
        entry["pairs_run"] = run.n_boundary
        for dim in DIMS:
            chance = phase_ratios(pairs, 25, dim)[1:]
            entry |= {
                f"{dim}_5s": old.ratio(dim),
                f"{dim}_run": run.ratio(dim),
                f"{dim}_chance_median": float(np.nanmedian(chance)),
                f"{dim}_chance_max": float(np.nanmax(chance)),
                f"{dim}_mean_change": old.other_mean(dim),
            }
        out[post] = entry
    return out


def print_table(table: dict[str, dict[str, float]]) -> None:
    print(
        f"{'clip':28} {'pairs':>5}  " + "  ".join(f"{d[0].upper()} 5s    run  chance med/max" for d in DIMS)
    )
    for clip, e in table.items():
        cells = [
            f"{e[d + '_5s']:5.2f}  {e[d + '_run']:5.2f}  "
            f"{e[d + '_chance_median']:6.2f}/{e[d + '_chance_max']:<6.2f}"
            for d in DIMS
        ]
        print(f"{clip:28} {e['pairs']:5.0f}  " + "  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--realdata", default=os.path.join(REPO, "..", "shared", "realdata"))
    p.add_argument("--models", nargs="+", default=["default", "untrained"])
    p.add_argument("--hops", nargs="+", type=float, default=[5.0, 1.0], help="--window-hop-s values")
    p.add_argument("--cache", default=DEFAULT_CACHE)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if not os.path.isdir(os.path.join(args.realdata, "video")):
        print(f"no real videos under {args.realdata}/video", file=sys.stderr)
        return 2
    videos = real_videos(args.realdata, os.path.join(args.cache, "real_videos"))
    results: dict[str, object] = {"machine": machine(), "runs": []}
    for name in args.models:
        for hop_s in args.hops:
            rows = run_traces(videos, model_path(name, args.cache), hop_s)
            grid = GridConfig(0.2, 25, hop_steps_for(hop_s, 0.2, 25))
            version = rows[0]["model_version"] if rows else "?"
            table = report(rows, grid)
            results["runs"].append({"model": name, "version": version, "hop_s": hop_s, "clips": table})  # type: ignore[attr-defined]
            print(f"\n{name} ({version}), --window-hop-s {hop_s:g}")
            print_table(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
