"""Cheaper per-frame face detection: the full frame every k-th analysis frame, small crops in between.

On 2 CPU cores RetinaFace on a whole 640x360 frame costs ~12-20 ms, several times what ffmpeg spends
decoding that frame (issue 6: the pipeline should reach half the decode-alone throughput). Between two
full-frame detections, faces seen in the previous frame are looked for again only in a square region
of interest (ROI) around their last box, ``1 + 2 * ROI_MARGIN`` = 2 face sides wide, shrunk to fit
``FaceConfig.roi_px`` (192 px: the face is at most ~96 px there, inside RetinaFace's 64-128 px anchors).
Measured on the 2-core machine (CPU time, 640x360 talking head): 20 ms per frame on full frames only,
7.7 ms with ``detect_every_frames`` 5 (4.6 ms per ROI frame), 5.9 ms with 10, the default since the
pipeline's other costs were cut (issue 6: ~6 ms less CPU per media second than 5; a face that enters
is found within 2 s at 5 fps). The ROI path keeps
RetinaFace's boxes *and* landmarks, so alignment and the model's crops match full-frame detection's
(box IoU 0.95 on average on the sample posts; RetinaFace's own box moves as much between two scales).

Rules, per video, frames in time order:
* full-frame detection on the first frame, then every ``detect_every_frames``-th frame: a face that
  enters the picture is found there at the latest;
* in between, each face of the previous frame takes the detection in its ROI that overlaps its last
  box most; when any of them finds none (occlusion, a scene cut, a fast move), or two of them take
  the same face (faces crossing), the frame falls back to full-frame detection at once, so a face
  that full-frame detection would see is never dropped for being hard to find in its ROI;
* a frame with no face seen before costs nothing until the next full-frame detection;
* when a full-frame detection finds fewer faces than the frame before it had (an occlusion, a face that
  left for a moment), full-frame detection runs every ``detect_every_frames // 2`` frames until they are
  all back, for at most ``track_max_missed_steps`` frames (as long as the tracker would still continue
  their tracks): a face hidden for a second comes back under its track id instead of being found too
  late and given a new one.
Pure core: no Beam.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from emotrace.features.tracking import iou_matrix
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection

ROI_MARGIN = 0.5  # face sides added on each side of the last box: a face may move this far per frame
_MIN_OVERLAP = 0.1  # IoU with the last box below which an ROI's detection is not that face
_SAME_FACE_IOU = 0.5  # two ROIs whose picks overlap this much took the same face
_EDGE_TOL_PX = 2.0  # canvas pixels: a box this close to an ROI edge inside the frame is cut by it
# Padding colour outside the frame: RetinaFace's mean (RGB 123, 117, 104), i.e. the zeros the
# network's own convolutions pad with at a frame border, so a face cut by the frame looks the same.
_PAD_RGB = (123, 117, 104)


class Detector(Protocol):
    def detect(self, frames: Sequence[np.ndarray]) -> list[list[FaceDetection]]: ...


def roi_box(box: np.ndarray, margin: float = ROI_MARGIN) -> np.ndarray:
    """Square ROI around ``box`` (x0, y0, x1, y1): float64[4] in frame pixels, possibly past the frame."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def roi_canvas(frame: np.ndarray, roi: np.ndarray, size_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROI of ``frame`` (uint8[H, W, 3]) on a uint8[size_px, size_px, 3] canvas.

    The ROI is shrunk to fit the canvas, never enlarged: a small face stays at the size full-frame
    detection sees it (so ``min_face_px`` and the score mean the same on both paths). Canvas pixels
    outside the frame, or past the ROI, hold the network mean. Returns the canvas, the map back
    float64[4] (ox, oy, sx, sy) with frame x = ox + canvas x / sx (same for y), and the frame region
    the canvas shows, float64[4] (x0, y0, x1, y1).
    """
    height, width = frame.shape[:2]
    rx0, ry0, rx1, ry1 = roi
    scale = min(1.0, size_px / max(rx1 - rx0, ry1 - ry0))
    cx0, cy0 = max(0, int(np.floor(rx0))), max(0, int(np.floor(ry0)))
    cx1, cy1 = min(width, int(np.ceil(rx1))), min(height, int(np.ceil(ry1)))
    canvas = np.empty((size_px, size_px, 3), np.uint8)
    canvas[:] = _PAD_RGB
    if cx1 <= cx0 or cy1 <= cy0:  # the ROI left the frame entirely
        return canvas, np.array([0.0, 0.0, 1.0, 1.0]), np.zeros(4)
    # Where the clipped region lands on the canvas, and its size there (kept inside the canvas).
    px0 = min(size_px - 1, max(0, round((cx0 - rx0) * scale)))
    py0 = min(size_px - 1, max(0, round((cy0 - ry0) * scale)))
    nw = max(1, min(size_px - px0, round((cx1 - cx0) * scale)))
    nh = max(1, min(size_px - py0, round((cy1 - cy0) * scale)))
    patch = frame[cy0:cy1, cx0:cx1]
    if (nw, nh) != (cx1 - cx0, cy1 - cy0):
        # INTER_AREA: the right filter for shrinking (no aliasing of fine texture into "faces").
        patch = cv2.resize(patch, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas[py0 : py0 + nh, px0 : px0 + nw] = patch
    sx, sy = nw / (cx1 - cx0), nh / (cy1 - cy0)
    return canvas, np.array([cx0 - px0 / sx, cy0 - py0 / sy, sx, sy]), np.array([cx0, cy0, cx1, cy1], float)


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


class RoiFaceDetector:
    """Per-video detector: full frames every ``cfg.detect_every_frames`` frames (half that while faces
    lost are looked for again), ROIs in between.

    Wraps any object with ``detect(frames) -> list[list[FaceDetection]]`` (a ``FaceDetector``). Holds
    the last frame's faces, so build one per video and pass frames in time order. With
    ``detect_every_frames`` 1 every frame goes to the wrapped detector in one batched call, as before.
    ``n_full`` and ``n_roi`` count frames by the path that answered them.
    """

    def __init__(self, detector: Detector, cfg: FaceConfig) -> None:
        if cfg.detect_every_frames < 1:
            raise ValueError(f"detect_every_frames must be >= 1, got {cfg.detect_every_frames}")
        if cfg.roi_px < 32:
            raise ValueError(f"roi_px={cfg.roi_px} is too small for RetinaFace; use >= 32")
        self.detector = detector
        self.cfg = cfg
        self._last: list[FaceDetection] = []
        self._since_full: int | None = None  # frames since the last full-frame detection
        self._frame = -1  # index of the current frame
        self._recover_until = -1  # last frame of the faster schedule after faces were lost
        self._expected = 0  # faces seen before the loss: the faster schedule ends once found again
        self.n_full = 0
        self.n_roi = 0

    def detect(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[FaceDetection]]:
        """Faces in each of ``frames`` (uint8[H, W, 3] RGB, consecutive analysis frames), in order."""
        if self.cfg.detect_every_frames == 1:
            self.n_full += len(frames)
            return self.detector.detect(frames)
        return [self._one(frame) for frame in frames]

    def _one(self, frame: np.ndarray) -> list[FaceDetection]:
        self._frame += 1
        recovering = self._frame <= self._recover_until
        every = self.cfg.detect_every_frames
        if recovering:
            every = max(1, every // 2)
        due = self._since_full is None or self._since_full + 1 >= every
        if not due:
            self._since_full += 1
            if not self._last:
                return []
            found = self._in_rois(frame)
            if found is not None:
                self.n_roi += 1
                self._last = found
                return found
        self._since_full = 0
        self.n_full += 1
        found = self.detector.detect([frame])[0]
        if len(found) < len(self._last):  # faces lost: look for them more often while tracks can continue
            self._expected = max(self._expected, len(self._last)) if recovering else len(self._last)
            self._recover_until = self._frame + self.cfg.track_max_missed_steps
        elif recovering and len(found) >= self._expected:
            self._recover_until = -1  # all back
        self._last = found
        return found

    def _in_rois(self, frame: np.ndarray) -> list[FaceDetection] | None:
        """The last frame's faces found again in their ROIs, or None when any one was not."""
        height, width = frame.shape[:2]
        shown = [roi_canvas(frame, roi_box(face.box), self.cfg.roi_px) for face in self._last]
        found = self.detector.detect([canvas for canvas, _, _ in shown])
        picks: list[FaceDetection] = []
        for face, dets, (_, back, region) in zip(self._last, found, shown, strict=True):
            tol = _EDGE_TOL_PX / back[2]
            mapped = [to_frame(d, back, height, width) for d in dets]
            mapped = [
                d
                for d in mapped
                if _shorter_side(d.box) >= self.cfg.min_face_px
                and not cut_by_roi(d.box, region, height, width, tol)
            ]
            if not mapped:
                return None
            overlap = iou_matrix(face.box[None], np.stack([d.box for d in mapped]))[0]
            best = int(np.argmax(overlap))
            if overlap[best] < _MIN_OVERLAP:
                return None
            picks.append(mapped[best])
        if len(picks) > 1:
            same = iou_matrix(np.stack([p.box for p in picks]), np.stack([p.box for p in picks]))
            if (np.triu(same, k=1) >= _SAME_FACE_IOU).any():
                return None
        picks.sort(key=lambda d: -d.score)  # highest score first, as full-frame detection returns them
        return picks


def _shorter_side(box: np.ndarray) -> float:
    return float(min(box[2] - box[0], box[3] - box[1]))
