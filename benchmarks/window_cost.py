"""CPU per media second of the stages overlapping windows touch, back to back vs overlapping (issue 14).

    .venv/bin/python benchmarks/window_cost.py [--posts 2] [--hops 25 5] [--no-memo]

On the throughput benchmark's 1280x720 talking heads (benchmarks/.cache, made by throughput.py or here),
outside Beam, in this process (``time.process_time``; torch on one thread, as analyze's workers run it):

* ``cut``: decode reading, faces, descriptors and cutting windows (``features.step_grid.iter_step_windows``;
  ffmpeg's own CPU is not counted: it does not depend on the hop);
* ``model``: ``EmotionModelHandler.run_inference`` on batches of 8 windows, as analyze runs it (the
  face-embedding memo on, unless ``--no-memo``);
* ``blend``: dropping the crops and blending the windows into trace rows (``features.blend``, the rows).

The rest of the pipeline (Beam, Parquet) is measured by throughput.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench_util import DEFAULT_CACHE, talking_head_post

from emotrace.features.acoustics import warm_up
from emotrace.features.blend import blend_windows, without_inputs
from emotrace.features.faces import detector_for
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig, GridConfig
from emotrace.schemas.records import VideoRef
from emotrace.schemas.rows import trace_rows
from emotrace.transforms.inference import EmotionModelHandler


def measure(paths: list[str], hop: int, memo: bool) -> dict[str, float]:
    cfg = AnalyzeConfig(grid=GridConfig(0.2, 25, hop_steps=hop))
    detector = detector_for(cfg.faces, None)
    handler = EmotionModelHandler(None, "cpu", 8)
    model = handler.load_model()
    if not memo:
        model.face_memo = None
    cpu = {"cut": 0.0, "model": 0.0, "blend": 0.0}
    media_s = windows = rows = 0
    for path in paths:
        info = probe(path)
        media_s += info.duration_s
        t = time.process_time()
        frames = iter_frames(path, info, cfg.decode, reuse_buffer=True)
        ws = list(
            iter_step_windows(
                StepGrid(VideoRef(path, "p"), info, detector, cfg, 64),
                frames,
                iter_audio(path, info, cfg.decode),
            )
        )
        cpu["cut"] += time.process_time() - t
        t = time.process_time()
        preds = [p for i in range(0, len(ws), 8) for p in handler.run_inference(ws[i : i + 8], model)]
        cpu["model"] += time.process_time() - t
        t = time.process_time()
        rows += sum(
            len(trace_rows(p, "r", "h")) for p in blend_windows([without_inputs(p) for p in preds], hop)
        )
        cpu["blend"] += time.process_time() - t
        windows += len(ws)
    out = {k: 1000 * v / media_s for k, v in cpu.items()}
    return out | {"windows_per_media_s": windows / media_s, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--posts", type=int, default=2)
    p.add_argument("--hops", type=int, nargs="+", default=[25, 5], help="window hops in steps")
    p.add_argument("--no-memo", action="store_true")
    p.add_argument("--cache", default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    folder = os.path.join(args.cache, "th720_window_cost")
    paths = [
        talking_head_post(os.path.join(folder, f"post_{k}.mp4"), 30.0, 1280, 720, 25, seed=k)
        for k in range(args.posts)
    ]
    warm_up()
    print(f"load average {os.getloadavg()[0]:.2f}; CPU ms per media second (this process)")
    for hop in args.hops:
        r = measure(paths, hop, not args.no_memo)
        print(
            f"hop {hop:2d}: cut {r['cut']:5.1f}  model {r['model']:5.1f}  blend {r['blend']:4.1f}  "
            f"({r['windows_per_media_s']:.2f} windows per media s, {r['rows']} rows)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
