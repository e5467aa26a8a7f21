"""One video's way from decoded streams to model windows: the step grid that aligns both modalities.

Video frames and audio samples are pulled in lockstep from two streaming decoders, so memory is bounded
by one window of crops and features per lane, whatever the video's length. Each grid step belongs to
the lanes of the face tracks seen at that step, or, when no face is seen, to the face-less lane
(``track_id`` None): every step of the video appears in exactly one or more lanes, never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from emotrace.features.acoustics import AUDIO_FEATURE_NAMES, StepAcoustics
from emotrace.features.face_steps import TrackedFace, track_faces
from emotrace.features.faces import FaceDetector
from emotrace.features.roi_detect import RoiFaceDetector
from emotrace.features.speaking import MouthMotion, lane_speaking
from emotrace.features.speech import SpeechActivity
from emotrace.features.track_stats import TrackStats
from emotrace.features.tracking import FaceTracker
from emotrace.schemas.config import AnalyzeConfig, SpeakingConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import AudioChunk, Box, FrameChunk, MediaInfo, StepWindow, VideoRef

_END = 1 << 62  # frontier of an exhausted stream: it no longer holds any window back


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
    head: dict[int, dict[int, Box]] = field(default_factory=dict)
    tail: dict[int, dict[int, Box]] = field(default_factory=dict)


class _StepBuffer:
    """Per-step observations for the windows not yet emitted."""

    def __init__(self, keep_from: int = 0, keep_back: int = 0) -> None:
        self.keep_from = keep_from  # the first step any window shows: earlier faces are tracked, not kept
        self.keep_back = keep_back  # motion and speech are kept this many steps before a window's start
        self.crops: dict[int, dict[int, np.ndarray]] = {}  # step -> track_id -> uint8[S, S, 3]
        self.face_meta: dict[int, dict[int, np.ndarray]] = {}  # step -> track_id -> f32[5] score,x,y,w,h
        self.audio: dict[int, np.ndarray] = {}  # step -> float32[D]
        self.speech: dict[int, float] = {}  # step -> speech_prob in [0, 1]
        self.motion: dict[int, dict[int, float]] = {}  # step -> track_id -> net mouth motion (or NaN)
        self.seen_frame: set[int] = set()  # steps that had a decoded frame (faces or not)

    def drop_before(self, step: int) -> None:
        for d, first in (
            (self.crops, step),
            (self.face_meta, step),
            (self.audio, step),
            (self.speech, step - self.keep_back),
            (self.motion, step - self.keep_back),
        ):
            for s in [s for s in d if s < first]:
                del d[s]
        self.seen_frame = {s for s in self.seen_frame if s >= step}


def _lane_windows(
    ref: VideoRef, buf: _StepBuffer, start: int, owned: range, cfg: AnalyzeConfig, crop_px: int
) -> list[StepWindow]:
    """All lanes of the window starting at grid step ``start`` that write a step: a lane's ``valid``
    steps are its steps in ``owned`` (this segment's steps, up to the end of the video); the steps around
    them are the window's context. Face lanes get the audio only where their face is the one speaking;
    the face-less lane writes the steps without a face and the steps whose voice no face claims."""
    w = cfg.grid.window_steps
    steps = range(start, start + w)
    owns = np.array([s in owned for s in steps])
    audio, audio_mask, speech = _window_audio(buf, steps)
    tracks = sorted({t for s in steps for t in buf.crops.get(s, {})})
    speaking = _window_speaking(buf, steps, tracks, cfg.speaking)
    windows: list[StepWindow] = []
    face_any = np.zeros(w, bool)
    claimed = np.zeros(w, bool)  # a visible face gets the step's voice
    for track in tracks:
        faces, mask, meta = _lane_faces(buf, steps, track, crop_px)
        face_any |= mask
        gated = audio_mask & mask & (np.nan_to_num(speaking[track], nan=-1.0) >= cfg.speaking.gate)
        claimed |= gated
        if not (mask & owns).any():  # this face is seen only in the context (another segment's steps)
            continue
        windows.append(
            StepWindow(
                ref, track, start, cfg.grid.step_s, faces, mask, audio * gated[:, None], gated, mask & owns
            )._replace(
                speech_prob=speech, face_score=meta[:, 0], face_box=meta[:, 1:], speaking=speaking[track]
            )
        )
    voice = audio_mask & (np.nan_to_num(speech, nan=0.0) >= cfg.speaking.voice_min_speech)
    faceless = owns & (~face_any | (voice & ~claimed))
    if faceless.any():
        empty = np.zeros((w, crop_px, crop_px, 3), np.uint8)
        windows.append(
            StepWindow(
                ref, None, start, cfg.grid.step_s, empty, np.zeros(w, bool), audio, audio_mask, faceless
            )._replace(speech_prob=speech)
        )
    return windows


def _window_audio(buf: _StepBuffer, steps: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(descriptors float32[W, D], soundtrack mask bool[W], speech_prob float32[W], NaN where the
    soundtrack does not reach) of ``steps``."""
    w = len(steps)
    audio = np.zeros((w, len(AUDIO_FEATURE_NAMES)), np.float32)
    audio_mask = np.zeros(w, bool)
    speech = np.full(w, np.nan, np.float32)
    for i, s in enumerate(steps):
        if s in buf.audio:
            audio[i], audio_mask[i], speech[i] = buf.audio[s], True, buf.speech[s]
    return audio, audio_mask, speech


def _lane_faces(
    buf: _StepBuffer, steps: range, track: int, crop_px: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One track's crops uint8[W, S, S, 3], mask bool[W] and detection (score, x, y, w, h) float32[W, 5]
    (NaN where this face is absent) over ``steps``."""
    w = len(steps)
    faces = np.zeros((w, crop_px, crop_px, 3), np.uint8)
    mask = np.zeros(w, bool)
    meta = np.full((w, 5), np.nan, np.float32)
    for i, s in enumerate(steps):
        crop = buf.crops.get(s, {}).get(track)
        if crop is not None:
            faces[i], mask[i] = crop, True
            meta[i] = buf.face_meta[s][track]
    return faces, mask, meta


def _window_speaking(
    buf: _StepBuffer, steps: range, tracks: list[int], cfg: SpeakingConfig
) -> dict[int, np.ndarray]:
    """``speaking`` float32[W] per track over ``steps``, from the mouth motion and speech of the steps
    within ``cfg.half_steps`` of them (kept in ``buf`` for that): the same value in every window."""
    k = cfg.half_steps
    around = range(steps.start - k, steps.stop + k)
    speech = np.array([buf.speech.get(s, np.nan) for s in around], np.float64)
    motion = {t: np.array([buf.motion.get(s, {}).get(t, np.nan) for s in around]) for t in tracks}
    present = {t: np.array([t in buf.motion.get(s, {}) for s in around]) for t in tracks}
    out = lane_speaking(motion, present, speech, cfg)
    return {t: v[k : k + len(steps)] for t, v in out.items()}


def _file_face(
    face: TrackedFace,
    step: int,
    owned: bool,
    buf: _StepBuffer,
    stats: WindowStats,
    start: int,
    tail_from: int | None,
    motion: float,
) -> None:
    """Keep one tracked face of ``step``: its box for stitching where a neighbouring segment also decodes
    the step, its crop where a window will show it (``step`` at or after ``buf.keep_from``), and its
    track's sums where the step is this segment's own (``owned``); ``motion``: its net mouth motion
    (``features.speaking.MouthMotion``)."""
    if step < start:  # decoded before the first owned step: the previous segment's tail sees it too
        stats.head.setdefault(step, {})[face.track_id] = _corner_box(face.box_norm)
    elif owned and tail_from is not None and step >= tail_from:
        stats.tail.setdefault(step, {})[face.track_id] = _corner_box(face.box_norm)
    if step >= buf.keep_from - buf.keep_back:  # the speaking evidence of the first window looks back
        buf.motion.setdefault(step, {})[face.track_id] = motion
    if step < buf.keep_from:  # preroll: tracked for stitching only
        return
    buf.crops.setdefault(step, {})[face.track_id] = face.crop
    buf.face_meta.setdefault(step, {})[face.track_id] = np.concatenate([[face.score], face.box_norm]).astype(
        np.float32
    )
    if owned:
        stats.track_ids.add(face.track_id)
        stats.track_stats.add(step, face.track_id, face.score, face.area_frac)


def _corner_box(box_norm: np.ndarray) -> Box:
    x, y, w, h = (float(v) for v in box_norm)
    return (x, y, x + w, y + h)


def _decoded_steps(
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


def iter_step_windows(
    ref: VideoRef,
    info: MediaInfo,
    frames: Iterable[FrameChunk],
    audio: Iterable[AudioChunk],
    detector: FaceDetector,
    cfg: AnalyzeConfig,
    crop_px: int,
    stats: WindowStats | None = None,
    span: tuple[int, int, int | None] | None = None,
) -> Iterator[StepWindow]:
    """Windows of ``cfg.grid.window_steps`` steps for every lane, in time order, one every
    ``cfg.grid.hop`` steps (overlapping when the hop is shorter than a window: ``features/blend.py``).

    ``frames`` and ``audio`` are the streaming decoders' outputs (empty when a stream is absent). A
    chunk is finished with (crops copied out) before the next is pulled, so decoders may reuse buffers.
    A step takes the first frame whose timestamp falls in it; steps without a frame have no face.

    ``span`` = (first, start, end) makes this one segment of the video (``features.segments``): the
    segment owns (writes) steps ``start`` (on the hop grid) up to ``end`` (None: the end of the media);
    it cuts every window of the video's tiling that overlaps them, so the windows reach up to
    ``window_steps - hop`` steps past ``end`` and before ``start``: decoded for those windows' context,
    never written. The streams begin at step ``first`` (the preroll before the first window: decoded
    for tracking, never written) and stop once both have passed that context and the speaking evidence
    after it (``SpeakingConfig.half_steps`` more steps). None: the whole video. The preroll must be at
    least ``half_steps + 1`` steps for a segment's speaking values to equal the uncut video's.
    """
    stats = stats if stats is not None else WindowStats()
    grid, w, hop = cfg.grid, cfg.grid.window_steps, cfg.grid.hop
    first, start, end = span if span is not None else (0, 0, None)
    if start % hop or not 0 <= first <= start or (end is not None and (end <= start or end % hop)):
        raise ValueError(f"bad segment span {span}: start and end must be on the hop grid of {hop} steps")
    tail_from = start if end is None else max(start, end - cfg.segments.preroll_steps(grid))
    # Decoded up to here (exclusive): the last window's context, and the speaking evidence after it.
    horizon = _END if end is None else end + grid.context_after + cfg.speaking.half_steps
    window0 = grid.first_window_over(start)  # steps before it are preroll: tracked, not kept
    tracker = FaceTracker(cfg.faces)
    faces_in = RoiFaceDetector(detector, cfg.faces, (info.width, info.height))  # full frames every k-th
    acoustics = StepAcoustics(cfg.audio, grid.step_s)
    speech = SpeechActivity(grid.step_s)
    buf = _StepBuffer(keep_from=window0, keep_back=cfg.speaking.half_steps)
    mouths = MouthMotion()
    lookahead = cfg.speaking.half_steps  # a window waits until the speaking evidence of its steps is in
    frame_it: Iterator[FrameChunk] | None = iter(frames) if info.has_video else None
    audio_it: Iterator[AudioChunk] | None = iter(audio) if info.has_audio else None
    video_front = first if frame_it else _END  # first step not yet covered by decoded frames
    audio_front = first if audio_it else _END
    n_audio_steps = first  # the audio stream starts at step ``first``
    n_video_steps = first  # steps up to the last decoded frame
    n_total = grid.n_steps(info.duration_s)
    next_window = window0 // hop

    def add_audio(feats: np.ndarray) -> None:
        nonlocal n_audio_steps
        for row, prob in zip(feats, speech.update(feats), strict=True):
            buf.audio[n_audio_steps] = row
            buf.speech[n_audio_steps] = float(prob)
            n_audio_steps += 1

    def pull(it: Iterator, on_item: Callable) -> bool:
        item = next(it, None)
        if item is None:
            return False
        on_item(item)
        return True

    def on_frames(chunk: FrameChunk) -> None:
        nonlocal video_front, n_total, n_video_steps
        keep = []
        last = -1
        for i, t in enumerate(chunk.t_s):
            step = grid.step_of(float(t))
            last = max(last, step)
            if step < 0 or step in buf.seen_frame or step >= horizon:
                continue
            if window0 <= step < next_window * hop:  # every window over it is already out
                continue
            buf.seen_frame.add(step)
            keep.append((i, step))
        stats.n_frames += len(chunk.t_s)
        if keep:
            i0, i1 = keep[0][0], keep[-1][0] + 1
            # Kept frames are nearly always a run: slice them (a view) rather than copy a chunk's 35 MB.
            run = i1 - i0 == len(keep)
            detections = faces_in.detect(chunk.frames[i0:i1] if run else chunk.frames[[i for i, _ in keep]])
            for (i, step), dets in zip(keep, detections, strict=True):
                owned = start <= step < (horizon if end is None else end)
                for face in track_faces(chunk.frames[i], dets, tracker, step, crop_px):
                    moved = mouths.update(face.track_id, step, face.crop)
                    tail = tail_from if end is not None else None
                    _file_face(face, step, owned, buf, stats, start, tail, moved)
                mouths.forget_before(step)
                if dets and owned:
                    stats.n_face_steps += 1
        if last >= 0:
            video_front = max(video_front, last)  # the last step may still get no more frames
            n_total = max(n_total, last + 1)
            n_video_steps = max(n_video_steps, last + 1)

    def stop(it: Iterator | None) -> None:
        close = getattr(it, "close", None)
        if close is not None:
            close()  # kills that stream's ffmpeg: the rest of the file belongs to later segments

    while True:
        if frame_it is not None and video_front >= horizon:
            stop(frame_it)
            frame_it, video_front = None, _END
        elif audio_it is not None and audio_front >= horizon:
            stop(audio_it)
            audio_it, audio_front = None, _END
        elif frame_it is not None and video_front <= audio_front:
            if not pull(frame_it, on_frames):
                frame_it, video_front = None, _END
        elif audio_it is not None:
            if not pull(audio_it, lambda c: add_audio(acoustics.feed(c.samples))):
                add_audio(acoustics.finish())
                audio_it, audio_front = None, _END
                if info.duration_s <= 0:  # no container duration: the soundtrack says how long it is
                    n_total = max(n_total, n_audio_steps)
            else:
                audio_front = n_audio_steps
        front = min(video_front, audio_front)
        done = frame_it is None and audio_it is None
        if done:
            limit = n_total if end is None else min(end, max(n_total, n_video_steps, n_audio_steps))
            limit = _decoded_steps(
                limit, max(n_video_steps, n_audio_steps), start, n_total, grid.step_s, stats
            )
        # Once both streams are exhausted the front is _END: only the limit bounds the last windows.
        # The steps windows may write: this segment's, up to where the media is known to reach.
        writable = range(start, limit if done else n_total if end is None else min(end, n_total))
        # A window waits for its steps and for the speaking evidence after them (``lookahead``).
        while (
            not done and next_window * hop + w + lookahead <= front and next_window * hop < writable.stop
        ) or (done and next_window * hop < limit):
            for window in _lane_windows(ref, buf, next_window * hop, writable, cfg, crop_px):
                stats.n_windows += 1
                yield window
            next_window += 1
            buf.drop_before(next_window * hop)
        if done:
            break
    stats.n_steps = max(0, limit - start)
    stats.n_tracks = len(stats.track_ids)
