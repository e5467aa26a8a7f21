"""Full-frame face detection that finds small faces without paying for a large network input.

RetinaFace-MobileNet0.25 needs a face of ~30 px in its input to find it reliably at the 0.8 score
threshold (75-90 % at 24 px, 99 % at 36 px; real portraits composited into 720p frames, docs/faces.md),
and its cost grows with the input's area: a 1280x720 input costs ~55 ms of CPU, 1920x1080 ~130 ms,
against ~14 ms at 640x360. Yet the same network at 640x360 still *scores* a face of 12 px: above 0.02
for 99 % of them, with ~2 false boxes per frame. So the full-frame pass is two stages:

1. **proposals**: the whole frame at the scale where a face of ``min_face_px`` is ``PROPOSAL_FACE_PX``
   (10 px) in the network input, but at least 640 px wide (720p, decoded at 854x480: 640x360); for
   videos larger than 720p the decoded frame as it is (1080p: 1280x720, see ``proposal_side``); every
   box from ``CANDIDATE_SCORE`` (0.01, boxes under ``RELIABLE_NET_PX``) or ``LARGE_DOUBT_SCORE``;
2. **second look**: every other box (not inside a face already sure: scoring the usual threshold and
   at least ``RELIABLE_NET_PX`` in the input) is looked at again on its own canvas from the decoded
   frame, a small face enlarged to ~48 px (``features.zoom``), and kept only if the detector finds it
   there at its usual threshold (a small box that already scored it is kept either way, with the
   canvas's box and landmarks when found). Sure faces are kept as the proposal pass found them.

A small face's box and landmarks thus come from the zoomed canvas (the aligned crop and the mouth are
placed from 48 px of detail, not 12). Cost on a frame: the proposal pass plus ~1 ms per small box.
Pure core: no Beam.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emotrace.features.faces import FaceDetector, nms
from emotrace.features.zoom import look_again, shorter_side
from emotrace.schemas.records import FaceDetection

PROPOSAL_FACE_PX = 10.0  # a face of min_face_px is this many pixels in the proposal pass's input
CANDIDATE_SCORE = 0.01  # a box smaller than RELIABLE_NET_PX scoring this much gets a second look
LARGE_DOUBT_SCORE = 0.3  # a larger box gets one from this score up (below the threshold)
RELIABLE_NET_PX = 32.0  # boxes this large that score the threshold in the proposal input need no second look
# Second looks per frame at most (highest proposal scores first): bounds the cost of a crowd or of a
# texture full of face-like boxes (~1-2 ms each). 0-3 on talking heads and outdoor photos.
MAX_CANDIDATES = 64
# Never a proposal input smaller than 640 px (the full-frame input before small faces were looked for):
# large faces keep the boxes and landmarks they had, and a 640x360 video costs what it did.
MIN_NET_SIDE_PX = 640
HD_LONG_SIDE_PX = 1280  # videos larger than this (past 720p) get the proposal pass on the whole frame


def proposal_side(
    frame_hw: tuple[int, int], min_face_px: float, override: int | None, whole_frame: bool = False
) -> int:
    """Longest side of the proposal pass's network input for frames of ``frame_hw`` (H, W), where
    ``min_face_px`` is the smallest face wanted, in those frames' pixels; ``override`` (the user's
    ``--face-max-side``) sets it instead. Never larger than the frame, nor (without an override)
    smaller than ``MIN_NET_SIDE_PX``. ``whole_frame``: the video is larger than 720p
    (``HD_LONG_SIDE_PX``); the pass then takes the frames as they are (1080p decoded at 1280 px): on
    1080p H.264 a 24 px face at 12 px in the input gets a proposal 93 % of the time, at 16 px 97 %, and
    13 1080p groups of ten lost 7 faces of 24-27 px at 12 px, 1 at 16 (docs/faces.md), where on 720p
    12 px already gives 99 %."""
    longer = max(frame_hw)
    if override is not None:
        return min(longer, override)
    if whole_frame:
        return longer
    scale = min(1.0, PROPOSAL_FACE_PX / max(min_face_px, 1e-6))
    return min(longer, max(MIN_NET_SIDE_PX, round(longer * scale)))


def full_frame_faces(
    detector: FaceDetector,
    frames: Sequence[np.ndarray],
    min_face_px: float,
    roi_px: int,
    net_side_px: int,
    score_threshold: float,
    nms_threshold: float,
) -> list[list[FaceDetection]]:
    """Faces in each of ``frames`` (uint8[H, W, 3] RGB, one size), highest score first.

    ``min_face_px``: the shorter box side a face needs, in the frames' pixels; ``net_side_px``: the
    proposal pass's input (``proposal_side``); ``score_threshold``: what a face must score, on the
    proposal pass (large faces) or on its zoomed canvas (small ones).
    """
    proposals = detector.detect(
        frames, net_side_px=net_side_px, score_threshold=CANDIDATE_SCORE, min_face_px=0.5 * min_face_px
    )
    out = []
    for frame, props in zip(frames, proposals, strict=True):
        to_net = net_side_px / max(frame.shape[:2])
        sure = [
            p for p in props if p.score >= score_threshold and shorter_side(p.box) * to_net >= RELIABLE_NET_PX
        ]
        doubtful = [
            p
            for p in props
            if not _inside(p, sure)
            and (p.score >= LARGE_DOUBT_SCORE or shorter_side(p.box) * to_net < RELIABLE_NET_PX)
        ][:MAX_CANDIDATES]
        looked = look_again(detector, frame, [p.box for p in doubtful], roi_px, min_face_px)
        found = [f for f in sure if shorter_side(f.box) >= min_face_px]
        for prop, look in zip(doubtful, looked, strict=True):
            if look is not None and look.score >= score_threshold:
                found.append(look)  # confirmed, with the zoomed canvas's box and landmarks
            elif prop.score >= score_threshold and shorter_side(prop.box) >= min_face_px:
                found.append(prop)  # small but sure already; the second look only sharpens it
        out.append(_dedupe(found, nms_threshold))
    return out


def _inside(p: FaceDetection, faces: list[FaceDetection]) -> bool:
    """Whether ``p``'s centre lies in one of ``faces``' boxes (a part of a face found whole)."""
    cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
    return any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3] for f in faces)


def _dedupe(faces: list[FaceDetection], nms_threshold: float) -> list[FaceDetection]:
    """Highest score first; of two boxes of one face (two proposals confirmed as the same face), the
    better scoring one."""
    if len(faces) < 2:
        return faces
    boxes = np.stack([f.box for f in faces]).astype(np.float32)
    keep = nms(boxes, np.array([f.score for f in faces], np.float32), nms_threshold)
    return [faces[i] for i in keep]
