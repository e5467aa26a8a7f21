"""Per-track statistics of one video and its primary track, accumulated while the video streams by.

Memory is O(tracks), not O(steps): each track keeps running sums only, so an hour of video costs the
same as a minute. The primary track is the one with the most screen time weighted by face size
(sum over its steps of the box area as a fraction of the frame): a face seen all along but tiny in the
background loses to the presenter filling a third of the frame, and a face shown large for one second
loses to one shown for the whole post. Ties go to the lower track id (the one seen first).
"""

from __future__ import annotations

from collections.abc import Iterable

from emotrace.schemas.records import TrackSummary, TrackSums, VideoRef
from emotrace.schemas.step_time import step_start_s


def merge_sums(parts: Iterable[TrackSums]) -> TrackSums:
    """One track's sums over the union of disjoint step sets (e.g. the segments it was stitched from)."""
    parts = list(parts)
    if not parts:
        raise ValueError("merge_sums needs at least one part")
    return TrackSums(
        first_step=min(p.first_step for p in parts),
        last_step=max(p.last_step for p in parts),
        n_steps=sum(p.n_steps for p in parts),
        sum_score=sum(p.sum_score for p in parts),
        sum_area=sum(p.sum_area for p in parts),
    )


def primary_track(sums: dict[int, TrackSums]) -> int | None:
    """Id of the track with the largest sum of face area over its steps; None without tracks."""
    if not sums:
        return None
    return min(sums, key=lambda k: (-sums[k].sum_area, k))


def summaries(ref: VideoRef, sums: dict[int, TrackSums], step_s: float) -> list[TrackSummary]:
    """One summary per track, in track id order; exactly one has ``is_primary`` when any exist."""
    primary = primary_track(sums)
    return [
        TrackSummary(
            ref=ref,
            track_id=k,
            first_s=step_start_s(t.first_step, step_s),
            last_s=step_start_s(t.last_step, step_s),
            n_steps=t.n_steps,
            mean_score=t.sum_score / t.n_steps,
            mean_area=t.sum_area / t.n_steps,
            is_primary=k == primary,
        )
        for k, t in sorted(sums.items())
    ]


class TrackStats:
    """Running sums per track id for one video (or segment). ``add`` once per (step, track) with a
    detection."""

    def __init__(self) -> None:
        self._tracks: dict[int, TrackSums] = {}

    def add(self, step: int, track_id: int, score: float, area_frac: float) -> None:
        """``area_frac``: the detection box's area divided by the frame's area, in [0, 1]."""
        t = self._tracks.get(track_id)
        one = TrackSums(step, step, 1, float(score), float(area_frac))
        self._tracks[track_id] = one if t is None else merge_sums([t, one])

    def sums(self) -> dict[int, TrackSums]:
        return dict(self._tracks)

    def primary_track(self) -> int | None:
        return primary_track(self._tracks)

    def summaries(self, ref: VideoRef, step_s: float) -> list[TrackSummary]:
        return summaries(ref, self._tracks, step_s)
