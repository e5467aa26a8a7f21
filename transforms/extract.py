"""Decode one video and turn it into model windows (``StepWindow``), plus its outcome.

The DoFn only wires the core (probe, streaming decode, faces, acoustics, step grid) and turns every
failure into a ``VideoOutcome`` on the ``outcomes`` output: one bad video never fails the job.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from emotrace.features.acoustics import warm_up as warm_up_acoustics
from emotrace.features.faces import detector_for
from emotrace.features.windows import WindowStats, iter_step_windows
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.limits import check_limits, check_scheme
from emotrace.media.malloc import bound_heap_growth
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import MediaInfo, StepWindow, VideoOutcome, VideoRef
from emotrace.transforms.faults import maybe_fail
from emotrace.transforms.io import localized
from emotrace.transforms.tracks import TRACKS, read_weights

NAMESPACE = "emotrace"
OUTCOMES = "outcomes"
log = logging.getLogger("emotrace.progress")


class _Progress:
    """Videos done and media seconds in this worker process, for progress lines on long runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.videos = 0
        self.media_s = 0.0

    def add(self, media_s: float) -> tuple[int, float]:
        with self._lock:
            self.videos += 1
            self.media_s += media_s
            return self.videos, self.media_s


_PROGRESS = _Progress()


class ExtractWindows(beam.DoFn):
    """VideoRef -> StepWindow (main output) and exactly one VideoOutcome (``outcomes`` output)."""

    def __init__(self, cfg: AnalyzeConfig, crop_px: int, total_videos: int | None = None) -> None:
        self._cfg = cfg
        self._crop_px = crop_px
        self._total = total_videos
        self._ok = Metrics.counter(NAMESPACE, "videos_ok")
        self._failed = Metrics.counter(NAMESPACE, "videos_failed")
        self._media_s = Metrics.counter(NAMESPACE, "media_milliseconds")
        self._face_steps = Metrics.counter(NAMESPACE, "face_steps")

    def setup(self) -> None:
        bound_heap_growth()  # peak memory must not grow with video length (issue 6; media/malloc.py)
        self._detector = detector_for(self._cfg.faces, read_weights(self._cfg.faces.weights_uri))
        warm_up_acoustics()  # numba compiles once per worker, not once per video

    def process(self, ref: VideoRef) -> Iterator[StepWindow | beam.pvalue.TaggedOutput]:
        maybe_fail(ref.post_id)  # test-only fault injection, outside the per-video error handling
        stats = WindowStats()
        info: MediaInfo | None = None
        try:
            check_scheme(ref.video_uri, self._cfg.decode)
            with localized(ref.video_uri) as path:
                info = probe(path, self._cfg.decode.format_whitelist)
                check_limits(info, self._cfg.decode)
                frames = iter_frames(path, info, self._cfg.decode)
                audio = iter_audio(path, info, self._cfg.decode)
                yield from iter_step_windows(
                    ref, info, frames, audio, self._detector, self._cfg, self._crop_px, stats
                )
        except EmotraceError as err:  # bad input (failed) or outside the run's limits (skipped)
            yield self._outcome(ref, err.status, err.code, err.message, info, stats)
            return
        except Exception as err:  # a bug, not bad input: keep the traceback in the row
            detail = "".join(traceback.format_exception_only(err)).strip()
            where = traceback.extract_tb(err.__traceback__)[-1]
            yield self._outcome(
                ref,
                "failed",
                ErrorCode.INTERNAL_ERROR,
                f"{detail} (at {where.filename}:{where.lineno})",
                info,
                stats,
            )
            return
        self._face_steps.inc(stats.n_face_steps)
        for summary in stats.track_stats.summaries(ref, self._cfg.grid.step_s):
            yield beam.pvalue.TaggedOutput(TRACKS, summary)
        yield self._outcome(ref, "ok", None, None, info, stats)

    def _outcome(
        self,
        ref: VideoRef,
        status: str,
        code: ErrorCode | None,
        message: str | None,
        info: MediaInfo | None,
        stats: WindowStats | None = None,
    ) -> beam.pvalue.TaggedOutput:
        (self._ok if status == "ok" else self._failed).inc()
        media_s = info.duration_s if info else 0.0
        self._media_s.inc(int(media_s * 1000))
        done, total_s = _PROGRESS.add(media_s)
        of = f"/{self._total}" if self._total else ""
        log.info(
            "videos done %d%s (%.1f media s in this worker): %s %s", done, of, total_s, ref.post_id, status
        )
        n_tracks = stats.n_tracks if stats else 0
        partial = bool(stats and stats.partial)
        if status == "ok" and stats and stats.partial:
            message = stats.partial  # an ok row keeps a null error_code; the message says what is missing
        outcome = VideoOutcome(
            ref, status, code.value if code else None, message, info, n_tracks=n_tracks, partial=partial
        )
        return beam.pvalue.TaggedOutput(OUTCOMES, outcome)
