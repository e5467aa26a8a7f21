"""Model windows cut out of buffered grid steps, one per lane (``features.step_grid`` fills the steps).

Each grid step belongs to the lanes of the face tracks seen at that step, or, when no face is seen, to
the face-less lane (``track_id`` None): every step of the video appears in one or more lanes, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
from emotrace.features.face_steps import TrackedFace
from emotrace.features.track_stats import TrackStats
from emotrace.schemas.boxes import FracCorners
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import StepWindow, VideoRef


@dataclass
class WindowStats:
    """Counts for the ``videos`` row and for metrics, filled while windows are produced."""

    n_steps: int = 0
    n_tracks: int = 0
    n_face_steps: int = 0
    n_frames: int = 0
    n_windows: int = 0
    track_ids: set[int] = field(default_factory=set)
    track_stats: TrackStats = field(default_factory=TrackStats)  # per-track sums -> the tracks table
    partial: str | None = None  # set when decoding stopped before the container's duration: says how far
    # Boxes (x0, y0, x1, y1 as fractions of the frame) per step and track on the steps a neighbouring
    # segment also decodes: ``head`` the preroll before the first owned step, ``tail`` the last owned
    # ones. What ``features.segments.stitch_tracks`` matches tracks across segments on.
    head: dict[int, dict[int, FracCorners]] = field(default_factory=dict)
    tail: dict[int, dict[int, FracCorners]] = field(default_factory=dict)


class StepBuffer:
    """Per-step observations for the windows not yet emitted."""

    def __init__(self, keep_from: int = 0) -> None:
        self.keep_from = keep_from  # the first step any window shows: earlier faces are tracked, not kept
        self.crops: dict[int, dict[int, np.ndarray]] = {}  # step -> track_id -> uint8[S, S, 3]
        self.face_meta: dict[int, dict[int, np.ndarray]] = {}  # step -> track_id -> f32[5] score,x,y,w,h
        self.audio: dict[int, np.ndarray] = {}  # step -> float32[D]
        self.speech: dict[int, float] = {}  # step -> speech_prob in [0, 1]
        self.seen_frame: set[int] = set()  # steps that had a decoded frame (faces or not)

    def add_face(self, step: int, face: TrackedFace) -> None:
        self.crops.setdefault(step, {})[face.track_id] = face.crop
        meta = np.concatenate([[face.score], face.box_norm]).astype(np.float32)
        self.face_meta.setdefault(step, {})[face.track_id] = meta

    def add_audio(self, step: int, feats: np.ndarray, speech_prob: float) -> None:
        self.audio[step] = feats
        self.speech[step] = speech_prob

    def drop_before(self, step: int) -> None:
        for d in (self.crops, self.face_meta, self.audio, self.speech):
            for s in [s for s in d if s < step]:
                del d[s]
        self.seen_frame = {s for s in self.seen_frame if s >= step}


def lane_windows(
    ref: VideoRef, buf: StepBuffer, start: int, owned: range, cfg: AnalyzeConfig, crop_px: int
) -> list[StepWindow]:
    """All lanes of the window starting at grid step ``start`` that write a step: a lane's ``valid``
    steps are its steps in ``owned`` (this segment's steps, up to the end of the video); the steps around
    them are the window's context."""
    w = cfg.grid.window_steps
    steps = range(start, start + w)
    owns = np.array([s in owned for s in steps])
    n_feat = len(AUDIO_FEATURE_NAMES)
    audio = np.zeros((w, n_feat), np.float32)
    audio_mask = np.zeros(w, bool)
    speech = np.full(w, np.nan, np.float32)  # NaN where the soundtrack does not reach
    for i, s in enumerate(steps):
        if s in buf.audio:
            audio[i] = buf.audio[s]
            audio_mask[i] = True
            speech[i] = buf.speech[s]
    tracks = sorted({t for s in steps for t in buf.crops.get(s, {})})
    windows: list[StepWindow] = []
    face_any = np.zeros(w, bool)
    for track in tracks:
        faces = np.zeros((w, crop_px, crop_px, 3), np.uint8)
        mask = np.zeros(w, bool)
        meta = np.full((w, 5), np.nan, np.float32)  # score, x, y, w, h; NaN where this face is absent
        for i, s in enumerate(steps):
            crop = buf.crops.get(s, {}).get(track)
            if crop is not None:
                faces[i], mask[i] = crop, True
                meta[i] = buf.face_meta[s][track]
        face_any |= mask
        if not (mask & owns).any():  # this face is seen only in the context (another segment's steps)
            continue
        windows.append(
            StepWindow(
                ref, track, start, cfg.grid.step_s, faces, mask, audio, audio_mask, mask & owns, speech
            )._replace(face_score=meta[:, 0], face_box=meta[:, 1:])
        )
    faceless = owns & ~face_any
    if faceless.any():
        empty = np.zeros((w, crop_px, crop_px, 3), np.uint8)
        windows.append(
            StepWindow(
                ref,
                None,
                start,
                cfg.grid.step_s,
                empty,
                np.zeros(w, bool),
                audio,
                audio_mask,
                faceless,
                speech,
            )
        )
    return windows


def decoded_steps(
    limit: int, covered: int, start: int, n_total: int, step_s: float, stats: WindowStats
) -> int:
    """Steps to write once decoding is over: windows go up to the returned step (exclusive).

    ``limit``: the segment's end (the video's step count for the last or only segment); ``covered``:
    one past the last step any stream reached. A truncated file stops early, and its trace stops where
    the decoded media stops (flagged partial) instead of inventing steps nothing was decoded for.
    """
    if covered <= start:
        if start == 0:
            raise EmotraceError(ErrorCode.EMPTY_MEDIA, "no frame and no audio sample could be decoded")
        # A later segment of a file that ends early: the earlier segments' traces stand, flagged partial.
        stats.partial = f"nothing decoded after {start * step_s:.1f} s of {n_total * step_s:.1f} s"
        return start
    if covered < limit - 1:  # one step of slack: the last partial step may have no frame of its own
        stats.partial = f"decoded {covered * step_s:.1f} s of {n_total * step_s:.1f} s"
        return covered
    return limit
