"""One segment's step grid, filled from both decoded streams, and the generator that interleaves them.

``StepGrid`` files what each stream brings into grid steps: faces (detected, tracked, aligned) from
frames, descriptors and speech activity from audio. Its windows come out from ``ready()`` as soon as
both streams have passed every step a window shows, and from ``finish()`` once both are over, so memory
holds one window of crops and features per lane, whatever the video's length. ``iter_step_windows``
decides which stream to read next (the one further behind) and when to stop one (past the segment's
context). The span's bookkeeping lives in ``features.segments``; cutting windows out of the buffered
steps in ``features.windows``.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from emotrace.features.acoustics import StepAcoustics
from emotrace.features.face_steps import TrackedFace, track_faces
from emotrace.features.faces import FaceDetector
from emotrace.features.roi_detect import RoiFaceDetector
from emotrace.features.segments import Span
from emotrace.features.speaking import MouthMotion
from emotrace.features.speech import SpeechActivity
from emotrace.features.tracking import FaceTracker
from emotrace.features.windows import StepBuffer, WindowStats, decoded_steps, lane_windows
from emotrace.schemas.boxes import frac_corners
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import AudioChunk, FrameChunk, MediaInfo, StepWindow, VideoRef

END = 1 << 62  # frontier of a stream that is over: it no longer holds any window back

WHOLE_VIDEO = Span(0, 0, None)


class StepGrid:
    """The steps of one segment (``span``; the whole video by default) of one video.

    ``video_front`` / ``audio_front``: the first step each stream has not covered yet (``END`` once it
    is over). ``stats``: counts for the ``videos`` row and the tracks table, complete after ``finish()``.
    """

    def __init__(
        self,
        ref: VideoRef,
        info: MediaInfo,
        detector: FaceDetector,
        cfg: AnalyzeConfig,
        crop_px: int,
        span: Span = WHOLE_VIDEO,
    ) -> None:
        grid = cfg.grid
        span.check(grid.hop)
        self.ref, self.info, self.cfg, self.crop_px, self.span = ref, info, cfg, crop_px, span
        self.stats = WindowStats()
        horizon = span.horizon(cfg)
        self.horizon = END if horizon is None else horizon  # decoded up to here (exclusive)
        self._tail_from = span.tail_from(cfg)
        window0 = grid.first_window_over(span.start)  # steps before it are preroll: tracked, not kept
        self._next_start = window0  # start step of the next window to cut
        self._buf = StepBuffer(keep_from=window0, keep_back=cfg.speaking.half_steps)
        self._mouths = MouthMotion()
        self._tracker = FaceTracker(cfg.faces)
        # Full frames every k-th frame (at a size set by the video's, for small faces), ROIs between.
        self._faces_in = RoiFaceDetector(detector, cfg.faces, (info.width, info.height))
        self._acoustics = StepAcoustics(cfg.audio, grid.step_s)
        self._speech = SpeechActivity(grid.step_s)
        self.video_front = span.first if info.has_video else END
        self.audio_front = span.first if info.has_audio else END
        self._n_audio_steps = span.first  # the audio stream starts at step ``first``
        self._n_video_steps = span.first  # steps up to the last decoded frame
        self._n_total = grid.n_steps(info.duration_s)

    # Video

    def add_frames(self, chunk: FrameChunk) -> None:
        """Detect, track and file the faces of the chunk's frames that a step still needs (a step takes
        the first frame whose timestamp falls in it)."""
        keep = self._frames_needed(chunk)
        self.stats.n_frames += len(chunk.t_s)
        with stage(ErrorCode.FACE_STAGE_FAILED, "the face stage"):
            self._faces_of(chunk, keep)
        last = max((self.cfg.grid.step_of(float(t)) for t in chunk.t_s), default=-1)
        if last >= 0:
            self.video_front = max(self.video_front, last)  # the last step may still get more frames
            self._n_total = max(self._n_total, last + 1)
            self._n_video_steps = max(self._n_video_steps, last + 1)

    def _faces_of(self, chunk: FrameChunk, keep: list[tuple[int, int]]) -> None:
        if not keep:
            return
        i0, i1 = keep[0][0], keep[-1][0] + 1
        # Kept frames are nearly always a run: slice them (a view) rather than copy a chunk's 35 MB.
        run = i1 - i0 == len(keep)
        frames = chunk.frames[i0:i1] if run else chunk.frames[[i for i, _ in keep]]
        detections = self._faces_in.detect(frames, [step for _, step in keep])
        for (i, step), dets in zip(keep, detections, strict=True):
            owned = self.span.owns(step)
            for face in track_faces(chunk.frames[i], dets, self._tracker, step, self.crop_px):
                motion = self._mouths.update(face.track_id, step, chunk.frames[i], face.landmarks)
                self._file_face(face, step, owned, motion)
            self._mouths.forget_before(step)
            if dets and owned:
                self.stats.n_face_steps += 1

    def _frames_needed(self, chunk: FrameChunk) -> list[tuple[int, int]]:
        """(index in the chunk, step) of the frames that give a step its frame."""
        keep = []
        for i, t in enumerate(chunk.t_s):
            step = self.cfg.grid.step_of(float(t))
            if step < 0 or step in self._buf.seen_frame or step >= self.horizon:
                continue
            if self._buf.keep_from <= step < self._next_start:  # every window over it is already out
                continue
            self._buf.seen_frame.add(step)
            keep.append((i, step))
        return keep

    def _file_face(self, face: TrackedFace, step: int, owned: bool, motion: float) -> None:
        """Keep one tracked face of ``step``: its box for stitching where a neighbouring segment also
        decodes the step, its mouth ``motion`` where a window's speaking evidence reaches it, its crop
        where a window will show it, its track's sums where the step is owned."""
        box = frac_corners(face.box_norm)
        if step < self.span.start:  # decoded before the first owned step: the previous segment's tail too
            self.stats.head.setdefault(step, {})[face.track_id] = box
        elif owned and self._tail_from is not None and step >= self._tail_from:
            self.stats.tail.setdefault(step, {})[face.track_id] = box
        if step >= self._buf.keep_from - self._buf.keep_back:  # the first window's evidence looks back
            self._buf.add_motion(step, face.track_id, motion)
        if step < self._buf.keep_from:  # preroll: tracked for stitching only
            return
        self._buf.add_face(step, face)
        if owned:
            self.stats.track_ids.add(face.track_id)
            self.stats.track_stats.add(step, face.track_id, face.score, face.area_frac)

    def end_video(self) -> None:
        """The video stream is over (exhausted, or stopped past the horizon)."""
        self.video_front = END

    # Audio

    def add_audio(self, chunk: AudioChunk) -> None:
        with stage(ErrorCode.AUDIO_STAGE_FAILED, "the audio stage"):
            self._file_audio(self._acoustics.feed(chunk.samples))
        self.audio_front = self._n_audio_steps

    def end_audio(self) -> None:
        """The soundtrack is exhausted: its last descriptors are flushed."""
        with stage(ErrorCode.AUDIO_STAGE_FAILED, "the audio stage"):
            self._file_audio(self._acoustics.finish())
        self.audio_front = END
        if self.info.duration_s <= 0:  # no container duration: the soundtrack says how long it is
            self._n_total = max(self._n_total, self._n_audio_steps)

    def stop_audio(self) -> None:
        """The soundtrack was stopped past the horizon: the rest belongs to later segments."""
        self.audio_front = END

    def _file_audio(self, feats: np.ndarray) -> None:
        for row, prob in zip(feats, self._speech.update(feats), strict=True):
            self._buf.add_audio(self._n_audio_steps, row, float(prob))
            self._n_audio_steps += 1

    # Windows

    def ready(self) -> Iterator[StepWindow]:
        """The windows whose every step both streams have passed, and the speaking evidence after them
        (``SpeakingConfig.half_steps``), while the streams still run."""
        front = min(self.video_front, self.audio_front)
        w = self.cfg.grid.window_steps + self.cfg.speaking.half_steps
        end = self._n_total if self.span.end is None else min(self.span.end, self._n_total)
        writable = range(
            self.span.start, end
        )  # this segment's steps, up to where the media is known to reach
        while self._next_start + w <= front and self._next_start < writable.stop:
            yield from self._cut(writable)

    def finish(self) -> Iterator[StepWindow]:
        """The last windows, once both streams are over; completes ``stats``."""
        n_total, start = self._n_total, self.span.start
        limit = (
            n_total
            if self.span.end is None
            else min(self.span.end, max(n_total, self._n_video_steps, self._n_audio_steps))
        )
        covered = max(self._n_video_steps, self._n_audio_steps)
        limit = decoded_steps(limit, covered, start, n_total, self.cfg.grid.step_s, self.stats)
        while self._next_start < limit:
            yield from self._cut(range(start, limit))
        self.stats.n_steps = max(0, limit - start)
        self.stats.n_tracks = len(self.stats.track_ids)

    def _cut(self, writable: range) -> Iterator[StepWindow]:
        """Every lane of the window at ``_next_start``; then the steps no later window shows are dropped."""
        for window in lane_windows(self.ref, self._buf, self._next_start, writable, self.cfg, self.crop_px):
            self.stats.n_windows += 1
            yield window
        self._next_start += self.cfg.grid.hop
        self._buf.drop_before(self._next_start)


