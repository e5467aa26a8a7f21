"""Face detection throughput: frames per second of RetinaFace-MobileNet0.25 by frame size and runtime.

    .venv/bin/python benchmarks/faces.py [--frames 24] [--batch 8] [--threads 1] [--device cpu|cuda]
                                         [--backends onnxruntime,torch] [--sizes 640x360,1280x720]

Frames: the three-face synthetic scene of the tests (real face pixels, ``tests/features/crossing_faces``)
resized to each size, cycled over different moments so no two consecutive frames are equal. For each
(backend, size) it times ``FaceDetector.detect`` end to end (resize, mean subtraction, network,
anchor decoding, NMS), unbatched (one frame per call) and batched (``--batch`` frames per call), after
one warm-up call, and reports frames per second over ``--frames`` frames. torch runs the same ONNX
weights through onnx2torch on ``--device``; ``auto`` picks cuda when there is one.
Run it on an idle machine: the figures are wall-clock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # for tests.features

from emotrace.features.faces import FaceDetector
from emotrace.schemas.config import FaceConfig
from tests.features.crossing_faces import frame_at


def frames_of(size: tuple[int, int], n: int) -> np.ndarray:
    """uint8[n, H, W, 3]: the scene at n moments, resized to ``size`` (W, H)."""
    return np.stack([cv2.resize(frame_at(0.2 * i), size, interpolation=cv2.INTER_AREA) for i in range(n)])


def fps(detector: FaceDetector, frames: np.ndarray, batch: int) -> tuple[float, int]:
    """Frames per second and faces found, ``batch`` frames per ``detect`` call."""
    detector.max_batch = batch
    detector.detect(frames[:batch])  # warm-up: allocations, lazy init, cuDNN autotuning
    found = 0
    start = time.perf_counter()
    for i in range(0, len(frames), batch):
        found += sum(len(f) for f in detector.detect(frames[i : i + batch]))
    return len(frames) / (time.perf_counter() - start), found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, auto")
    parser.add_argument("--backends", default="onnxruntime,torch")
    parser.add_argument("--sizes", default="640x360,1280x720")
    args = parser.parse_args(argv)
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    torch.set_num_threads(args.threads)  # like onnxruntime: one worker per core
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"frames={args.frames} batch={args.batch} threads={args.threads} cores={os.cpu_count()}")
    print(f"{'backend':<12} {'device':<6} {'size':<10} {'unbatched fps':>14} {'batched fps':>12} faces/frame")
    for backend in args.backends.split(","):
        dev = device if backend == "torch" else "cpu"
        detector = FaceDetector(FaceConfig(), intra_op_threads=args.threads, backend=backend, device=dev)
        for w, h in sizes:
            frames = frames_of((w, h), args.frames)
            single, found = fps(detector, frames, 1)
            batched, _ = fps(detector, frames, args.batch)
            print(
                f"{backend:<12} {dev:<6} {f'{w}x{h}':<10} {single:>14.1f} {batched:>12.1f} "
                f"{found / len(frames):.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
