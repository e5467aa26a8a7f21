"""Still images as model input: the face a frame of a video would give, held for a few steps.

A labelled still (a portrait, an expression photo) has a face and, by construction, no voice. It goes
through the analyze pipeline's own face code: the image is scaled like a decoded frame (longer side at
most ``DecodeConfig.max_side_px``), faces are found by the detector ``analyze`` builds
(``features.faces.detector_for``) and the largest is aligned by ``features.align.align_face``: the
crop a video frame of the same picture would give. The model sees it as a face held still for
``STILL_STEPS`` steps of one window, with no audio; steps after that are invalid (padding, as at the end
of a short video). A picture in which no face is found gives no window (the item is reported as such).
Pure core: no Beam import.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image, ImageOps

from emotrace.features.align import align_face
from emotrace.features.faces import FaceDetector
from emotrace.model.data import WindowArrays, stack_windows
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.records import FaceDetection, StepWindow, VideoRef

STILL_STEPS = 10  # 2 s at the 0.2 s grid: long enough for the temporal model to settle


class StillFace(NamedTuple):
    """The largest face of a picture. ``frame``: uint8[H, W, 3] RGB as the detector saw it; ``crop``:
    uint8[S, S, 3] the model's aligned crop; ``detection``: box and landmarks in ``frame`` pixels."""

    frame: np.ndarray
    crop: np.ndarray
    detection: FaceDetection


def load_frame(path: str, max_side_px: int) -> np.ndarray:
    """The picture as a decoded frame: uint8[H, W, 3] RGB, EXIF rotation applied, greyscale expanded,
    the longer side scaled down to ``max_side_px`` (never up) as the video decoder does."""
    with Image.open(path) as im:
        frame = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    h, w = frame.shape[:2]
    if max(h, w) > max_side_px:
        s = max_side_px / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame)


def largest(detections: list[FaceDetection]) -> FaceDetection | None:
    if not detections:
        return None
    return max(detections, key=lambda d: float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])))


def still_face(path: str, cfg: AnalyzeConfig, crop_px: int, detector: FaceDetector) -> StillFace | None:
    """The largest face in the picture at ``path``, aligned as ``analyze`` aligns faces; None if the
    detector finds none."""
    frame = load_frame(path, cfg.decode.max_side_px)
    det = largest(detector.detect(frame[None])[0])
    if det is None:
        return None
    return StillFace(frame, align_face(frame, det.landmarks, crop_px), det)


def still_windows(
    crop: np.ndarray | None, cfg: AnalyzeConfig, crop_px: int, n_features: int, post_id: str = "still"
) -> WindowArrays:
    """One window holding ``crop`` on its first ``STILL_STEPS`` steps (valid, face present, no audio);
    zero windows when ``crop`` is None (no face found)."""
    w = cfg.grid.window_steps
    if crop is None:
        return stack_windows([], crop_px, n_features, w)
    steps = min(STILL_STEPS, w)
    faces = np.zeros((w, crop_px, crop_px, 3), np.uint8)
    faces[:steps] = crop
    mask = np.zeros(w, bool)
    mask[:steps] = True
    window = StepWindow(
        VideoRef(video_uri=post_id, post_id=post_id),
        0,
        0,
        cfg.grid.step_s,
        faces,
        mask,
        np.zeros((w, n_features), np.float32),
        np.zeros(w, bool),
        mask.copy(),
        np.full(w, np.nan, np.float32),
    )
    return stack_windows([window], crop_px, n_features, w)
