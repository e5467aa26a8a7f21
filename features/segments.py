"""Long videos as segments: where to cut, and how to join the face tracks back across the cuts.

A one-hour video processed as one element keeps one worker busy for the whole hour of media while the
others idle. Cut into ``SegmentConfig.segment_s`` pieces, each piece is an element of its own that any
worker can take (issue 6). Cuts fall on the windows' hop grid, and a segment cuts every window (of the
video's one tiling, anchored at step 0) that overlaps the steps it owns, decoding the steps those windows
reach on either side of the cut for context; so every model window, and therefore every prediction, is
the one the uncut video gives, and each step is written by exactly one segment (the one that owns it).

What a cut does change is the state the decoders and trackers start from, and both kinds are restored:

* audio descriptors, speech activity (its noise floor) and the speaking evidence look back in time, and
  the face tracker remembers a missing face for a while: each segment decodes a preroll before its first
  window without writing it, long enough to cover all of these (``preroll_steps``);
* track ids are per tracker, i.e. per segment: ``stitch_tracks`` matches the tracks of segment k's
  preroll to those of segment k-1's last steps (the same frames, seen by both trackers) by box overlap,
  and numbers the stitched tracks of the whole video.

Pure core: no Beam.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from emotrace.features.speech import SpeechActivityConfig
from emotrace.features.track_stats import merge_sums
from emotrace.features.tracking import iou_matrix
from emotrace.schemas.boxes import FracCorners
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.records import SegmentTracks, TrackSums


class Span(NamedTuple):
    """The steps one segment decodes and writes: all of a segment's bookkeeping (issue 17).

    ``first``: first decoded step (``preroll_s`` before the first window over ``start``; tracked, not
    written); ``start``: first step it owns (writes), on the hop grid; ``end``: one past its last owned
    step, on the hop grid, or None for the last segment (the end of the media, whatever the container
    said). The whole video: ``Span(0, 0, None)``.
    """

    first: int
    start: int
    end: int | None

    @classmethod
    def owning(cls, start: int, end: int | None, cfg: AnalyzeConfig) -> Span:
        """The span of a segment owning ``start`` up to ``end``: decoding starts at its preroll."""
        return cls(decode_from(start, cfg), start, end)

    def check(self, hop: int) -> None:
        first, start, end = self
        if start % hop or not 0 <= first <= start or (end is not None and (end <= start or end % hop)):
            raise ValueError(
                f"bad segment span {tuple(self)}: start and end must be on the hop grid of {hop}"
            )

    def owns(self, step: int) -> bool:
        return self.start <= step and (self.end is None or step < self.end)

    def horizon(self, cfg: AnalyzeConfig) -> int | None:
        """One past the last step decoded: the context of the windows over the last owned steps, and the
        speaking evidence after it (None: to the end of the media)."""
        return None if self.end is None else self.end + cfg.grid.context_after + cfg.speaking.half_steps

    def tail_from(self, cfg: AnalyzeConfig) -> int | None:
        """First owned step the next segment decodes too (its preroll): boxes from there on are kept for
        stitching. None: no next segment."""
        return None if self.end is None else max(self.start, self.end - preroll_steps(cfg))


# Mean box IoU over the shared preroll steps at which two tracks of neighbouring segments are one face.
# Both trackers saw the same frames there, so a true match has IoU near 1 (the ROI detector's boxes move
# ~0.05 between two runs); two different faces side by side overlap far less.
STITCH_MIN_IOU = 0.5


def plan_segments(n_steps: int, cfg: AnalyzeConfig) -> list[Span]:
    """Spans for a video of ``n_steps`` grid steps (0 or less: unknown length, one segment).

    Segments are ``segment_steps`` long (whole hops) except the last, which runs to the end of the
    media whatever the container said; a remainder shorter than half a segment joins the one before
    rather than becoming a segment of its own. When the run knows its worker count
    (``SegmentConfig.workers``), a video is cut into at most that many segments, of equal length
    rounded up to whole hops: one worker cuts nothing.
    """
    seg = cfg.segments.segment_steps(cfg.grid)
    if seg <= 0 or n_steps <= seg:
        return [Span(0, 0, None)]
    n = max(1, round(n_steps / seg))
    if cfg.segments.workers > 0 and n > cfg.segments.workers:
        n = cfg.segments.workers
        hop = cfg.grid.hop
        seg = math.ceil(n_steps / n / hop) * hop
        n = math.ceil(n_steps / seg)  # rounding up to whole hops never leaves an empty last segment
    if n == 1:
        return [Span(0, 0, None)]
    spans: list[Span] = []
    for k in range(n):
        start = k * seg
        spans.append(Span.owning(start, (k + 1) * seg if k < n - 1 else None, cfg))
    return spans


def decode_from(start: int, cfg: AnalyzeConfig) -> int:
    """First step a segment owning steps from ``start`` decodes: ``preroll_s`` before its first window."""
    return max(0, cfg.grid.first_window_over(start) - preroll_steps(cfg))


def preroll_steps(cfg: AnalyzeConfig) -> int:
    """Steps a segment decodes before its first window: ``preroll_s``, and at least what the state at
    the first owned window's steps remembers, so a segment computes them as the uncut video does:

    * the tracker keeps a missing face ``track_max_missed_steps``: one step more, and a face the uncut
      video's tracker still carries across the cut was seen somewhere in the preroll, by both segments'
      trackers, so the stitch finds it (with a shorter preroll, a face hidden from shortly before a cut
      until the cut got a new id only in the segmented run);
    * ``speech_prob`` at a step looks back ``H`` steps (the noise floor, ``features/speech.py``), the
      speaking evidence ``SpeakingConfig.half_steps`` before the window, and the first decoded step's
      audio descriptors miss the context before it: ``H + half_steps + 1``;
    * the mouth motion behind that evidence compares a crop with the one a step before, and crops are
      the uncut video's from the first step where full-frame detection runs on the video's own
      schedule (a multiple of ``detect_every_frames``, ``features/roi_detect.py``) on:
      ``detect_every_frames + half_steps``.

    With the defaults 14 steps (2.8 s; the speech term): each segment of a long video decodes 2.8 s
    more than it writes, 0.6 s more than the 2.2 s before speaking."""
    tracker = cfg.faces.track_max_missed_steps + 1
    speech = SpeechActivityConfig().lookback_steps(cfg.grid.step_s) + cfg.speaking.half_steps + 1
    mouths = cfg.faces.detect_every_frames + cfg.speaking.half_steps
    return max(cfg.segments.preroll_steps(cfg.grid), tracker, speech, mouths)


def _match(
    tail: dict[int, dict[int, FracCorners]], head: dict[int, dict[int, FracCorners]]
) -> dict[int, int]:
    """Pairs (head track -> tail track) seen as one face on the steps both segments decoded.

    Score of a pair: the IoU of its boxes summed over the shared steps where both are seen, divided by
    the steps where either is seen (a face seen by only one tracker counts against the pair). Pairs
    are assigned one-to-one (Hungarian) and kept when the score reaches ``STITCH_MIN_IOU``.
    """
    steps = sorted(set(tail) & set(head))
    a_ids = sorted({t for s in steps for t in tail[s]})
    b_ids = sorted({t for s in steps for t in head[s]})
    if not a_ids or not b_ids:
        return {}
    a_at = {t: i for i, t in enumerate(a_ids)}
    b_at = {t: j for j, t in enumerate(b_ids)}
    iou_sum = np.zeros((len(a_ids), len(b_ids)))
    both = np.zeros_like(iou_sum)  # steps where both tracks are seen
    seen_a, seen_b = np.zeros(len(a_ids)), np.zeros(len(b_ids))
    for s in steps:
        ia, ib = [a_at[t] for t in tail[s]], [b_at[t] for t in head[s]]
        seen_a[ia] += 1
        seen_b[ib] += 1
        if ia and ib:
            iou_sum[np.ix_(ia, ib)] += iou_matrix(
                np.array(list(tail[s].values())), np.array(list(head[s].values()))
            )
            both[np.ix_(ia, ib)] += 1
    either = seen_a[:, None] + seen_b[None, :] - both
    score = np.divide(iou_sum, either, out=np.zeros_like(iou_sum), where=either > 0)
    rows, cols = linear_sum_assignment(-score)
    return {b_ids[j]: a_ids[i] for i, j in zip(rows, cols, strict=True) if score[i, j] >= STITCH_MIN_IOU}


def stitch_tracks(parts: Sequence[SegmentTracks]) -> dict[tuple[int, int], int]:
    """Video-wide track ids: ``{(segment index, local track id): global id}`` for every track that owns
    a step in its segment.

    A track of segment k continues the track of segment k-1 it matches in the shared preroll steps
    (``_match``); any other track gets the next unused id, in order of segment and local id. One
    segment alone keeps its ids, so an uncut video's ids are exactly its tracker's.
    """
    ordered = sorted(parts, key=lambda p: p.index)
    if len(ordered) == 1:
        return {(ordered[0].index, t): t for t in ordered[0].sums}
    mapping: dict[tuple[int, int], int] = {}
    next_id = 0
    prev: SegmentTracks | None = None
    for part in ordered:
        continues: dict[int, tuple[int, int]] = {}  # local id -> (previous segment, its local id)
        if prev is not None and prev.index == part.index - 1:
            continues = {b: (prev.index, a) for b, a in _match(prev.tail, part.head).items()}
        for local in sorted(part.sums):
            earlier = continues.get(local)
            if earlier is not None and earlier in mapping:
                mapping[(part.index, local)] = mapping[earlier]
            else:
                mapping[(part.index, local)] = next_id
                next_id += 1
        prev = part
    return mapping


def stitched_sums(
    parts: Sequence[SegmentTracks], mapping: dict[tuple[int, int], int]
) -> dict[int, TrackSums]:
    """Per global track, the sums of all the segment tracks stitched into it."""
    pieces: dict[int, list[TrackSums]] = {}
    for part in parts:
        for local, sums in part.sums.items():
            pieces.setdefault(mapping[(part.index, local)], []).append(sums)
    return {g: merge_sums(p) for g, p in pieces.items()}


class SegmentOwners:
    """Which segment owns a step: the last one starting at or before it."""

    def __init__(self, parts: Sequence[SegmentTracks]) -> None:
        pairs = sorted((p.start_step, p.index) for p in parts)
        if not pairs:
            raise ValueError("SegmentOwners needs at least one segment")
        self._starts = [s for s, _ in pairs]
        self._indexes = [i for _, i in pairs]

    def __call__(self, step: int) -> int:
        return self._indexes[max(0, bisect.bisect_right(self._starts, step) - 1)]
