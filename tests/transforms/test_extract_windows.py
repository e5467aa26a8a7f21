"""ExtractWindows on its own (transforms tier, media): the DoFn's contract, called as a runner would.

A short post gives its windows in batches, then its tracks, then one ``ok`` outcome. A long one leaves
as segments; each segment, fed back, gives the windows the uncut video gives for the steps it owns. A
file that cannot be read gives a failed outcome, not an exception.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from emotrace.schemas.config import AnalyzeConfig, GridConfig
from emotrace.schemas.errors import Status
from emotrace.schemas.records import (
    SegmentTracks,
    StepWindow,
    VideoOutcome,
    VideoRef,
    VideoSegment,
    WindowBatch,
)
from emotrace.transforms.extract import ExtractWindows
from emotrace.transforms.inference import default_bundle

pytestmark = pytest.mark.media
PRE = default_bundle().preprocessing
BATCH = 4


def _cfg(segment_s: float = 0.0) -> AnalyzeConfig:
    cfg = AnalyzeConfig()
    return dataclasses.replace(
        cfg,
        grid=GridConfig(step_s=PRE.step_s, window_steps=PRE.window_steps),
        faces=dataclasses.replace(cfg.faces, crop_size_px=PRE.crop_size_px),
        segments=dataclasses.replace(cfg.segments, segment_s=segment_s),
    )


def _run(cfg: AnalyzeConfig, element: VideoRef | VideoSegment) -> list:
    dofn = ExtractWindows(cfg, PRE.crop_size_px, BATCH)
    dofn.setup()
    try:
        return list(dofn.process(element))
    finally:
        dofn.teardown()


def _windows(out: list) -> list[StepWindow]:
    return [w for b in out if isinstance(b, WindowBatch) for w in b.windows]


@pytest.fixture(scope="module")
def talking(sample_posts_dir: Path) -> VideoRef:
    return VideoRef(str(sample_posts_dir / "talking_head.mp4"), "talking_head", "user_a")


@pytest.fixture(scope="module")
def uncut(talking: VideoRef) -> list:
    return _run(_cfg(), talking)


def test_a_short_post_gives_batched_windows_then_tracks_then_one_ok_outcome(uncut):
    kinds = [type(x).__name__ for x in uncut]
    assert kinds[-2:] == ["SegmentTracks", "VideoOutcome"] and set(kinds[:-2]) == {"WindowBatch"}
    assert all(1 <= len(b) <= BATCH for b in uncut[:-2])
    outcome = uncut[-1]
    assert isinstance(outcome, VideoOutcome) and outcome.status == Status.OK and not outcome.partial
    assert outcome.n_tracks >= 1 and outcome.info is not None
    windows = _windows(uncut)
    w, s = PRE.window_steps, PRE.crop_size_px
    assert all(x.faces.shape == (w, s, s, 3) and x.audio.shape[0] == w for x in windows)
    face_lane = [x for x in windows if x.track_id is not None]
    assert face_lane and all(x.faces[x.face_mask].any() for x in face_lane)  # crops where faces are
    # Every step of the video is written once per lane it belongs to: the lanes' valid steps tile the grid.
    n_steps = GridConfig(step_s=PRE.step_s, window_steps=PRE.window_steps).n_steps(outcome.info.duration_s)
    written = np.zeros(n_steps, int)
    for x in windows:
        steps = x.start_step + np.flatnonzero(x.valid)
        written[steps[steps < n_steps]] += 1
    assert (written >= 1).all(), np.flatnonzero(written == 0)


def _owned(seg: VideoSegment, window: StepWindow) -> np.ndarray:
    steps = window.start_step + np.arange(len(window.valid))
    end = seg.end_step if seg.end_step is not None else np.inf
    return window.valid & (steps >= seg.start_step) & (steps < end)


def test_a_long_post_leaves_as_segments_that_give_the_uncut_windows(talking, uncut):
    cfg = _cfg(segment_s=4.0)
    planned = _run(cfg, talking)
    assert planned and all(isinstance(x, VideoSegment) for x in planned), planned
    assert len(planned) >= 2 and [s.index for s in planned] == list(range(len(planned)))
    assert planned[0].start_step == 0 and planned[-1].end_step is None
    assert all(a.end_step == b.start_step for a, b in itertools.pairwise(planned))
    # Segments name tracks locally (stitched later): lanes are matched by window start and face or not.
    whole = {(x.start_step, x.track_id is None): x for x in _windows(uncut)}
    owned_steps = []
    for seg in planned:
        piece = _run(cfg, seg)
        assert isinstance(piece[-2], SegmentTracks) and piece[-1].status == Status.OK
        for y in _windows(piece):
            own = _owned(seg, y)
            x = whole[(y.start_step, y.track_id is None)]
            assert np.array_equal(x.face_mask[own], y.face_mask[own])
            assert np.array_equal(x.audio[own], y.audio[own], equal_nan=True)  # the preroll warms it up
            faced = own & x.face_mask
            if seg.start_step == 0:  # decoded from the same first frame: the very same crops
                assert np.array_equal(x.faces[faced], y.faces[faced])
            # Elsewhere the detector's full-frame schedule restarts at the segment's first frame, and
            # RetinaFace's box moves between its full-frame and ROI passes (features/roi_detect.py):
            # the same face, a few pixels apart.
            if x.face_box is not None and faced.any():
                assert np.abs(x.face_box[faced] - y.face_box[faced]).max() < 0.05
            owned_steps += list(y.start_step + np.flatnonzero(own))
    n_steps = cfg.grid.n_steps(uncut[-1].info.duration_s)
    assert n_steps > cfg.segments.segment_steps(cfg.grid)  # it was cut
    assert sorted(set(owned_steps)) == list(range(n_steps))  # together the segments own every step


def test_an_unreadable_file_is_a_failed_outcome_not_an_exception(tmp_path: Path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"\x00" * 4096)
    out = _run(_cfg(), VideoRef(str(bad), "bad"))
    assert len(out) == 1 and isinstance(out[0], VideoOutcome)
    assert out[0].status == Status.FAILED and out[0].error_code and out[0].error_message
    missing = _run(_cfg(), VideoRef(str(tmp_path / "gone.mp4"), "gone"))
    assert [type(x) for x in missing] == [VideoOutcome] and missing[0].status == Status.FAILED
