"""Looking at one face again on a small canvas around it: the region of interest (ROI) of a known face
between full-frame detections (``features.roi_detect``), or a small face proposed by the full-frame
pass, to confirm it (``features.full_frame``).

The ROI is a square ``1 + 2 * ROI_MARGIN`` = 2 face sides wide around the face's box. A large face's
ROI is shrunk to fit a ``roi_px`` canvas (192 px by default: the face is then at most ~96 px there,
inside RetinaFace's 64-128 px anchors). A small face's ROI is *enlarged* so that the face is about
``ZOOM_FACE_PX`` (48 px) on the canvas: MobileNet0.25 finds a face of 24 px in its input 75-90 % of the
time at the 0.8 score threshold, the same face upsampled to 48 px 99-100 % of the time, and its
landmarks are better placed (measured on 98 real portraits composited at 12-32 px, docs/faces.md).
The canvas is as large as the scaled ROI, rounded up to a multiple of 32 (a few network input shapes),
at most ``roi_px``: a small face costs ~1 ms of CPU on a 96-128 px canvas instead of ~4.6 on 192.
Pure core: no Beam.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from emotrace.features.align import halved
from emotrace.features.faces import FaceDetector
from emotrace.features.tracking import iou_matrix
from emotrace.schemas.records import FaceDetection

ROI_MARGIN = 0.5  # face sides added on each side of the last box: a face may move this far per frame
ZOOM_FACE_PX = 48  # a small face is enlarged to about this shorter side on its canvas
MIN_OVERLAP = 0.1  # IoU with the looked-for box below which a canvas's detection is not that face
# A face whose last box puts it at this many canvas pixels or more (longer side) is looked for without the
# network's stride-8 level (``FaceDetector.detect(coarse=True)``): from 64 px on that level never gave the
# kept detection (docs/faces.md); 72 leaves room for a face that shrank by a tenth since. A large face's
# ROI (2 face sides, shrunk to ``roi_px`` 192) shows it at 96 px.
COARSE_FACE_PX = 72.0
_CANVAS_STEP_PX = 32  # canvas sides are multiples of the network's coarsest stride
_EDGE_TOL_PX = 2.0  # canvas pixels: a box this close to an ROI edge inside the frame is cut by it
# Padding colour outside the frame: RetinaFace's mean (RGB 123, 117, 104), i.e. the zeros the
# network's own convolutions pad with at a frame border, so a face cut by the frame looks the same.
_PAD_RGB = (123, 117, 104)


class Detector(Protocol):
    """What the ROI path needs: faces in each frame (a ``FaceDetector``, or a test's stand-in)."""

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[FaceDetection]]: ...


