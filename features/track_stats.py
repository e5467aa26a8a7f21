"""Per-track statistics of one video and its primary track, accumulated while the video streams by.

Memory is O(tracks), not O(steps): each track keeps running sums only, so an hour of video costs the
same as a minute. The primary track is the one with the most screen time weighted by face size
(sum over its steps of the box area as a fraction of the frame): a face seen all along but tiny in the
background loses to the presenter filling a third of the frame, and a face shown large for one second
loses to one shown for the whole post. Ties go to the lower track id (the one seen first).
"""

from __future__ import annotations

from dataclasses import dataclass

from emotrace.schemas.records import TrackSummary, VideoRef


@dataclass
class _Running:
    first_step: int
    last_step: int
    n_steps: int = 0
    sum_score: float = 0.0
    sum_area: float = 0.0  # sum of box area / frame area over the track's steps


class TrackStats:
    """Running sums per track id for one video. ``add`` once per (step, track) with a detection."""

    def __init__(self) -> None:
        self._tracks: dict[int, _Running] = {}

    def add(self, step: int, track_id: int, score: float, area_frac: float) -> None:
        """``area_frac``: the detection box's area divided by the frame's area, in [0, 1]."""
        t = self._tracks.get(track_id)
        if t is None:
            t = self._tracks[track_id] = _Running(step, step)
        t.first_step, t.last_step = min(t.first_step, step), max(t.last_step, step)
        t.n_steps += 1
        t.sum_score += score
        t.sum_area += area_frac

    def primary_track(self) -> int | None:
        """Id of the track with the largest sum of face area over its steps; None without tracks."""
        if not self._tracks:
            return None
        return min(self._tracks, key=lambda k: (-self._tracks[k].sum_area, k))

    def summaries(self, ref: VideoRef, step_s: float) -> list[TrackSummary]:
        """One summary per track, in track id order; exactly one has ``is_primary`` when any exist."""
        primary = self.primary_track()
        return [
            TrackSummary(
                ref=ref,
                track_id=k,
                first_s=round(t.first_step * step_s, 6),
                last_s=round(t.last_step * step_s, 6),
                n_steps=t.n_steps,
                mean_score=t.sum_score / t.n_steps,
                mean_area=t.sum_area / t.n_steps,
                is_primary=k == primary,
            )
            for k, t in sorted(self._tracks.items())
        ]
