"""StepGrid on its own (issue 17): windows come out only once both streams have passed every step they
show, and a failure inside a stage gets that stage's code (pure: synthetic chunks, stub detectors)."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.schemas.config import AnalyzeConfig, GridConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode, Status
from emotrace.schemas.records import AudioChunk, FrameChunk, MediaInfo, VideoRef

REF = VideoRef("/x.mp4", "x")
CFG = AnalyzeConfig(grid=GridConfig(hop_steps=5))  # 0.2 s steps, 25-step windows every 5 steps


class NoFaces:
    def detect(self, frames):
        return [[] for _ in frames]


class Broken:
    def detect(self, frames):
        raise RuntimeError("onnxruntime: bad input shape")


def _frames(t0: float, t1: float) -> FrameChunk:
    t = np.arange(t0, t1, 0.2)
    return FrameChunk(t_s=t, frames=np.zeros((len(t), 32, 32, 3), np.uint8))


def _audio(t0: float, t1: float) -> AudioChunk:
    n = round((t1 - t0) * 16_000)
    x = 0.2 * np.sin(2 * np.pi * 180 * np.arange(n) / 16_000)
    return AudioChunk(t0, x.astype(np.float32), 16_000)


def test_a_window_waits_for_the_stream_that_is_behind():
    grid = StepGrid(REF, MediaInfo(20.0, True, True, 32, 32), NoFaces(), CFG, 16)
    grid.add_frames(_frames(0.0, 10.0))  # video covers 50 steps, audio none: nothing may come out
    assert list(grid.ready()) == [] and grid.video_front == 49 and grid.audio_front == 0
    grid.add_audio(_audio(0.0, 6.0))  # audio now covers ~30 steps: the window over steps 0-24 is complete
    out = list(grid.ready())
    assert [w.start_step for w in out] == [0] and out[0].audio_mask.all()
    assert grid.audio_front < 35  # and not the window at step 5 (its last step, 29, needs more audio)
    grid.add_audio(_audio(6.0, 10.0))
    assert [w.start_step for w in grid.ready()] == [5, 10, 15, 20]
    grid.end_video()
    grid.end_audio()
    rest = list(grid.finish())
    assert rest and all(w.start_step > 20 for w in rest)
    # The container said 20 s; 10 s came: the trace stops where the media stops, flagged partial.
    assert grid.stats.n_steps == 50 and grid.stats.partial == "decoded 10.0 s of 20.0 s"


@pytest.mark.parametrize(
    ("detector", "audio", "code", "words"),
    [
        (Broken(), None, ErrorCode.FACE_STAGE_FAILED, "the face stage raised RuntimeError: onnxruntime"),
        (NoFaces(), "broken", ErrorCode.AUDIO_STAGE_FAILED, "the audio stage raised"),
    ],
)
def test_an_exception_inside_a_stage_gets_that_stages_code(detector, audio, code, words):
    info = MediaInfo(4.0, True, True, 32, 32)
    grid = StepGrid(REF, info, detector, CFG, 16)
    sound = (
        iter([_audio(0.0, 4.0)._replace(samples=np.full((3, 3), np.nan, np.float32))]) if audio else iter([])
    )
    with pytest.raises(EmotraceError) as err:
        list(iter_step_windows(grid, iter([_frames(0.0, 4.0)]), sound))
    assert err.value.code == code and err.value.status == Status.FAILED
    assert words in err.value.message and ".py:" in err.value.message  # where it came from


def test_a_bad_span_is_refused_before_any_work():
    from emotrace.features.segments import Span

    with pytest.raises(ValueError, match="hop grid"):
        StepGrid(REF, MediaInfo(10.0, False, True), NoFaces(), CFG, 16, Span(0, 3, None))
