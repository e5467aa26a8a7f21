"""The step grid when decoding ends early or yields nothing (pure: no decoder, no detector)."""

import numpy as np
import pytest

from emotrace.features.blend import writes
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.schemas.config import AnalyzeConfig, GridConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import AudioChunk, MediaInfo, VideoRef

REF = VideoRef("/x.mp4", "x")


class NoFaces:
    def detect(self, frames):
        return [[] for _ in frames]


def _audio(seconds: float):
    n = int(seconds * 16_000)
    t = np.arange(n) / 16_000
    yield AudioChunk(0.0, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16_000)


def test_nothing_decodable_is_empty_media():
    info = MediaInfo(4.0, True, True, 64, 64)
    with pytest.raises(EmotraceError) as err:
        list(iter_step_windows(StepGrid(REF, info, NoFaces(), AnalyzeConfig(), 64), iter([]), iter([])))
    assert err.value.code == ErrorCode.EMPTY_MEDIA


def test_audio_that_stops_early_gives_a_partial_trace_up_to_where_it_stops():
    info = MediaInfo(8.0, False, True)
    grid = StepGrid(REF, info, NoFaces(), AnalyzeConfig(), 64)
    windows, stats = list(iter_step_windows(grid, iter([]), _audio(3.0))), grid.stats
    valid_steps = sorted(w.start_step + i for w in windows for i in np.flatnonzero(w.valid))
    assert valid_steps == list(range(15))  # 3.0 s of audio at 0.2 s steps, not 8.0 s of invented steps
    assert stats.partial is not None and "3.0 s of 8.0 s" in stats.partial


def test_full_coverage_is_not_partial():
    grid = StepGrid(REF, MediaInfo(3.0, False, True), NoFaces(), AnalyzeConfig(), 64)
    windows, stats = list(iter_step_windows(grid, iter([]), _audio(3.0))), grid.stats
    assert stats.partial is None and sum(int(w.valid.sum()) for w in windows) == 15


def _audio_chunks(seconds: float, chunk_s: float = 2.0):
    """A soundtrack in chunks, as the decoder streams it."""
    for i, chunk in enumerate(np.array_split(next(_audio(seconds)).samples, int(np.ceil(seconds / chunk_s)))):
        yield AudioChunk(i * chunk_s, chunk, 16_000)


@pytest.mark.parametrize("hop", [None, 5])
def test_a_soundtrack_without_a_container_duration_keeps_every_step(hop):
    # No duration from the container (some raw audio streams): the length is known only when the
    # stream ends, so no window may be cut as if its steps were past the end of the media before that.
    # (Before issue 14's change to the window loop, the windows cut mid-stream dropped 50 of 60 steps.)
    cfg = AnalyzeConfig(grid=GridConfig(hop_steps=hop))
    grid = StepGrid(REF, MediaInfo(0.0, False, True), NoFaces(), cfg, 64)
    windows, stats = list(iter_step_windows(grid, iter([]), _audio_chunks(12.0))), grid.stats
    written = sorted(w.start_step + int(i) for w in windows for i in np.flatnonzero(writes(w, cfg.grid.hop)))
    assert written == list(range(60)) and stats.n_steps == 60 and stats.partial is None
