"""The seam metric (issue 14): does a trace change more where the model's windows meet than elsewhere?

Definition (docs/model.md, *Seamless traces*, repeats it):

- Pairs: per lane of one post (one face track, or the face-less rows: ``track_id`` null), every two
  rows at consecutive grid steps ``(t, t + 1)``, with ``t = round(t_s / step_s)``. Rows further apart
  (a lane that pauses) make no pair, and neither do two rows whose inputs differ in kind
  (``face_present`` or ``audio_present``: the face appears or leaves, the speaking gate gives or takes
  the voice, docs/speaking.md): the model then sees another input, and the trace may jump there
  wherever the windows are. Such a step is an input switch, not a window seam, and it is left out of
  both sides of the ratio.
- Boundaries: the steps ``b`` where one of the model's windows starts or ends. Windows of ``W`` steps
  starting every ``H`` steps from step 0 start at ``k H`` and end before ``k H + W``; so
  ``b = k H`` or ``b = k H + W`` for some ``k >= 0``, and ``b > 0``. Back-to-back 5 s windows
  (``W = H = 25`` at 0.2 s) put them every 5 s.
- A pair straddles a boundary when ``b = t + 1``, i.e. when its two steps were written by different
  windows (back to back), or when some window's first or last step falls between them (overlapping).
- Seam ratio, per dimension (arousal, valence): the mean ``|x[t + 1] - x[t]|`` over the pairs that
  straddle a boundary, divided by the same mean over all other pairs. Pooled over lanes and posts:
  the means are over all their pairs together (``SeamStats`` add up). 1 means no seam; back-to-back
  windows on a real 20 s clip gave 2.6-3.5.

A short clip has few boundary pairs (a 20 s lane: 3 at 5 s boundaries), so one clip's ratio is noisy
even for a trace with no seam at all: ``phase_ratios`` gives the ratio at every shift of the boundaries,
the spread a seamless trace shows by chance.

Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emotrace.schemas.step_time import step_of_start

Row = dict[str, Any]
DIMENSIONS = ("arousal", "valence")


@dataclass(frozen=True)
class Boundaries:
    """The steps where windows of ``window_steps`` steps, one every ``hop_steps`` from step 0, start
    or end (``offset`` shifts them all: for ``phase_ratios``)."""

    window_steps: int
    hop_steps: int
    offset: int = 0

    def __contains__(self, step: int) -> bool:
        b = step - self.offset
        if b <= 0:
            return False
        return b % self.hop_steps == 0 or (
            b >= self.window_steps and (b - self.window_steps) % self.hop_steps == 0
        )


@dataclass(frozen=True)
class SeamStats:
    """Sums of ``|change|`` per dimension (arousal, valence) over pairs at a boundary and elsewhere."""

    n_boundary: int = 0
    n_other: int = 0
    boundary_sum: tuple[float, float] = (0.0, 0.0)
    other_sum: tuple[float, float] = (0.0, 0.0)

    def __add__(self, other: SeamStats) -> SeamStats:
        return SeamStats(
            self.n_boundary + other.n_boundary,
            self.n_other + other.n_other,
            _add(self.boundary_sum, other.boundary_sum),
            _add(self.other_sum, other.other_sum),
        )

    def boundary_mean(self, dim: str) -> float:
        return self.boundary_sum[DIMENSIONS.index(dim)] / self.n_boundary if self.n_boundary else float("nan")

    def other_mean(self, dim: str) -> float:
        return self.other_sum[DIMENSIONS.index(dim)] / self.n_other if self.n_other else float("nan")

    def ratio(self, dim: str) -> float:
        """The seam ratio of ``dim``; NaN without pairs on either side or when nothing changes elsewhere."""
        other = self.other_mean(dim)
        return self.boundary_mean(dim) / other if other > 0 else float("nan")


def _add(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0], a[1] + b[1])


def lane_pairs(rows: Iterable[Row], same_inputs: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per lane (post, track): ``(t1, change)``: the later step of every consecutive-step pair,
    int64[N], and ``|x[t + 1] - x[t]|`` of (arousal, valence), float64[N, 2]. ``same_inputs``: only
    pairs whose inputs are of one kind (the metric); False: every consecutive pair (to count them)."""
    lanes: dict[tuple[Any, Any], list[tuple[int, float, float, int]]] = {}
    for r in rows:
        step = step_of_start(float(r["t_s"]), float(r["step_s"]))
        kind = 2 * bool(r.get("face_present", True)) + bool(r.get("audio_present", True))
        lanes.setdefault((r["post_id"], r["track_id"]), []).append((step, r["arousal"], r["valence"], kind))
    out = []
    for points in lanes.values():
        a = np.array(sorted(points), dtype=np.float64)
        steps = a[:, 0].astype(np.int64)
        paired = np.diff(steps) == 1
        if same_inputs:
            paired &= np.diff(a[:, 3]) == 0  # the same kind of input on both steps
        change = np.abs(np.diff(a[:, 1:3], axis=0))[paired]
        out.append((steps[1:][paired], change))
    return out


def seam_stats(pairs: Sequence[tuple[np.ndarray, np.ndarray]], boundaries: Boundaries) -> SeamStats:
    """Pooled ``SeamStats`` of ``lane_pairs`` output against ``boundaries``."""
    total = SeamStats()
    for t1, change in pairs:
        at = np.array([int(t) in boundaries for t in t1], dtype=bool)
        b, o = change[at].sum(axis=0), change[~at].sum(axis=0)
        total = total + SeamStats(
            int(at.sum()), int((~at).sum()), (float(b[0]), float(b[1])), (float(o[0]), float(o[1]))
        )
    return total


def phase_ratios(pairs: Sequence[tuple[np.ndarray, np.ndarray]], period: int, dim: str) -> np.ndarray:
    """float64[period]: the seam ratio of ``dim`` with boundaries every ``period`` steps, shifted by
    0 .. period - 1 steps. Index 0 is the true boundaries; the others show what chance gives."""
    return np.array([seam_stats(pairs, Boundaries(period, period, k)).ratio(dim) for k in range(period)])
