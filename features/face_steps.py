"""One analysis frame's faces: align each detection, describe its looks, give it a track id.

Kept out of ``features/windows.py`` (the step grid) so the grid only files results by step and lane.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from emotrace.features.align import align_face
from emotrace.features.appearance import appearance_embedding
from emotrace.features.tracking import FaceTracker
from emotrace.schemas.boxes import normalised_box
from emotrace.schemas.records import FaceDetection


class TrackedFace(NamedTuple):
    """One detection with its track. ``crop``: uint8[S, S, 3] aligned RGB; ``box_norm``: float32[4] as
    (x, y, w, h) divided by the frame's width and height; ``area_frac``: w * h of that box;
    ``landmarks``: float32[5, 2] in the frame's pixels (mouth motion registers frames with them)."""

    track_id: int
    crop: np.ndarray
    score: float
    box_norm: np.ndarray
    area_frac: float
    landmarks: np.ndarray


def track_faces(
    frame: np.ndarray, detections: list[FaceDetection], tracker: FaceTracker, step: int, crop_px: int
) -> list[TrackedFace]:
    """Aligned crops and track ids for ``detections`` found in ``frame``: uint8[H, W, 3] at ``step``.

    Appearance embeddings come from the aligned crops (the same pixels the model sees), and are skipped
    when the tracker's ``track_appearance_weight`` is 0 (geometry-only tracking).
    """
    crops = [align_face(frame, d.landmarks, crop_px) for d in detections]
    embeddings = None
    if crops and tracker.cfg.track_appearance_weight > 0:
        embeddings = np.stack([appearance_embedding(c) for c in crops])
    ids = tracker.update(step, detections, embeddings)
    height, width = frame.shape[:2]
    out = []
    for det, crop, track_id in zip(detections, crops, ids, strict=True):
        box = normalised_box(det.box, height, width)
        out.append(TrackedFace(track_id, crop, float(det.score), box, float(box[2] * box[3]), det.landmarks))
    return out
