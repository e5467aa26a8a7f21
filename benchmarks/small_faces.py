"""Detection rate by face size at 720p and 1080p, default options against the pre-issue-18 defaults.

    .venv/bin/python benchmarks/small_faces.py [--realdata ../shared/realdata] [--scenes 3] [--json out.json]

For each source size (1280x720, 1920x1080) and face size (shorter side of the face box, in source
pixels), ``--scenes`` frames each hold a grid of real faces of that size, every face a different
person (``datasets/face_composites.py``: London, Canada, interfaces and Congress portraits on parts of
the Pexels photos), H.264-encoded and decoded as the pipeline decodes. Measured on the decoded frames:

* ``new``: the default pipeline path (``RoiFaceDetector``'s full-frame pass: proposals at the size
  where a ``--min-face`` face is 10 px, small ones confirmed on a zoomed canvas);
* ``old``: what the defaults did before (frames decoded at 640 px, one 640 px RetinaFace pass,
  ``--min-face`` 20 in decoded pixels).

Recall: a true face counts as found where a detection overlaps it with IoU >= 0.4; false faces are
detections overlapping no true face. CPU: milliseconds per full-frame pass (process time). Needs
``../shared/realdata`` (real portraits); not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from emotrace.datasets import face_composites as fc
from emotrace.datasets.sample_posts import write_video
from emotrace.features.faces import FaceDetector
from emotrace.features.roi_detect import RoiFaceDetector
from emotrace.features.tracking import iou_matrix
from emotrace.media.decode import iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig, FaceConfig

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES_PX = (16, 20, 24, 28, 32, 40, 48, 64)
SOURCES = ((1280, 720), (1920, 1080))
_OLD_DECODE_PX, _OLD_MIN_FACE_PX = 640, 20


def grid_scene(
    realdata: str, width: int, height: int, face_px: int, seed: int, heads: list[fc.Head]
) -> tuple:
    """One frame with as many faces of ``face_px`` as fit on a grid (at most 24), each a different
    person; returns (frame, true boxes float64[N, 4])."""
    rng = np.random.default_rng(seed)
    frame = fc.background(realdata, width, height, seed)
    gap = max(3 * face_px, 90)
    boxes = []
    spots = [
        (x, y)
        for y in range(60, height - 2 * face_px - 40, gap)
        for x in range(60, width - 2 * face_px - 40, gap)
    ]
    for k, (x, y) in enumerate(spots[:24]):
        head = fc.scaled(heads[(seed * 24 + k) % len(heads)], face_px)
        jx, jy = rng.integers(0, gap // 3, 2)
        boxes.append(fc.paste(frame, head, x + jx, y + jy))
    return frame, np.stack(boxes)


def decoded(frame: np.ndarray, max_side_px: int, tmp: str) -> np.ndarray:
    """``frame`` through H.264 (crf 23) and the pipeline's decoder at ``max_side_px``."""
    path = os.path.join(tmp, "scene.mp4")
    write_video(path, np.repeat(frame[None], 2, axis=0), 5.0, crf=23)
    info = probe(path)
    return next(iter_frames(path, info, DecodeConfig(max_side_px=max_side_px))).frames[0].copy()


def score(truth: np.ndarray, found: list, scale: float) -> tuple[int, int]:
    """(true faces found, false detections); ``found`` boxes are divided by ``scale`` (decoded px per
    source px) first."""
    if not found:
        return 0, 0
    iou = iou_matrix(truth, np.stack([f.box for f in found]) / scale)
    return int((iou.max(axis=1) >= 0.4).sum()), int((iou.max(axis=0) < 0.4).sum())


def detect(key: str, img: np.ndarray, source: tuple[int, int], detectors: dict[str, FaceDetector]) -> list:
    """The faces ``new`` (the pipeline's full-frame pass) or ``old`` (one 640 px pass) finds."""
    if key == "new":
        return RoiFaceDetector(detectors["new"], FaceConfig(), source).detect(img[None])[0]
    return detectors["old"].detect([img])[0]


def measure_size(
    realdata: str, source: tuple[int, int], face_px: int, scenes: int, ctx: tuple[dict, list, str]
) -> dict:
    """One row: faces of ``face_px`` in ``scenes`` frames of ``source`` (width, height)."""
    detectors, heads, tmp = ctx
    width, height = source
    row: dict = {"source": f"{width}x{height}", "face_px": face_px, "faces": 0}
    for key in ("new", "old"):
        row |= {f"{key}_found": 0, f"{key}_false": 0, f"{key}_cpu_ms": 0.0}
    for seed in range(scenes):
        frame, truth = grid_scene(realdata, width, height, face_px, seed, heads)
        row["faces"] += len(truth)
        for key in ("new", "old"):
            img = decoded(frame, DecodeConfig().max_side_px if key == "new" else _OLD_DECODE_PX, tmp)
            t0 = time.process_time()
            found = detect(key, img, source, detectors)
            row[f"{key}_cpu_ms"] += 1e3 * (time.process_time() - t0) / scenes
            hit, false = score(truth, found, img.shape[1] / width)
            row[f"{key}_found"] += hit
            row[f"{key}_false"] += false
    return row


def describe(row: dict) -> str:
    parts = [f"{row['source']} {row['face_px']:3d} px:"]
    for key in ("new", "old"):
        found, n = row[f"{key}_found"], row["faces"]
        parts.append(
            f"{key} {found}/{n} ({found / n:.0%}, {row[f'{key}_false']} false, {row[f'{key}_cpu_ms']:.0f} ms)"
        )
    return " ".join(parts)


def measure(realdata: str, scenes: int, detector: FaceDetector, heads: list[fc.Head]) -> list[dict]:
    detectors = {"new": detector, "old": FaceDetector(FaceConfig(min_face_px=_OLD_MIN_FACE_PX))}
    rows = []
    with tempfile.TemporaryDirectory(prefix="emotrace-small-faces-") as tmp:
        for source in SOURCES:
            for face_px in SIZES_PX:
                rows.append(measure_size(realdata, source, face_px, scenes, (detectors, heads, tmp)))
                print(describe(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--realdata", default=os.path.join(HERE, "..", "..", "shared", "realdata"))
    parser.add_argument("--scenes", type=int, default=3, help="frames per source and face size")
    parser.add_argument("--identities", type=int, default=120, help="different people drawn (seed 0)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    detector = FaceDetector(FaceConfig())
    heads = fc.pick_heads(args.realdata, args.identities, seed=0, detector=detector)
    rows = measure(args.realdata, args.scenes, detector, heads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_average_1min": os.getloadavg()[0], "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
