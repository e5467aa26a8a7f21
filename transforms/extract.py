"""Decode one video and turn it into batches of model windows (``WindowBatch``), plus its outcome.

The DoFn only wires the core (probe, streaming decode, faces, acoustics, step grid) and turns every
failure into a ``VideoOutcome``: one bad video never fails the job. Every kind of element leaves on the
one output and is split by type downstream (``transforms/union.py``).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from emotrace.features.acoustics import warm_up as warm_up_acoustics
from emotrace.features.faces import FaceDetector, detector_for
from emotrace.features.segments import Span, plan_segments
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.features.windows import WindowStats
from emotrace.media.decode import open_streams
from emotrace.media.limits import check_limits, check_scheme
from emotrace.media.probe_worker import ProbeWorker
from emotrace.schemas.config import AnalyzeConfig, FaceConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode, Status
from emotrace.schemas.records import (
    MediaInfo,
    SegmentTracks,
    StepWindow,
    VideoOutcome,
    VideoRef,
    VideoSegment,
    WindowBatch,
)
from emotrace.transforms.faults import FaultPlan
from emotrace.transforms.io import localized
from emotrace.transforms.tracks import read_weights
from emotrace.transforms.worker import configure_worker, settle_worker

NAMESPACE = "emotrace"
# What ExtractWindows yields, each kind split off downstream by type: a long video's segments
# (VideoSegment) go to another ExtractWindows after a Reshuffle.
Extracted = WindowBatch | VideoOutcome | SegmentTracks | VideoSegment
log = logging.getLogger("emotrace.progress")


class _Progress:
    """Videos done and media seconds in this worker process, for progress lines on long runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.videos = 0
        self.media_s = 0.0

    def add(self, media_s: float, videos: int = 1) -> tuple[int, float]:
        with self._lock:
            self.videos += videos
            self.media_s += media_s
            return self.videos, self.media_s


_PROGRESS = _Progress()
_DETECTORS: dict[FaceConfig, FaceDetector] = {}
_DETECTORS_LOCK = threading.Lock()


def shared_detector(cfg: FaceConfig) -> FaceDetector:
    """One detector per face configuration per worker process (a detector serves several threads:
    ``features.faces``). Runners that set a DoFn up per bundle (Beam's Dask runner: per partition) or
    run several instances per process then load the weights once, not each time."""
    with _DETECTORS_LOCK:
        if cfg not in _DETECTORS:
            _DETECTORS[cfg] = detector_for(cfg, read_weights(cfg.weights_uri))
        return _DETECTORS[cfg]


_NO_INFO = MediaInfo(0.0, False, False)  # a segment record for a video that was never probed


def batched(windows: Iterable[StepWindow], size: int) -> Iterator[WindowBatch]:
    """Consecutive windows in batches of ``size`` (the last one shorter), as they are cut: at most
    ``size`` windows are held. When cutting fails midway (a truncated file, a limit passed while
    decoding), the windows already cut still go out before the error does: their steps are written and
    the row says ``partial``."""
    batch: list[StepWindow] = []
    try:
        for window in windows:
            batch.append(window)
            if len(batch) == size:
                yield WindowBatch(tuple(batch))
                batch = []
    except Exception:
        if batch:
            yield WindowBatch(tuple(batch))
        raise
    if batch:
        yield WindowBatch(tuple(batch))


def _bug(err: Exception) -> str:
    """A bug, not bad input: the message keeps where it happened."""
    detail = "".join(traceback.format_exception_only(err)).strip()
    where = traceback.extract_tb(err.__traceback__)[-1]
    return f"{detail} (at {where.filename}:{where.lineno})"


