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
  enters the picture is found there at the latest. Given the frames' grid steps, also on every step
  that is a multiple of ``detect_every_frames``: the schedule is then anchored to the video, not to the
  frame decoding started at, so a segment of a long video that starts decoding elsewhere (its preroll)
  detects on the same frames as the uncut video from its first anchored step on, and gets the same
  boxes and crops (hence the same mouth motion) there;
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

import numpy as np
from scipy.optimize import linear_sum_assignment

from emotrace.features.faces import FaceDetector
from emotrace.features.full_frame import HD_LONG_SIDE_PX, full_frame_faces, proposal_side
from emotrace.features.tracking import iou_matrix
from emotrace.features.zoom import Detector, look_again
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection

_SAME_FACE_IOU = 0.5  # two ROIs whose picks overlap this much took the same face
_MAX_MOVE = 2.0  # face sides from its predicted place within which a face found again is the same one
_MIN_MOVE = 0.25  # face sides a face must have moved in a frame for its next ROI to move with it


class RoiFaceDetector:
    """Per-video detector: full frames every ``cfg.detect_every_frames`` frames (half that while faces
    lost are looked for again), ROIs in between.

    Wraps a ``FaceDetector`` (or any object with its ``detect(frames)``, which then answers the
    full-frame pass directly, without the proposals and zoomed second looks). Holds the last frame's faces,
    so build one per video and pass frames in time order. ``source_px``: the video's (width, height)
    as displayed, which ``cfg.min_face_px`` counts in; None: the frames' own size. With
    ``detect_every_frames`` 1 every frame gets the full-frame pass, all frames' proposals in one
    batched call. ``n_full`` and ``n_roi`` count frames by the path that answered them.
    """

    def __init__(self, detector: Detector, cfg: FaceConfig, source_px: tuple[int, int] | None = None) -> None:
        if cfg.detect_every_frames < 1:
            raise ValueError(f"detect_every_frames must be >= 1, got {cfg.detect_every_frames}")
        if cfg.roi_px < 32:
            raise ValueError(f"roi_px={cfg.roi_px} is too small for RetinaFace; use >= 32")
        self.detector = detector
        self.cfg = cfg
        known = source_px is not None and min(source_px) > 0
        self._source_w = source_px[0] if known else None
        self._source_long = max(source_px) if known else None
        self._last: list[FaceDetection] = []
        self._motion: list[np.ndarray] = []  # per face of _last: its centre's move over the last frame
        self._since_full: int | None = None  # frames since the last full-frame detection
        self._frame = -1  # index of the current frame
        self._recover_until = -1  # last frame of the faster schedule after faces were lost
        self._expected = 0  # faces seen before the loss: the faster schedule ends once found again
        self.n_full = 0
        self.n_roi = 0

    def min_face_px(self, frame: np.ndarray) -> float:
        """``cfg.min_face_px`` (source pixels) in ``frame``'s pixels."""
        if self._source_w is None:
            return float(self.cfg.min_face_px)
        return self.cfg.min_face_px * frame.shape[1] / self._source_w

    def detect(
        self, frames: np.ndarray | Sequence[np.ndarray], steps: Sequence[int] | None = None
    ) -> list[list[FaceDetection]]:
        """Faces in each of ``frames`` (uint8[H, W, 3] RGB, consecutive analysis frames), in order.
        ``steps``: the frames' grid steps, which anchor the full-frame schedule to the video; None
        counts frames from the first one this detector saw."""
        if self.cfg.detect_every_frames == 1:
            self.n_full += len(frames)
            return self._full(frames)
        if steps is None:
            steps = range(self._frame + 1, self._frame + 1 + len(frames))
        return [self._one(frame, step) for frame, step in zip(frames, steps, strict=True)]

    def _full(self, frames: np.ndarray | Sequence[np.ndarray]) -> list[list[FaceDetection]]:
        """The full-frame pass (``features.full_frame``): proposals, small faces confirmed zoomed. A
        stand-in detector (tests) just detects."""
        if not len(frames) or not isinstance(self.detector, FaceDetector):
            return self.detector.detect(frames)
        cfg, min_face = self.cfg, self.min_face_px(frames[0])
        hd = self._source_long is not None and self._source_long > HD_LONG_SIDE_PX
        side = proposal_side(frames[0].shape[:2], min_face, cfg.detect_max_side_px, hd)
        return full_frame_faces(
            self.detector, frames, min_face, cfg.roi_px, side, cfg.score_threshold, cfg.nms_threshold
        )

    def _one(self, frame: np.ndarray, step: int) -> list[FaceDetection]:
        self._frame = step
        recovering = self._frame <= self._recover_until
        every = self.cfg.detect_every_frames
        anchored = step % every == 0  # the video's own schedule, wherever decoding started
        if recovering:
            every = max(1, every // 2)
        due = self._since_full is None or self._since_full + 1 >= every or anchored
        if not due:
            self._since_full += 1
            if not self._last:
                return []
            found = self._in_rois(frame)
            if found is not None:
                self.n_roi += 1
                return found
        self._since_full = 0
        self.n_full += 1
        found = self._full([frame])[0]
        if len(found) < len(self._last):  # faces lost: look for them more often while tracks can continue
            self._expected = max(self._expected, len(self._last)) if recovering else len(self._last)
            self._recover_until = self._frame + self.cfg.track_max_missed_steps
        elif recovering and len(found) >= self._expected:
            self._recover_until = -1  # all back
        self._motion = carried_motion(self._last, self._motion, found)
        self._last = found
        return found

    def _in_rois(self, frame: np.ndarray) -> list[FaceDetection] | None:
        """The last frame's faces found again in their ROIs, each centred where the face's last move
        puts it (a small face in a wide shot moves a face side or more per analysis frame), or None
        when any one was not found. Updates ``_last`` and ``_motion`` when all were."""
        boxes = [_ahead(face.box, move) for face, move in zip(self._last, self._motion, strict=True)]
        looked = look_again(self.detector, frame, boxes, self.cfg.roi_px, self.min_face_px(frame))
        if any(d is None for d in looked):
            return None
        picks = [d for d in looked if d is not None]
        if len(picks) > 1:
            same = iou_matrix(np.stack([p.box for p in picks]), np.stack([p.box for p in picks]))
            if (np.triu(same, k=1) >= _SAME_FACE_IOU).any():
                return None
        moves = [_centre(p.box) - _centre(f.box) for p, f in zip(picks, self._last, strict=True)]
        order = sorted(range(len(picks)), key=lambda i: -picks[i].score)  # as full frames come: best first
        self._last, self._motion = [picks[i] for i in order], [moves[i] for i in order]
        return self._last


def _ahead(box: np.ndarray, move: np.ndarray) -> np.ndarray:
    """``box`` moved on by ``move`` when that is more than ``_MIN_MOVE`` of its side: a talking head's
    jitter leaves its ROI where it was, a face walking through a wide shot is looked for ahead."""
    side = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0)))
    return box + np.tile(move, 2) if float(np.linalg.norm(move)) > _MIN_MOVE * side else box


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2], box[1] + box[3]], np.float64) / 2


def carried_motion(
    before: list[FaceDetection], motion: list[np.ndarray], found: list[FaceDetection]
) -> list[np.ndarray]:
    """Each of ``found``'s last move: from the face of ``before`` (the previous frame's, which moved by
    ``motion``) whose predicted centre is nearest, within ``_MAX_MOVE`` of its face sides and one to
    one (Hungarian); zero for a face with none (just appeared)."""
    moves = [np.zeros(2) for _ in found]
    if not before or not found:
        return moves
    ahead = np.stack([_centre(f.box) + m for f, m in zip(before, motion, strict=True)])
    side = np.array([max(1.0, float(np.sqrt((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))) for f in before])
    now = np.stack([_centre(f.box) for f in found])
    dist = np.linalg.norm(ahead[:, None] - now[None], axis=2) / side[:, None]
    rows, cols = linear_sum_assignment(dist)
    for r, c in zip(rows, cols, strict=True):
        if dist[r, c] <= _MAX_MOVE:
            moves[c] = now[c] - _centre(before[r].box)
    return moves