def roi_box(box: np.ndarray, margin: float = ROI_MARGIN) -> np.ndarray:
    """Square ROI around ``box`` (x0, y0, x1, y1): float64[4] in frame pixels, possibly past the frame."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def roi_canvas(
    frame: np.ndarray, roi: np.ndarray, size_px: int, max_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROI of ``frame`` (uint8[H, W, 3]) on a uint8[size_px, size_px, 3] canvas.

    The ROI is scaled by ``min(max_scale, size_px / ROI side)``: shrunk to fit the canvas, enlarged
    only up to ``max_scale`` (1: never). Canvas pixels outside the frame, or past the ROI, hold the
    network mean. Returns the canvas, the map back float64[4] (ox, oy, sx, sy) with frame x = ox +
    canvas x / sx (same for y), and the frame region the canvas shows, float64[4] (x0, y0, x1, y1).
    """
    height, width = frame.shape[:2]
    rx0, ry0, rx1, ry1 = roi
    scale = min(max_scale, size_px / max(rx1 - rx0, ry1 - ry0))
    cx0, cy0 = max(0, int(np.floor(rx0))), max(0, int(np.floor(ry0)))
    cx1, cy1 = min(width, int(np.ceil(rx1))), min(height, int(np.ceil(ry1)))
    canvas = np.empty((size_px, size_px, 3), np.uint8)
    canvas[:] = _PAD_RGB
    if cx1 <= cx0 or cy1 <= cy0:  # the ROI left the frame entirely
        return canvas, np.array([0.0, 0.0, 1.0, 1.0]), np.zeros(4)
    k = 2 ** math.floor(math.log2(1.0 / scale) + 1e-9) if scale <= 0.5 else 1
    if k > 1:  # shrunk in two steps (``_resized``): whole k x k blocks, dropping < k px at far edges
        cx1, cy1 = cx0 + max(k, (cx1 - cx0) // k * k), cy0 + max(k, (cy1 - cy0) // k * k)
    # Where the clipped region lands on the canvas, and its size there (kept inside the canvas).
    px0 = min(size_px - 1, max(0, round((cx0 - rx0) * scale)))
    py0 = min(size_px - 1, max(0, round((cy0 - ry0) * scale)))
    nw = max(1, min(size_px - px0, round((cx1 - cx0) * scale)))
    nh = max(1, min(size_px - py0, round((cy1 - cy0) * scale)))
    canvas[py0 : py0 + nh, px0 : px0 + nw] = _resized(frame[cy0:cy1, cx0:cx1], nw, nh, k)
    sx, sy = nw / (cx1 - cx0), nh / (cy1 - cy0)
    return canvas, np.array([cx0 - px0 / sx, cy0 - py0 / sy, sx, sy]), np.array([cx0, cy0, cx1, cy1], float)


def _resized(patch: np.ndarray, width: int, height: int, k: int) -> np.ndarray:
    """``patch`` at ``width`` x ``height``. Shrinking by 2 or more first halves it with area
    interpolation (``align.halved``: 2 x 2 means, ``patch``'s sides are multiples of ``k``) so that the
    bilinear resize that follows scales by 0.5-1 and cannot skip pixels: no aliasing of fine texture
    into "faces". A fractional area resize of a 1280 px frame's ROI costs ~0.9 ms, this ~0.15 (the
    640 px frame's ROI in one area resize before: ~0.37)."""
    if (width, height) == (patch.shape[1], patch.shape[0]):
        return patch
    return cv2.resize(halved(patch, k), (width, height), interpolation=cv2.INTER_LINEAR)


def zoomed_canvas(
    frame: np.ndarray, box: np.ndarray, roi_px: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``roi_canvas`` of the ROI around ``box``, a small face enlarged to ~``ZOOM_FACE_PX``, on the
    smallest canvas (a multiple of 32, at most ``roi_px``) that holds the scaled ROI."""
    roi = roi_box(box)
    side = float(roi[2] - roi[0])
    shorter = max(1.0, float(min(box[2] - box[0], box[3] - box[1])))
    scale = min(roi_px / side, max(1.0, ZOOM_FACE_PX / shorter))
    canvas_px = min(roi_px, _CANVAS_STEP_PX * max(1, math.ceil(side * scale / _CANVAS_STEP_PX - 1e-6)))
    return roi_canvas(frame, roi, canvas_px, max_scale=scale)


def cut_by_roi(box: np.ndarray, region: np.ndarray, height: int, width: int, tol_px: float) -> bool:
    """Whether ``box`` (frame pixels) reaches an edge of the shown ``region`` that lies inside the
    frame: the face runs out of its ROI, so its box is a guess about the part not shown."""
    x0, y0, x1, y1 = (float(v) for v in box)
    rx0, ry0, rx1, ry1 = (float(v) for v in region)
    return (
        (rx0 > 0 and x0 <= rx0 + tol_px)
        or (ry0 > 0 and y0 <= ry0 + tol_px)
        or (rx1 < width and x1 >= rx1 - tol_px)
        or (ry1 < height and y1 >= ry1 - tol_px)
    )


def to_frame(det: FaceDetection, back: np.ndarray, height: int, width: int) -> FaceDetection:
    """A detection on an ROI canvas in frame pixels (box clipped to the frame, landmarks not)."""
    ox, oy, sx, sy = back
    box = det.box.astype(np.float64) / np.array([sx, sy, sx, sy]) + np.array([ox, oy, ox, oy])
    box = np.clip(box, 0, [width, height, width, height])
    points = det.landmarks.astype(np.float64) / np.array([sx, sy]) + np.array([ox, oy])
    return FaceDetection(box.astype(np.float32), det.score, points.astype(np.float32))


def shorter_side(box: np.ndarray) -> float:
    return float(min(box[2] - box[0], box[3] - box[1]))


def longer_side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def look_again(
    detector: Detector, frame: np.ndarray, boxes: Sequence[np.ndarray], roi_px: int, min_face_px: float
) -> list[FaceDetection | None]:
    """For each of ``boxes`` (frame pixels), the face on its zoomed canvas that overlaps it most, in
    frame pixels; None where none does (IoU < ``MIN_OVERLAP``), or where the only candidates are
    smaller than ``min_face_px`` or cut by the ROI's edge. The detector's own settings (its score
    threshold); canvases where the face is large (``COARSE_FACE_PX``) skip the network's finest level."""
    if not boxes:
        return []
    height, width = frame.shape[:2]
    shown = [zoomed_canvas(frame, box, roi_px) for box in boxes]
    canvases = [canvas for canvas, _, _ in shown]
    if isinstance(detector, FaceDetector):  # a stand-in detector (tests) just detects
        coarse = [
            longer_side(box) * back[2] >= COARSE_FACE_PX
            for box, (_, back, _) in zip(boxes, shown, strict=True)
        ]
        found = detector.detect(canvases, coarse=coarse)
    else:
        found = detector.detect(canvases)
    out: list[FaceDetection | None] = []
    for box, dets, (_, back, region) in zip(boxes, found, shown, strict=True):
        tol = _EDGE_TOL_PX / back[2]
        mapped = [to_frame(d, back, height, width) for d in dets]
        mapped = [
            d
            for d in mapped
            if shorter_side(d.box) >= min_face_px and not cut_by_roi(d.box, region, height, width, tol)
        ]
        if not mapped:
            out.append(None)
            continue
        overlap = iou_matrix(np.asarray(box)[None], np.stack([d.box for d in mapped]))[0]
        best = int(np.argmax(overlap))
        out.append(mapped[best] if overlap[best] >= MIN_OVERLAP else None)
    return out