class ExtractWindows(beam.DoFn):
    """VideoRef or VideoSegment -> WindowBatch (up to ``batch_size`` windows of one segment), one
    VideoOutcome per segment, one SegmentTracks per segment that started decoding.

    A ``VideoRef`` is probed and planned (``features.segments.plan_segments``). A short video is one
    segment, processed here on the file already at hand; a long video's segments all leave as
    ``VideoSegment``s, to be spread over workers and come back to this DoFn (each opens the file itself:
    a remote file is copied once per segment).
    """

    def __init__(
        self,
        cfg: AnalyzeConfig,
        crop_px: int,
        batch_size: int,
        total: Callable[[], int | None] | None = None,
        faults: FaultPlan | None = None,  # tests only (transforms/faults.py); None costs nothing
    ) -> None:
        self._cfg = cfg
        self._crop_px = crop_px
        self._batch_size = batch_size
        self._total = total  # the run's number of inputs, once known (progress lines); None: unknown
        self._faults = faults
        self._ok = Metrics.counter(NAMESPACE, "videos_ok")
        self._failed = Metrics.counter(NAMESPACE, "videos_failed")
        self._segments = Metrics.counter(NAMESPACE, "segments")
        self._media_s = Metrics.counter(NAMESPACE, "media_milliseconds")
        self._face_steps = Metrics.counter(NAMESPACE, "face_steps")

    def setup(self) -> None:
        configure_worker()  # process-wide settings, once (transforms/worker.py)
        # Probes in a killable child (a blocking read cannot hang the worker), started at the first
        # probe: the stage that only runs later segments never probes, and must not hold a child.
        self._prober = ProbeWorker()
        self._detector = shared_detector(self._cfg.faces)
        warm_up_acoustics()  # the descriptors' first-call costs once per worker, not in a video
        settle_worker()  # full collections skip what was just loaded (transforms/worker.py)

    def teardown(self) -> None:
        prober = getattr(self, "_prober", None)
        if prober is not None:
            prober.close()

    def process(self, element: VideoRef | VideoSegment) -> Iterator[Extracted]:
        if isinstance(element, VideoSegment):
            yield from self._guarded(element, element.info, lambda: self._localized_segment(element))
            return
        if self._faults is not None:  # tests only: outside the per-video error handling, like a bug
            self._faults.hit(f"video:{element.post_id}")
        whole = VideoSegment(element, _NO_INFO, 0, 1, 0, None)
        yield from self._guarded(whole, None, lambda: self._plan_and_run(element))

    def _plan_and_run(self, ref: VideoRef) -> Iterator[Extracted]:
        decode = self._cfg.decode
        check_scheme(ref.video_uri, decode)
        # One deadline (--timeout) for everything before decoding: the copy of a remote file, the probe.
        started = time.monotonic()
        with localized(ref.video_uri, decode.timeout_s) as path:
            info = self._prober.probe(
                path, decode.format_whitelist, decode.max_pixels, decode.timeout_s, started
            )
            try:
                check_limits(info, self._cfg.decode)
            except EmotraceError as err:  # skipped: the row still says what the file is
                yield self._outcome(
                    VideoSegment(ref, info, 0, 1, 0, None), err.status, err.code, err.message, info
                )
                return
            spans = plan_segments(self._cfg.grid.n_steps(info.duration_s), self._cfg)
            segments = [
                VideoSegment(ref, info, k, len(spans), start, end) for k, (_, start, end) in enumerate(spans)
            ]
            if len(segments) == 1:  # the usual short post: on the file already at hand
                yield from self._segment(segments[0], path)
                return
            # All of a long video's segments leave, the first one too: in batch mode the Reshuffle they
            # go through waits for this whole stage, so a segment kept here would run before the others
            # instead of beside them (measured: a 2-minute video on 2 workers took as long cut as uncut).
            yield from segments

    def _localized_segment(self, seg: VideoSegment) -> Iterator[Extracted]:
        check_scheme(seg.ref.video_uri, self._cfg.decode)
        with localized(seg.ref.video_uri, self._cfg.decode.timeout_s) as path:
            yield from self._segment(seg, path)

    def _guarded(
        self,
        seg: VideoSegment,
        info: MediaInfo | None,
        run: Callable[[], Iterator[Extracted]],
    ) -> Iterator[Extracted]:
        """``run()``'s outputs; an error before decoding started becomes this segment's outcome (errors
        while decoding are handled in ``_segment``, which also knows the segment's tracks so far)."""
        try:
            yield from run()
        except EmotraceError as err:  # bad input (failed) or outside the run's limits (skipped)
            yield self._outcome(seg, err.status, err.code, err.message, info)
        except Exception as err:  # a bug, not bad input: keep the traceback in the row
            yield self._outcome(seg, Status.FAILED, ErrorCode.INTERNAL_ERROR, _bug(err), info)

    def _segment(self, seg: VideoSegment, path: str) -> Iterator[Extracted]:
        """Windows, tracks and the outcome of one segment of the local file ``path``."""
        span = Span.owning(seg.start_step, seg.end_step, self._cfg)
        grid = StepGrid(seg.ref, seg.info, self._detector, self._cfg, self._crop_px, span)
        stats = grid.stats
        code: ErrorCode | None
        message: str | None
        try:
            start_s = span.first * self._cfg.grid.step_s
            windows = iter_step_windows(grid, *open_streams(path, seg.info, self._cfg.decode, start_s))
            yield from batched(windows, self._batch_size)
        except EmotraceError as err:  # bad input found while decoding
            status, code, message = err.status, err.code, err.message
        except Exception as err:  # a bug, not bad input
            status, code, message = Status.FAILED, ErrorCode.INTERNAL_ERROR, _bug(err)
        else:
            self._face_steps.inc(stats.n_face_steps)
            status, code, message = Status.OK, None, None
        # The tracks seen so far go out even after a failure: the rows written before it name them.
        yield self._tracks(seg, stats)
        yield self._outcome(seg, status, code, message, seg.info, stats)

    def _tracks(self, seg: VideoSegment, stats: WindowStats) -> SegmentTracks:
        return SegmentTracks(
            seg.ref,
            seg.index,
            seg.n_segments,
            seg.start_step,
            stats.track_stats.sums(),
            stats.head,
            stats.tail,
        )

    def _progress(self, seg: VideoSegment, status: str, media_s: float) -> None:
        """One log line per video (or segment), with this worker's count and, once the run's inputs are
        counted (``transforms/inputs.py``), their number."""
        if seg.n_segments > 1:  # a video's segments finish on several workers: count media, not videos
            _, total_s = _PROGRESS.add(media_s, videos=0)
            log.info(
                "segment %d/%d of %s %s (%.1f media s in this worker)",
                seg.index + 1,
                seg.n_segments,
                seg.ref.post_id,
                status,
                total_s,
            )
            return
        done, total_s = _PROGRESS.add(media_s)
        total = self._total() if self._total is not None else None
        of = f" of the run's {total} inputs" if total else ""
        log.info(
            "videos done in this worker %d%s (%.1f media s): %s %s",
            done,
            of,
            total_s,
            seg.ref.post_id,
            status,
        )

    def _outcome(
        self,
        seg: VideoSegment,
        status: str,
        code: ErrorCode | None,
        message: str | None,
        info: MediaInfo | None,
        stats: WindowStats | None = None,
    ) -> VideoOutcome:
        ref = seg.ref
        if seg.n_segments > 1:
            media_s = (stats.n_steps if stats else 0) * self._cfg.grid.step_s
            self._segments.inc()
        else:
            media_s = info.duration_s if info else 0.0
        # One count per video, by its first segment's status (the merged one is known in JoinOutcomes).
        if seg.index == 0:
            (self._ok if status == Status.OK else self._failed).inc()
        self._media_s.inc(int(media_s * 1000))
        self._progress(seg, status, media_s)
        partial = bool(stats and stats.partial)
        if status == Status.OK and stats and stats.partial:
            message = stats.partial  # an ok row keeps a null error_code; the message says what is missing
        return VideoOutcome(
            ref,
            status,
            code.value if code else None,
            message,
            info,
            n_tracks=stats.n_tracks if stats else 0,
            partial=partial,
            segment=seg.index,
            n_segments=seg.n_segments,
        )
