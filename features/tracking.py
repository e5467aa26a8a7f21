"""Link per-frame face detections into tracks (one id per person per video) by box overlap.

Association is a global assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``) on IoU, so two
faces that pass close to each other keep their ids where greedy best-IoU-first matching can swap or drop
them. Tracks are compared on their last matched box: at the 5 fps analysis rate talking heads move
little between frames, and a motion model would mostly add failure modes (cuts, camera pans).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection

_INFEASIBLE = 1e6  # cost of a pair below the IoU gate: any feasible pairing is cheaper


@dataclass
class Track:
    """One face track: its id and where it was last seen. Later cues (appearance) add fields here."""

    track_id: int
    box: np.ndarray  # float32[4] (x0, y0, x1, y1), last matched detection
    last_step: int  # grid step of the last matched detection


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a``: float[N, 4] and ``b``: float[M, 4] (x0, y0, x1, y1) -> float64[N, M]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


class FaceTracker:
    """Stateful tracker for one video. Not thread-safe; build one per video.

    ``update`` must be called with non-decreasing grid steps; steps that are never passed (no frame
    decoded there) count as missed. A track whose last match is ``track_max_missed_steps`` or fewer
    missed steps ago can still be extended; older tracks end and never come back.
    """

    def __init__(self, cfg: FaceConfig) -> None:
        self.cfg = cfg
        self._active: list[Track] = []
        self._n_created = 0
        self._last_step: int | None = None

    @property
    def n_tracks(self) -> int:
        """Tracks created so far in this video (ended ones included)."""
        return self._n_created

    def update(self, step: int, detections: list[FaceDetection]) -> list[int]:
        """Track id for each of ``detections`` (same order), seen at grid step ``step``.

        Unmatched detections start new tracks, numbered in detection order.
        """
        if self._last_step is not None and step < self._last_step:
            raise ValueError(f"steps must not decrease: got {step} after {self._last_step}")
        self._last_step = step
        max_missed = self.cfg.track_max_missed_steps
        # A track last matched at step s has missed (step - s - 1) steps by now.
        self._active = [t for t in self._active if step - t.last_step - 1 <= max_missed]

        ids = [-1] * len(detections)
        if self._active and detections:
            cost = self._association_cost(self._active, detections)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _INFEASIBLE:
                    track = self._active[r]
                    track.box = np.asarray(detections[c].box, dtype=np.float32)
                    track.last_step = step
                    ids[c] = track.track_id
        for i, det in enumerate(detections):
            if ids[i] < 0:
                track = Track(self._n_created, np.asarray(det.box, dtype=np.float32), step)
                self._n_created += 1
                self._active.append(track)
                ids[i] = track.track_id
        return ids

    def _association_cost(self, tracks: list[Track], detections: list[FaceDetection]) -> np.ndarray:
        """float64[T, D] cost of giving detection d to track t; ``_INFEASIBLE`` where the pair is gated out.

        Seam for the appearance cue: blend ``1 - IoU`` with an embedding distance stored on ``Track``
        and gate on both. Everything else (assignment, ageing, id allocation) stays as it is.
        """
        iou = iou_matrix(np.stack([t.box for t in tracks]), np.stack([d.box for d in detections]))
        return np.where(iou >= self.cfg.track_iou, 1.0 - iou, _INFEASIBLE)
