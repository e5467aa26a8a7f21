"""Typed records passed between stages (Beam elements and core function results).

Arrays carry their shape, dtype and unit in the docstring; times are seconds from the start of the
video's presentation timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from emotrace.schemas.boxes import FracCorners
from emotrace.schemas.errors import Status


class VideoRef(NamedTuple):
    """One input: where the video is and whose post it is. Carries no media bytes."""

    video_uri: str
    post_id: str
    user_id: str | None = None
    posted_at: str | None = None  # ISO 8601 as given by the manifest


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file found. Width/height are as displayed (rotation applied)."""

    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float | None = None
    rotation_deg: int = 0
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate_hz: int | None = None
    audio_channels: int | None = None


class FrameChunk(NamedTuple):
    """Consecutive decoded frames. ``frames``: uint8[T, H, W, 3] RGB; ``t_s``: float64[T]."""

    t_s: np.ndarray
    frames: np.ndarray


class AudioChunk(NamedTuple):
    """Consecutive mono samples. ``samples``: float32[N] in [-1, 1] starting at ``t0_s``."""

    t0_s: float
    samples: np.ndarray
    sample_rate_hz: int


class FaceDetection(NamedTuple):
    """One face in one frame, in that frame's pixel coordinates.

    ``box``: float32[4] as (x0, y0, x1, y1); ``landmarks``: float32[5, 2] as (x, y) for right eye,
    left eye, nose, right mouth corner, left mouth corner (RetinaFace order, subject's view).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray


class StepWindow(NamedTuple):
    """The model's input element: ``W`` consecutive grid steps of one lane of one video.

    A lane is one face track (``track_id``) or the face-less lane (``track_id`` None) that covers the
    steps where no track is present, and the steps with a voice that no visible face is speaking (a
    voice-over: ``features/speaking.py``). Steps ``start_step .. start_step + W - 1``; windows start every
    ``GridConfig.hop`` steps, so they may overlap. Only steps with ``valid`` set get a prediction in the
    trace, blended over every window where they are valid (``features/blend.py``), which also narrows
    ``valid`` to the steps each window writes. Once predicted, ``faces`` and ``audio`` are dropped
    (zero-size arrays: ``features.blend.without_inputs``) before predictions are grouped per video.

    faces: uint8[W, S, S, 3] aligned RGB crops (zeros where ``face_mask`` is False)
    face_mask: bool[W]     a face crop exists at this step
    audio: float32[W, D]   acoustic descriptors per step (unnormalised; the model normalises)
    audio_mask: bool[W]    the model gets this step's audio: the soundtrack covers it and, in a face
                           lane, this face is the one speaking (``speaking``)
    valid: bool[W]         the step belongs to this lane, to the video and to the segment that cut the
                           window (the other steps are context)
    speech_prob: float32[W] speech activity in [0, 1] (features/speech.py); NaN where the soundtrack does
                           not reach (a value also where a face lane's audio is gated off); None
                           when not computed (a window built outside features/windows.py)
    face_score: float32[W], face_box: float32[W, 4]  the lane's detection per step (score; box as x, y,
                           w, h divided by the frame's width and height); NaN where ``face_mask`` is
                           False; None for the face-less lane and windows built elsewhere
    speaking: float32[W]   probability that this lane's face is the one speaking (features/speaking.py);
                           NaN where the face is absent or no soundtrack reaches; None for the face-less
                           lane and windows built elsewhere. A face lane's ``audio_mask`` is the
                           soundtrack's AND ``speaking >= SpeakingConfig.gate``, and ``audio`` is zero
                           where it is False: a face that does not speak gets the face-only path.
    """

    ref: VideoRef
    track_id: int | None
    start_step: int
    step_s: float
    faces: np.ndarray
    face_mask: np.ndarray
    audio: np.ndarray
    audio_mask: np.ndarray
    valid: np.ndarray
    speech_prob: np.ndarray | None = None  # last, with a default: older constructors keep working
    face_score: np.ndarray | None = None  # float32[W] detector score; NaN where face_mask is False
    face_box: np.ndarray | None = None  # float32[W, 4] NormBox rows (schemas.boxes); NaN where no face
    speaking: np.ndarray | None = None  # float32[W] in [0, 1]; NaN where no face or no soundtrack


class WindowPrediction(NamedTuple):
    """Model output for one window. ``arousal``, ``valence``: float32[W] in [-1, 1];
    ``attention``: float32[W, 2, 2] as (dimension: arousal, valence) x (modality: face, audio); each
    pair sums to 1 where any modality exists."""

    window: StepWindow
    arousal: np.ndarray
    valence: np.ndarray
    attention: np.ndarray
    model_version: str


class VideoSegment(NamedTuple):
    """Grid steps ``start_step .. end_step - 1`` of one video (``end_step`` None: to the end of the
    media), a pipeline element of its own so that one long video spreads over workers. ``info`` is the
    probe's result, so segments do not probe again. A short video is one segment, 0 of 1, from step 0."""

    ref: VideoRef
    info: MediaInfo
    index: int
    n_segments: int
    start_step: int
    end_step: int | None


class TrackSums(NamedTuple):
    """Running sums of one face track over some steps (``features.track_stats``); sums of two parts
    of one track add up."""

    first_step: int
    last_step: int
    n_steps: int
    sum_score: float
    sum_area: float  # box area / frame area, summed over the steps


@dataclass(frozen=True)
class SegmentTracks:
    """The face tracks one segment saw, under the segment's own (local) track ids.

    ``sums``: per local track, over the steps the segment owns (writes). ``head``: boxes per step and
    local track on the preroll steps before ``start_step`` (decoded, not written); ``tail``: the same
    on the segment's last owned steps, i.e. the next segment's preroll. Where one segment's tail meets
    the next one's head, the two trackers saw the same frames: ``features.segments`` matches their tracks
    there. Bounded: O(tracks + preroll steps), whatever the segment's length.
    """

    ref: VideoRef
    index: int
    n_segments: int
    start_step: int
    sums: dict[int, TrackSums]
    head: dict[int, dict[int, FracCorners]]
    tail: dict[int, dict[int, FracCorners]]


@dataclass(frozen=True)
class TrackSummary:
    """One face track of one video, known once the video is done; becomes a ``tracks`` row.

    Times are grid step starts (seconds). ``mean_area`` is the mean box area as a fraction of the
    frame. ``is_primary``: the track with the most screen time weighted by face size in its video.
    """

    ref: VideoRef
    track_id: int
    first_s: float
    last_s: float
    n_steps: int
    mean_score: float
    mean_area: float
    is_primary: bool


@dataclass(frozen=True)
class VideoOutcome:
    """How one input ended; becomes its single ``videos`` row."""

    ref: VideoRef
    status: Status
    error_code: str | None = None
    error_message: str | None = None
    info: MediaInfo | None = None
    n_tracks: int = 0
    n_steps: int = 0
    partial: bool = False  # traces cover only part of the video (truncated input, or a failure midway)
    segment: int = 0  # which segment of the video this outcome is for (JoinOutcomes merges them)
    n_segments: int = 1


@dataclass(frozen=True)
class WindowBatch:
    """Up to ``--batch-size`` consecutive windows of one segment of one video: the element the model
    stage runs as one batch. Batching happens where windows are cut (``transforms/extract.py``), not in
    ``RunInference``: a video's predictions then never depend on which other videos shared its batch,
    and no batch waits in a buffer for the end of a bundle (which Beam's Dask runner drops)."""

    windows: tuple[StepWindow, ...]

    def __len__(self) -> int:
        return len(self.windows)

    def __iter__(self) -> Iterator[StepWindow]:
        return iter(self.windows)


@dataclass(frozen=True)
class BatchFailed:
    """The model raised on a batch: every video with a window in it gets INFERENCE_FAILED."""

    refs: tuple[VideoRef, ...]
    message: str


class StepsWritten(NamedTuple):
    """How many trace rows one input's video wrote (``StitchTracks``), for its ``videos`` row."""

    key: tuple[str, str]  # (canonical video_uri, post_id): ``transforms.outcomes.key_of``
    n_rows: int


class TraceStep(NamedTuple):
    """One trace row while it is being made: typed, in ``TRACES``'s column order (``schemas/rows.py``
    checks the names against the schema at import).

    Stages pass these until the writer, where ``as_row`` makes the table's row; stitching a video's
    tracks replaces ``track_id`` and ``is_primary`` (``transforms/tracks.py``)."""

    post_id: str
    user_id: str | None
    track_id: int | None  # the window's lane; segment-local until stitched
    t_s: float  # step start, seconds
    step_s: float
    arousal: float
    valence: float
    face_present: bool
    audio_present: bool
    speech_prob: float | None
    attn_face_arousal: float
    attn_audio_arousal: float
    attn_face_valence: float
    attn_audio_valence: float
    model_version: str
    run_id: str
    pipeline_version: str
    config_hash: str
    face_score: float | None
    face_x: float | None
    face_y: float | None
    face_w: float | None
    face_h: float | None
    is_primary: bool
    speaking: float | None  # P(this row's face is speaking); null on the face-less lane and without audio

    def as_row(self) -> dict[str, Any]:
        return self._asdict()


class PartitionRow(NamedTuple):
    """A table row and the ``posted_date`` partition value its file goes under. Trace rows travel as
    ``schemas.rows.TraceStep`` (typed) until the writer makes them rows; the other tables' are rows."""

    partition: str
    row: dict[str, Any] | TraceStep


class StagedFile(NamedTuple):
    """A Parquet file a writer finished in the run's staging folder, under a temporary name; the commit
    stage names and publishes the files that successful bundles report (``transforms/publish.py``)."""

    table: str
    partition: str
    uri: str


class InputTally(NamedTuple):
    """Counts of the run's inputs, made inside the job and summed by the commit stage: ``inputs`` rows
    read from ``--input`` (valid, invalid and repeated), ``already_ok`` of those left out by
    ``--skip-existing``. Every input not left out must end as exactly one ``videos`` row."""

    inputs: int = 0
    already_ok: int = 0