@contextmanager
def stage(code: ErrorCode, name: str) -> Iterator[None]:
    """An exception from inside one stage's own work becomes that stage's stable code on this video's
    row (with the file and line it came from) instead of INTERNAL_ERROR; expected errors pass as is."""
    try:
        yield
    except EmotraceError:
        raise
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        raise EmotraceError(
            code,
            f"{name} raised {type(err).__name__}: {err} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
        ) from err


def iter_step_windows(
    grid: StepGrid, frames: Iterable[FrameChunk], audio: Iterable[AudioChunk]
) -> Iterator[StepWindow]:
    """Windows of ``grid.cfg.grid.window_steps`` steps for every lane, in time order, one every hop
    (overlapping when the hop is shorter than a window: ``features/blend.py``); ``grid.stats`` is
    complete once it ends.

    ``frames`` and ``audio`` are the streaming decoders' outputs (empty when a stream is absent), read
    from ``grid.span.first`` on. A chunk is finished with (crops copied out) before the next is pulled,
    so decoders may reuse buffers. The stream further behind is read next; one that has passed the
    segment's horizon is closed (its ffmpeg killed: the rest of the file belongs to later segments).
    """
    video = iter(frames) if grid.info.has_video else None
    sound = iter(audio) if grid.info.has_audio else None
    while video is not None or sound is not None:
        if video is not None and grid.video_front >= grid.horizon:
            video = _close(video)
            grid.end_video()
        elif sound is not None and grid.audio_front >= grid.horizon:
            sound = _close(sound)
            grid.stop_audio()
        elif video is not None and grid.video_front <= grid.audio_front:
            chunk = next(video, None)
            if chunk is None:
                video = None
                grid.end_video()
            else:
                grid.add_frames(chunk)
        elif sound is not None:
            piece = next(sound, None)
            if piece is None:
                sound = None
                grid.end_audio()
            else:
                grid.add_audio(piece)
        if video is not None or sound is not None:
            yield from grid.ready()
    yield from grid.finish()


def _close(stream: Iterator[object]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()
