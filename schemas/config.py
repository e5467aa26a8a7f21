"""Frozen, serialisable configs for each stage (defaults are the product's defaults).

Pipelines build these from command-line options at the edge; the core only ever sees these objects.
Units are in the field names: ``_s`` seconds, ``_hz`` per second, ``_px`` pixels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from emotrace.schemas.step_time import step_at, steps_covering


@dataclass(frozen=True)
class GridConfig:
    """The time grid that traces are written on.

    Step ``k`` covers ``[k * step_s, (k + 1) * step_s)``; ``t_s`` in traces is the step start.
    The model consumes fixed-shape windows of ``window_steps`` consecutive steps.
    """

    step_s: float = 0.2
    window_steps: int = 25
    # Windows start every ``hop_steps`` steps on a tiling anchored at step 0. Fewer than ``window_steps``
    # makes them overlap, and each step's prediction is a cross-fade of every window over it
    # (features/blend.py): no step sits at a window's edge, so the trace has no seams. None: back to
    # back (``window_steps``), as training cuts them; ``emotrace analyze`` overlaps them (``--window-hop-s``).
    hop_steps: int | None = None

    def __post_init__(self) -> None:
        if self.window_steps < 1:
            raise ValueError(f"window_steps must be >= 1, got {self.window_steps}")
        if self.hop_steps is not None and not 1 <= self.hop_steps <= self.window_steps:
            raise ValueError(
                f"hop_steps must be in 1..{self.window_steps} (window_steps), got {self.hop_steps}"
            )

    @property
    def hop(self) -> int:
        """Steps between the starts of consecutive windows."""
        return self.window_steps if self.hop_steps is None else self.hop_steps

    def first_window_over(self, step: int) -> int:
        """Start step of the first window (on the hop grid) that covers ``step``."""
        return max(0, -(-(step - self.window_steps + 1) // self.hop)) * self.hop

    @property
    def context_after(self) -> int:
        """Steps past the end of a stretch ending on the hop grid that its last window still covers."""
        return self.window_steps - self.hop

    def step_of(self, t_s: float) -> int:
        """Index of the step holding time ``t_s`` (schemas.step_time)."""
        return step_at(t_s, self.step_s)

    def n_steps(self, duration_s: float) -> int:
        """Steps needed to cover ``duration_s`` (a partial last step counts)."""
        return steps_covering(duration_s, self.step_s)


# ``emotrace analyze`` starts a window every second (``--window-hop-s``): 5 s windows then overlap by 4 s
# and every step's prediction is a cross-fade of 5 of them (features/blend.py). Measured in docs/model.md
# ("Seamless traces"): a 2.6 s hop still left seams at its own window edges on real clips (valence ratio
# 1.22), 1 s none (0.82-0.99), for +1 ms of CPU per media second thanks to model/face_memo.py.
ANALYZE_WINDOW_HOP_S = 1.0


def hop_steps_for(hop_s: float, step_s: float, window_steps: int) -> int:
    """``hop_s`` seconds as whole steps, at least 1 and at most one window (no overlap)."""
    if not hop_s > 0:
        raise ValueError(f"the window hop must be > 0 s, got {hop_s}")
    return max(1, min(window_steps, round(hop_s / step_s)))


# Demuxers a posted video may use (libavformat names; "mov" covers mp4/m4v/3gp, "matroska" covers webm).
# Playlists and indirections (hls, concat, image2, tee, ...) are refused: a crafted upload must not make
# ffmpeg open other local files or network addresses.
ALLOWED_CONTAINER_FORMATS = "mov,matroska,avi,flv,mpegts,mpeg,ogg,asf,wav,mp3,aac,flac,gif,webp_anim"


@dataclass(frozen=True)
class DecodeConfig:
    frame_rate_hz: float = 5.0  # analysis frame rate (frames sampled by ffmpeg's fps filter)
    sample_rate_hz: int = 16_000  # audio is resampled to mono float32 at this rate
    # Frames are decoded at ``scale`` of the video's size (2/3: a 24 px face is 16 px, which the zoomed
    # second look finds 99 % of the time; 12 px at 1/2: 90-94 %, docs/faces.md), but at least
    # ``min_side_px`` and at most ``max_side_px`` on the longer side (scaled inside ffmpeg, never up):
    # 720p at 854x480, 1080p at 1280x720, 4K at 1280x720, 640x360 as is.
    scale: float = 0.667
    min_side_px: int = 640
    max_side_px: int = 1280
    chunk_frames: int = 50  # frames per streamed chunk at most (50 x 640 x 360 x 3 = 35 MB)
    chunk_max_bytes: int = 36 * 2**20  # and at most this many bytes (1280x720: 13 frames, 35 MB)
    audio_chunk_s: float = 10.0  # seconds of audio per streamed chunk
    timeout_s: float = 1800.0  # per-video wall-clock limit for one ffmpeg process
    max_duration_s: float = 4 * 3600.0  # longer inputs are skipped with a clear code
    max_pixels: int = 8192 * 4320  # larger frames (past 8K) are skipped: decode cost and memory bombs
    format_whitelist: str = ALLOWED_CONTAINER_FORMATS
    allowed_schemes: tuple[str, ...] = ("file", "gs")  # URI schemes inputs may use ("file" = local paths)


@dataclass(frozen=True)
class FaceConfig:
    score_threshold: float = 0.8  # RetinaFace confidence
    nms_threshold: float = 0.4
    min_face_px: int = 20  # shorter box side, in the video's own pixels (as displayed, before decoding)
    crop_size_px: int = 64  # aligned crop fed to the face branch (the bundle may override)
    track_iou: float = 0.3  # minimum IoU to extend a track
    track_max_missed_steps: int = 10  # a track survives this many steps without a detection
    # Full-frame pass: the longer side of the network input that looks for faces (features/full_frame.py).
    # None: chosen so that a face of min_face_px is ~10 px there, at least 640 px (720p: 640 px); frames
    # decoded smaller than the video (1080p at 1280 px) are taken as they are.
    detect_max_side_px: int | None = None
    backend: str = "onnxruntime"  # onnxruntime | torch | auto (torch on CUDA with the gpu extra)
    device: str = "cpu"  # torch device of the detector (torch backend only)
    detect_batch: int = 1  # frames per detector call (1 is fastest on CPU; raise on a GPU)
    # Full-frame detection on every k-th analysis frame; in between only in small regions around the
    # faces of the previous frame, shrunk to fit roi_px (features/roi_detect.py, issue 6). 1: every frame.
    # 10 at 5 fps: a face that enters is found within 2 s, one lost for a moment within 1 s (k/2 while
    # it is missing); 5 cost ~6 ms more CPU per media second on steady talking heads.
    detect_every_frames: int = 10
    roi_px: int = 192
    weights_uri: str | None = None  # RetinaFace ONNX (local or gs://); None: packaged MobileNet0.25
    # Appearance cue (features/appearance.py): weight of (1 - cosine similarity) in the association
    # cost, the similarity below which a pair is never linked, and the similarity above which a track
    # that lost IoU contact (a crossing, a short miss) may take a detection up to
    # ``track_reid_shift`` face sides per step elapsed away from where its velocity puts it, or up to
    # ``track_new_shift`` face sides per step from its only box while its velocity is unknown (small
    # faces in a wide shot move a face side or two per analysis step: docs/faces.md).
    track_appearance_weight: float = 0.5
    track_min_similarity: float = 0.3
    track_reid_similarity: float = 0.6
    track_reid_shift: float = 0.5
    track_new_shift: float = 2.0


@dataclass(frozen=True)
class AudioConfig:
    sample_rate_hz: int = 16_000
    hop_s: float = 0.010  # low-level descriptors every 10 ms (eGeMAPS convention)
    win_s: float = 0.025  # analysis window of each descriptor frame
    context_s: float = 0.4  # summaries over [t - context/2 + step/2, ...]: a step's neighbourhood
    fmin_hz: float = 65.0  # F0 search range (C2..C6 covers adult and child speech)
    fmax_hz: float = 1000.0


@dataclass(frozen=True)
class SegmentConfig:
    """How a long video is cut into segments that run as separate pipeline elements (issue 6).

    Cuts fall on the windows' hop grid, and each segment decodes every window that overlaps the steps it
    owns (writes), so every window, and hence every prediction, is the same as without segments. Before
    the first of those windows, a segment decodes ``preroll_s`` more (not before 0), or more where the
    state of its first windows remembers more (``features.segments.preroll_steps``: 2.8 s by default),
    without writing it: the audio descriptors' context, ``speech_prob``'s noise floor, the speaking
    evidence and the face tracker warm up there, and the tracks seen before the first owned step are
    matched to the previous segment's (``features/segments.py``).
    """

    segment_s: float = 60.0  # target length; 0 turns segmenting off
    preroll_s: float = 2.0
    # The runner's worker count when the job knows it (the local runners; 0: not known, e.g. Dataflow):
    # a video is then cut into at most this many segments, each longer than ``segment_s``. More segments
    # than workers only add each segment's preroll, context and ffmpeg start (~20 % of the CPU at 60 s
    # segments: benchmarks/README.md); with many videos, the videos themselves spread over the workers.
    workers: int = 0

    def segment_steps(self, grid: GridConfig) -> int:
        """Segment length in steps: ``segment_s`` rounded up to whole hops (0: no segments)."""
        if self.segment_s <= 0:
            return 0
        hops = max(1, math.ceil(self.segment_s / (grid.step_s * grid.hop) - 1e-9))
        return hops * grid.hop

    def preroll_steps(self, grid: GridConfig) -> int:
        return max(0, math.ceil(self.preroll_s / grid.step_s - 1e-9))


@dataclass(frozen=True)
class SpeakingConfig:
    """Active-speaker attribution (features/speaking.py, docs/speaking.md); in ``config_hash``."""

    half_steps: int = 3  # evidence window: 3 steps either side (1.4 s at 0.2 s steps)
    turn_steps: int = 2  # a voice step's turn reaches 2 steps either side: short pauses stay the talker's
    rest_weight: float = 0.5  # how much mouth motion in pauses counts against a face
    evidence_mid: float = 0.05  # net mouth motion (patch std units) at which v = 0.5
    evidence_width: float = 0.015  # logistic width: v(0) = 0.03, v(0.02) = 0.12, v(0.1) = 0.97
    gate: float = 0.5  # a face row gets the step's audio only when speaking >= gate
    voice_min_speech: float = 0.5  # a step "has a voice" when speech_prob >= this (voice-over rows)

    def __post_init__(self) -> None:
        if not 0 <= self.turn_steps <= self.half_steps:  # windows, segments keep half_steps around a step
            raise ValueError(
                f"turn_steps must be in [0, half_steps={self.half_steps}], got {self.turn_steps}"
            )


@dataclass(frozen=True)
class AnalyzeConfig:
    """Everything the analyze pipeline's core needs, in one serialisable object."""

    grid: GridConfig = GridConfig()
    decode: DecodeConfig = DecodeConfig()
    faces: FaceConfig = FaceConfig()
    audio: AudioConfig = AudioConfig()
    segments: SegmentConfig = SegmentConfig()
    speaking: SpeakingConfig = SpeakingConfig()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def output_dict(self) -> dict[str, Any]:
        """What the rows depend on (``config_hash``): all but how a video is cut into segments, which
        changes no row (tests/pipelines/test_segments_pipeline.py), so the same job on another number of
        workers keeps its hash."""
        return {k: v for k, v in self.to_dict().items() if k != "segments"}
