"""How much a step's prediction depends on where the windows start, on real videos (issue 14).

    .venv/bin/python benchmarks/seam_phase.py [--models default untrained] [--hops 25 5]

The analyze windows come from one tiling anchored at step 0 (a window every ``hop`` steps). Had the
video started ``p`` steps earlier or later, the tiling would meet the same content at another phase. For
each real video of ``datasets/real_videos.py`` this cuts the windows at every step once (hop 1, with
the pipeline's own ``features.step_grid.iter_step_windows``), runs the model on all of them, and for each
phase ``p`` in ``0 .. hop - 1`` blends the windows that start at ``p + k hop`` (``features.blend``):
the trace the pipeline writes for that phase. It prints, over the steps at least one window from either
end of the video, the mean and the largest ``|x_p - x_0|`` (arousal, valence) over all phases and lanes,
next to the mean step-to-step change of the trace. ``--hops 25`` is windows back to back (before issue
14): there the phase is where the 5 s seams fall.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys

import numpy as np
from bench_util import DEFAULT_CACHE

from emotrace.datasets.real_videos import real_videos
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES, warm_up
from emotrace.features.blend import blend_windows
from emotrace.features.faces import detector_for
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.model.bundle import ModelBundle, make_untrained_bundle
from emotrace.model.face_memo import FaceEmbeddingMemo
from emotrace.model.predict import predict_windows
from emotrace.schemas.config import AnalyzeConfig, GridConfig
from emotrace.schemas.records import StepWindow, VideoRef, WindowPrediction
from emotrace.transforms.inference import default_bundle

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def every_window(path: str, window_steps: int, crop_px: int) -> list[StepWindow]:
    """The windows starting at every step, all lanes, as analyze would cut them with a hop of 1."""
    cfg = AnalyzeConfig(grid=GridConfig(0.2, window_steps, hop_steps=1))
    warm_up()
    info = probe(path, cfg.decode.format_whitelist)
    frames = iter_frames(path, info, cfg.decode, reuse_buffer=True)
    ref = VideoRef(path, os.path.basename(path))
    detector = detector_for(cfg.faces, None)
    return list(
        iter_step_windows(
            StepGrid(ref, info, detector, cfg, crop_px), frames, iter_audio(path, info, cfg.decode)
        )
    )


def predict(bundle: ModelBundle, windows: list[StepWindow]) -> list[WindowPrediction]:
    model = bundle.build_model().for_inference()
    memo = FaceEmbeddingMemo()
    out = []
    for i in range(0, len(windows), 16):
        batch = windows[i : i + 16]
        faces, mask = np.stack([w.faces for w in batch]), np.stack([w.face_mask for w in batch])
        audio, audio_mask = np.stack([w.audio for w in batch]), np.stack([w.audio_mask for w in batch])
        a, v, att = predict_windows(model, faces, mask, audio, audio_mask, memo.encode(model, faces, mask))
        out += [WindowPrediction(w, a[k], v[k], att[k], bundle.version) for k, w in enumerate(batch)]
    return out


def traces(preds: list[WindowPrediction], hop: int) -> list[dict[tuple[int | None, int], np.ndarray]]:
    """Per phase: {(track, step): (arousal, valence)} of the blend of the windows in that phase."""
    out = []
    for phase in range(hop):
        blended = blend_windows([p for p in preds if p.window.start_step % hop == phase], hop)
        trace = {}
        for p in blended:
            for i in np.flatnonzero(p.window.valid):
                trace[(p.window.track_id, p.window.start_step + int(i))] = np.array(
                    [p.arousal[i], p.valence[i]]
                )
        out.append(trace)
    return out


def spread(per_phase: list[dict[tuple[int | None, int], np.ndarray]], lo: int, hi: int) -> dict[str, float]:
    base = per_phase[0]
    keys = [k for k in base if lo <= k[1] < hi and all(k in t for t in per_phase)]
    dev = np.array([[np.abs(t[k] - base[k]) for k in keys] for t in per_phase[1:]])
    steps = sorted(keys, key=lambda k: (k[0] is not None, k[0] or 0, k[1]))  # None: the face-less lane
    change = [np.abs(base[b] - base[a]) for a, b in itertools.pairwise(steps) if b == (a[0], a[1] + 1)]
    c = np.mean(change, axis=0)
    return {
        "mean_dev_a": float(dev[..., 0].mean()),
        "mean_dev_v": float(dev[..., 1].mean()),
        "max_dev_a": float(dev[..., 0].max()),
        "max_dev_v": float(dev[..., 1].max()),
        "mean_change_a": float(c[0]),
        "mean_change_v": float(c[1]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--realdata", default=os.path.join(REPO, "..", "shared", "realdata"))
    p.add_argument("--models", nargs="+", default=["default", "untrained"])
    p.add_argument("--hops", nargs="+", type=int, default=[25, 5], help="hops in steps")
    p.add_argument("--cache", default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    videos = real_videos(args.realdata, os.path.join(args.cache, "real_videos"))
    bundles = {
        "default": default_bundle,
        "untrained": lambda: make_untrained_bundle(AUDIO_FEATURE_NAMES, seed=0),
    }
    for name in args.models:
        bundle = bundles[name]()
        w, crop = bundle.preprocessing.window_steps, bundle.preprocessing.crop_size_px
        print(f"\n{name} ({bundle.version}): |x_p - x_0| over phases p, mean / max (A, V); mean |change|")
        for video in videos:
            windows = every_window(video, w, crop)
            preds = predict(bundle, windows)
            n = max(win.start_step for win in windows) + 1
            for hop in args.hops:
                s = spread(traces(preds, hop), w, n - w)
                clip = os.path.basename(video)
                print(
                    f"  {clip:28} hop {hop:2d}: mean {s['mean_dev_a']:.4f} {s['mean_dev_v']:.4f}"
                    f"  max {s['max_dev_a']:.3f} {s['max_dev_v']:.3f}"
                    f"  |change| {s['mean_change_a']:.4f} {s['mean_change_v']:.4f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
