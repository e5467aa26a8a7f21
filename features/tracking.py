"""Link per-frame face detections into tracks (one id per person per video) by box overlap and looks.

Association is a global assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``) on IoU, so two
faces that pass close to each other keep their ids where greedy best-IoU-first matching can swap or drop
them. Tracks are compared on their last matched box: at the 5 fps analysis rate talking heads move
little between frames, and a motion model would mostly add failure modes (cuts, camera pans).

Appearance (optional, ``features.appearance`` embeddings of the aligned crops) does three things that
IoU alone cannot: when two faces cross, the cost prefers the detection that looks like the track
(``track_appearance_weight``); a pair that looks too different is never linked
(``track_min_similarity``), so an occluding face does not take over the hidden face's track; and a
track that lost IoU contact (a short miss while the face kept moving) takes back a detection that
looks like it (``track_reid_similarity``) within ``track_reid_shift`` face sides per elapsed step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection

_INFEASIBLE = 1e6  # cost of a pair below the IoU gate: any feasible pairing is cheaper
_EMBEDDING_MOMENTUM = 0.3  # weight of the newest crop in a track's appearance signature
_VELOCITY_MOMENTUM = 0.5  # weight of the track's past velocity against its newest displacement


@dataclass
class Track:
    """One face track: its id, where it was last seen and what it looks like."""

    track_id: int
    box: np.ndarray  # float32[4] (x0, y0, x1, y1), last matched detection
    last_step: int  # grid step of the last matched detection
    embedding: np.ndarray | None = None  # float32[E] unit vector, running mean of matched crops
    velocity: np.ndarray | None = None  # float64[2] box centre's motion in pixels per step, once seen twice

    def absorb(self, box: np.ndarray, step: int, embedding: np.ndarray | None) -> None:
        box = np.asarray(box, dtype=np.float32)
        if step > self.last_step:
            moved = (_centre(box) - _centre(self.box)) / (step - self.last_step)
            keep = 0.0 if self.velocity is None else _VELOCITY_MOMENTUM
            self.velocity = moved if self.velocity is None else keep * self.velocity + (1.0 - keep) * moved
        self.box = box
        self.last_step = step
        if embedding is None:
            return
        if self.embedding is None:
            self.embedding = np.asarray(embedding, dtype=np.float32)
            return
        # A running mean: one blurred or half-occluded crop moves the signature only a little.
        mixed = (1.0 - _EMBEDDING_MOMENTUM) * self.embedding + _EMBEDDING_MOMENTUM * embedding
        self.embedding = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)

    def predicted(self, step: int) -> np.ndarray:
        """float64[4]: the last box moved on at the track's velocity to ``step`` (the last box itself
        while the velocity is unknown)."""
        box = self.box.astype(np.float64)
        if self.velocity is None:
            return box
        return box + np.tile(self.velocity * (step - self.last_step), 2)


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([box[0] + box[2], box[1] + box[3]], np.float64) / 2


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

    def update(
        self, step: int, detections: list[FaceDetection], embeddings: np.ndarray | None = None
    ) -> list[int]:
        """Track id for each of ``detections`` (same order), seen at grid step ``step``.

        ``embeddings``: float32[D, E] unit appearance vectors of the detections' aligned crops, or None
        for geometry only. Unmatched detections start new tracks, numbered in detection order.
        """
        if embeddings is not None and len(embeddings) != len(detections):
            raise ValueError(f"{len(embeddings)} embeddings for {len(detections)} detections")
        if self._last_step is not None and step < self._last_step:
            raise ValueError(f"steps must not decrease: got {step} after {self._last_step}")
        self._last_step = step
        max_missed = self.cfg.track_max_missed_steps
        # A track last matched at step s has missed (step - s - 1) steps by now.
        self._active = [t for t in self._active if step - t.last_step - 1 <= max_missed]

        ids = [-1] * len(detections)
        if self._active and detections:
            cost = self._association_cost(self._active, detections, embeddings, step)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] < _INFEASIBLE:
                    track = self._active[r]
                    track.absorb(detections[c].box, step, None if embeddings is None else embeddings[c])
                    ids[c] = track.track_id
        for i, det in enumerate(detections):
            if ids[i] < 0:
                track = Track(self._n_created, np.asarray(det.box, dtype=np.float32), step)
                track.absorb(det.box, step, None if embeddings is None else embeddings[i])
                self._n_created += 1
                self._active.append(track)
                ids[i] = track.track_id
        return ids

    def _association_cost(
        self,
        tracks: list[Track],
        detections: list[FaceDetection],
        embeddings: np.ndarray | None = None,
        step: int = 0,
    ) -> np.ndarray:
        """float64[T, D] cost of giving detection d to track t; ``_INFEASIBLE`` where the pair is gated out.

        Geometry (``_geometry``): the IoU of the detection with the track's last box or with that box
        moved on at the track's velocity, whichever is larger, and the centre's distance from the
        nearer of the two in face sides. Geometry only: ``1 - IoU`` where IoU passes ``track_iou``.
        With appearance, for tracks that have a signature: ``(1 - w) g + w (1 - cos)`` with ``g`` =
        ``1 - IoU`` plus, once the boxes are more than a face side apart, that excess distance as a
        fraction of the allowed shift (at most 1): when no box overlaps, as with small faces that move
        a face side per step, the nearer one still costs less. Feasible where (IoU passes the gate or
        the looks pass ``track_reid_similarity`` within the allowed shift: ``track_reid_shift`` face
        sides per elapsed step, ``track_new_shift`` for a track seen only once) and the looks pass
        ``track_min_similarity``.
        """
        cfg = self.cfg
        d_boxes = np.stack([d.box for d in detections]).astype(np.float64)
        iou, shift = _geometry(tracks, d_boxes, step)
        cost = np.where(iou >= cfg.track_iou, 1.0 - iou, _INFEASIBLE)
        has_emb = np.array([t.embedding is not None for t in tracks])
        if embeddings is None or not has_emb.any():
            return cost
        t_emb = np.stack(
            [t.embedding if t.embedding is not None else np.zeros_like(embeddings[0]) for t in tracks]
        )
        sim = np.clip(t_emb.astype(np.float64) @ np.asarray(embeddings, np.float64).T, -1.0, 1.0)
        elapsed = np.array([step - t.last_step for t in tracks], dtype=np.float64)[:, None]
        # A track seen once has no velocity yet: it may have moved up to track_new_shift face sides per
        # step; one with a velocity is looked for within track_reid_shift per step of its prediction.
        per_step = np.array(
            [cfg.track_new_shift if t.velocity is None else cfg.track_reid_shift for t in tracks]
        )
        allowed = per_step[:, None] * np.maximum(elapsed, 1)
        reid = (sim >= cfg.track_reid_similarity) & (shift <= allowed)
        feasible = ((iou >= cfg.track_iou) | reid) & (sim >= cfg.track_min_similarity)
        w = cfg.track_appearance_weight
        geometry = 1.0 - iou + np.minimum(1.0, np.maximum(0.0, shift - 1.0) / allowed)
        blended = np.where(feasible, (1.0 - w) * geometry + w * (1.0 - sim), _INFEASIBLE)
        return np.where(has_emb[:, None], blended, cost)


def _geometry(tracks: list[Track], d_boxes: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """float64[T, D] IoU and centre distance (in the track's face sides) of each detection box with each
    track's last box or its prediction for ``step``, the better of the two for each pair."""
    last = np.stack([t.box for t in tracks]).astype(np.float64)
    ahead = np.stack([t.predicted(step) for t in tracks])
    iou = np.maximum(iou_matrix(last, d_boxes), iou_matrix(ahead, d_boxes))
    side = np.sqrt(np.maximum((last[:, 2] - last[:, 0]) * (last[:, 3] - last[:, 1]), 1.0))[:, None]
    d_c = (d_boxes[:, :2] + d_boxes[:, 2:]) / 2
    dist = [np.linalg.norm((b[:, None, :2] + b[:, None, 2:]) / 2 - d_c[None], axis=2) for b in (last, ahead)]
    return iou, np.minimum(dist[0], dist[1]) / side
