"""Real faces composited small into 720p and 1080p scenes: test and benchmark material for small faces.

Portraits of real, different people (``realdata/faces``: London, Canada, interfaces, Congress; CC BY,
CC0 and public domain, see realdata/README.md) are cut out around the head with a soft elliptical
edge, scaled so their face box has a chosen shorter side, and pasted onto a real outdoor photograph
(``realdata/faces/pexels``, the parts of the two photos without people) scaled to the frame. Scenes
move (``crossing_frames``: faces that walk across each other) or stand still (``group_frame``).

The face box of a portrait is the one RetinaFace gives on the full-resolution portrait (faces of 100-250
px there, found at scores >= 0.95): "a face of 24 px" means that box scaled to a 24 px shorter side,
the same measure ``--min-face`` uses. Identities are drawn at random from all four collections with a
seed, so a test speaks for faces in general, not for one photo. Pure core: no Beam, no network.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from emotrace.features.faces import FaceDetector
from emotrace.schemas.config import FaceConfig

PORTRAIT_SETS = ("london", "canada", "interfaces", "congress")
# Parts of the two Pexels photos (1024 px wide) with no person in them: (file, x0, y0, x1, y1).
_BACKGROUNDS = (
    ("image-2-women-on-phones.jpg", 250, 0, 640, 676),  # trees and a meadow
    ("image-4-woman-jumps-into-water.jpg", 560, 0, 1024, 683),  # sea, boat and sky
)
_HEAD_SIDES = 1.7  # the cut-out spans this many face-box sides around the face's centre
_MIN_PORTRAIT_SCORE = 0.95


@dataclass(frozen=True)
class Head:
    """A cut-out head. ``rgb``: uint8[h, w, 3]; ``alpha``: float32[h, w] in [0, 1]; ``face``: the
    face box in the cut-out's pixels, float64[4] (x0, y0, x1, y1); ``source``: the portrait's path."""

    rgb: np.ndarray
    alpha: np.ndarray
    face: np.ndarray
    source: str


@dataclass(frozen=True)
class Placed:
    """A head on the frame: its face box (x0, y0, x1, y1) in frame pixels, and which head it is."""

    index: int
    box: np.ndarray


def portrait_paths(realdata: str) -> list[str]:
    """One portrait per person from every collection, sorted (London has two per person: neutral kept)."""
    paths: list[str] = []
    for name in PORTRAIT_SETS:
        found = sorted(glob.glob(os.path.join(realdata, "faces", name, "*.jpg")))
        paths += [p for p in found if not p.endswith("_smiling.jpg")]
    return paths


def _rgb(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def cut_out(path: str, detector: FaceDetector) -> Head | None:
    """The head of the only face in the portrait at ``path``; None if RetinaFace is not sure of exactly
    one face (a few portraits are too cropped or too dark)."""
    image = _rgb(path)
    faces = [f for f in detector.detect([image])[0] if f.score >= _MIN_PORTRAIT_SCORE]
    if len(faces) != 1:
        return None
    x0, y0, x1, y1 = (float(v) for v in faces[0].box)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * _HEAD_SIDES / 2
    ix0, iy0 = max(0, int(cx - half)), max(0, int(cy - half))
    ix1, iy1 = min(image.shape[1], int(cx + half)), min(image.shape[0], int(cy + half))
    yy, xx = np.mgrid[iy0:iy1, ix0:ix1].astype(np.float32)
    r = ((xx - cx) / half) ** 2 + ((yy - cy) / (half * 1.1)) ** 2  # a little taller than wide: the neck
    alpha = np.clip((1.0 - r) / 0.3, 0.0, 1.0)  # soft edge: no hard rectangle for the detector to see
    face = np.array([x0 - ix0, y0 - iy0, x1 - ix0, y1 - iy0])
    return Head(np.ascontiguousarray(image[iy0:iy1, ix0:ix1]), alpha, face, path)


def pick_heads(realdata: str, n: int, seed: int, detector: FaceDetector | None = None) -> list[Head]:
    """``n`` heads of different people, drawn at random (``seed``) from all collections."""
    detector = detector or FaceDetector(FaceConfig())
    paths = portrait_paths(realdata)
    heads: list[Head] = []
    for i in np.random.default_rng(seed).permutation(len(paths)):
        head = cut_out(paths[i], detector)
        if head is not None:
            heads.append(head)
        if len(heads) == n:
            return heads
    raise ValueError(f"only {len(heads)} usable portraits under {realdata}, {n} wanted")


def background(realdata: str, width: int, height: int, seed: int) -> np.ndarray:
    """uint8[height, width, 3]: a person-free part of a real photograph, scaled to cover the frame."""
    rng = np.random.default_rng(seed)
    name, x0, y0, x1, y1 = _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))]
    region = _rgb(os.path.join(realdata, "faces", "pexels", name))[y0:y1, x0:x1]
    scale = max(width / region.shape[1], height / region.shape[0])
    big = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    ox = int(rng.integers(0, big.shape[1] - width + 1))
    oy = int(rng.integers(0, big.shape[0] - height + 1))
    out = big[oy : oy + height, ox : ox + width]
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def scaled(head: Head, face_px: float) -> Head:
    """``head`` resized so its face box's shorter side is ``face_px``."""
    s = face_px / min(head.face[2] - head.face[0], head.face[3] - head.face[1])
    size = (max(1, round(head.rgb.shape[1] * s)), max(1, round(head.rgb.shape[0] * s)))
    rgb = cv2.resize(head.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(head.alpha, size, interpolation=cv2.INTER_AREA)
    fx, fy = size[0] / head.rgb.shape[1], size[1] / head.rgb.shape[0]
    return Head(rgb, alpha, head.face * np.array([fx, fy, fx, fy]), head.source)


def paste(frame: np.ndarray, head: Head, face_x: float, face_y: float) -> np.ndarray:
    """Blend ``head`` (already scaled) onto ``frame`` in place with its face box's top-left corner at
    (``face_x``, ``face_y``); returns the face box in frame pixels (may reach past the frame)."""
    ox, oy = round(face_x - head.face[0]), round(face_y - head.face[1])
    h, w = head.rgb.shape[:2]
    fx0, fy0 = max(ox, 0), max(oy, 0)
    fx1, fy1 = min(ox + w, frame.shape[1]), min(oy + h, frame.shape[0])
    if fx1 > fx0 and fy1 > fy0:
        a = head.alpha[fy0 - oy : fy1 - oy, fx0 - ox : fx1 - ox, None]
        src = head.rgb[fy0 - oy : fy1 - oy, fx0 - ox : fx1 - ox].astype(np.float32)
        dst = frame[fy0:fy1, fx0:fx1].astype(np.float32)
        frame[fy0:fy1, fx0:fx1] = (a * src + (1.0 - a) * dst + 0.5).astype(np.uint8)
    return head.face + np.array([ox, oy, ox, oy], np.float64)


@dataclass(frozen=True)
class Walk:
    """A head that walks in a straight line: its face's top-left corner from ``start`` to ``end``."""

    head: Head
    start: tuple[float, float]
    end: tuple[float, float]

    def at(self, u: float) -> tuple[float, float]:
        (x0, y0), (x1, y1) = self.start, self.end
        return x0 + u * (x1 - x0), y0 + u * (y1 - y0)


def crossing_walks(heads: Sequence[Head], sizes: Sequence[float], width: int, height: int) -> list[Walk]:
    """Three heads whose paths cross near the frame's centre at mid-time, drawn in this order: A walks
    right, C climbs from the bottom, B walks left in front of both (hiding A for a moment)."""
    a, b, c = (scaled(h, s) for h, s in zip(heads, sizes, strict=True))
    cx, cy = width / 2, height / 2
    return [
        Walk(a, (cx - 0.35 * width, cy - 10), (cx + 0.35 * width, cy - 10)),
        Walk(c, (cx + 0.12 * width, cy + 0.4 * height), (cx - 0.12 * width, cy - 0.4 * height)),
        Walk(b, (cx + 0.35 * width, cy), (cx - 0.35 * width, cy)),
    ]


def render(scene: np.ndarray, walks: Sequence[Walk], u: float) -> tuple[np.ndarray, list[Placed]]:
    """One frame at time fraction ``u`` in [0, 1]: a copy of ``scene`` with the walks pasted in order."""
    frame = scene.copy()
    return frame, [Placed(i, paste(frame, w.head, *w.at(u))) for i, w in enumerate(walks)]


def crossing_frames(scene: np.ndarray, walks: Sequence[Walk], n_frames: int) -> Iterator[np.ndarray]:
    """The frames of a crossing clip (streamed: a 720p second is 69 MB)."""
    for i in range(n_frames):
        yield render(scene, walks, i / max(1, n_frames - 1))[0]


def group_frame(
    scene: np.ndarray, heads: Sequence[Head], sizes: Sequence[float], seed: int
) -> tuple[np.ndarray, list[Placed]]:
    """A still group shot: ``heads`` at face sizes ``sizes`` on ``scene`` (copied), spread over the
    frame in rows without overlapping (a face box and a margin of one box apart)."""
    rng = np.random.default_rng(seed)
    frame = scene.copy()
    height, width = frame.shape[:2]
    placed: list[Placed] = []
    for i, (head, size) in enumerate(zip(heads, sizes, strict=True)):
        small = scaled(head, size)
        fw, fh = small.face[2] - small.face[0], small.face[3] - small.face[1]
        for _ in range(1000):
            x = rng.uniform(0.05 * width, 0.95 * width - fw)
            y = rng.uniform(0.1 * height, 0.9 * height - fh)
            box = np.array([x, y, x + fw, y + fh])
            if all(_apart(box, p.box) for p in placed):
                break
        else:
            raise ValueError("no room for the group")
        placed.append(Placed(i, paste(frame, small, x, y)))
    return frame, placed


def _apart(a: np.ndarray, b: np.ndarray) -> bool:
    """Boxes more than one face side apart (their heads and hair do not touch)."""
    margin = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1])
    return a[0] > b[2] + margin or b[0] > a[2] + margin or a[1] > b[3] + margin or b[1] > a[3] + margin
