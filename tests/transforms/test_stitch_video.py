"""One video's window predictions -> blended, stitched trace rows (transforms/tracks.stitch_video)."""

from __future__ import annotations

import numpy as np

from emotrace.features.blend import window_weights, without_inputs
from emotrace.schemas.config import GridConfig
from emotrace.schemas.keys import key_of
from emotrace.schemas.records import (
    PartitionRow,
    SegmentTracks,
    StepsWritten,
    StepWindow,
    TraceStep,
    TrackSummary,
    TrackSums,
    VideoRef,
    WindowPrediction,
)
from emotrace.transforms.tracks import stitch_video

REF = VideoRef("/v/long.mp4", "long", "u1", "2026-11-30T10:00:00Z")
GRID = GridConfig(hop_steps=5)
W = GRID.window_steps
BOX = (0.3, 0.2, 0.6, 0.7)


def _pred(start: int, local_track: int, owned: range, value: float) -> WindowPrediction:
    """A window of one segment: its face (local id ``local_track``) on every step, valid on the steps
    the segment owns; the model says ``value + step / 100`` for arousal everywhere in it."""
    steps = np.arange(start, start + W)
    valid = np.isin(steps, owned)
    window = StepWindow(
        REF, local_track, start, 0.2, np.zeros((W, 8, 8, 3), np.uint8), np.ones(W, bool),
        np.zeros((W, 3), np.float32), np.ones(W, bool), valid, np.full(W, 0.5, np.float32),
        np.full(W, 0.9, np.float32), np.tile(np.array(BOX, np.float32), (W, 1)),
    )  # fmt: skip
    arousal = (value + steps / 100).astype(np.float32)
    attention = np.full((W, 2, 2), 0.5, np.float32)
    return without_inputs(WindowPrediction(window, arousal, -arousal, attention, "m1"))


def _segments() -> list[SegmentTracks]:
    """Two segments of 50 steps; the one face is local track 0 in the first, 3 in the second, and both
    trackers saw it at the same place on the steps before the cut."""
    seen = {s: {0: BOX} for s in range(40, 50)}
    first = SegmentTracks(REF, 0, 2, 0, {0: TrackSums(0, 49, 50, 45.0, 5.0)}, {}, seen)
    second = SegmentTracks(
        REF, 1, 2, 50, {3: TrackSums(50, 99, 50, 45.0, 5.0)}, {s: {3: BOX} for s in seen}, {}
    )
    return [first, second]


def test_rows_are_blended_written_once_and_stitched():
    # Segment 0 owns steps 0-49 and cuts every window over them (starts 0..45); segment 1 owns 50-99
    # (starts 30..95). Segment 0's windows say 0.1 more than segment 1's: the windows over the cut
    # that both cut must not mix.
    preds = [_pred(s, 0, range(0, 50), 0.1) for s in range(0, 50, 5)]
    preds += [_pred(s, 3, range(50, 100), 0.0) for s in range(30, 100, 5)]
    out = list(stitch_video((key_of(REF), {"windows": preds, "segments": _segments()}), GRID, "r1", "h1"))
    rows = [o for o in out if isinstance(o, PartitionRow)]
    steps = [o for o in out if isinstance(o, StepsWritten)]
    tracks = [o for o in out if isinstance(o, TrackSummary)]
    assert len(rows) + len(steps) + len(tracks) == len(out)  # one output, every element one of three kinds
    assert all(isinstance(r, TraceStep) for _, r in rows)  # typed until the writer
    by_step = {round(r.t_s / 0.2): r.as_row() for _, r in rows}
    assert sorted(by_step) == list(range(100)) and len(rows) == 100  # every step once
    assert steps == [StepsWritten(key_of(REF), 100)]
    assert {r.track_id for _, r in rows} == {0} and all(r.is_primary for _, r in rows)
    assert len(tracks) == 1 and tracks[0].n_steps == 100
    # Every window gives step s the same arousal (value + s / 100), so the blend is that exactly, and
    # each side of the cut keeps its own segment's value.
    for s, r in by_step.items():
        assert abs(r["arousal"] - ((0.1 if s < 50 else 0.0) + s / 100)) < 1e-6, s
        assert r["valence"] == -r["arousal"] and r["attn_face_arousal"] == 0.5
        assert (r["face_score"], r["speech_prob"], r["post_id"], r["run_id"]) == (
            np.float32(0.9), np.float32(0.5), "long", "r1"
        )  # fmt: skip


def test_a_step_is_the_weighted_mean_of_the_windows_over_it():
    # Windows that disagree: window k says k everywhere. Step 47 lies in the windows starting at
    # 25..45 (k = 5..9), at positions 22, 17, 12, 7, 2.
    preds = []
    for k, s in enumerate(range(0, 100, 5)):
        p = _pred(s, 0, range(100), 0.0)
        preds.append(p._replace(arousal=np.full(W, k, np.float32)))
    out = stitch_video((key_of(REF), {"windows": preds, "segments": _segments()[:1]}), GRID, "r", "h")
    by_step = {round(o.row.t_s / 0.2): o.row.as_row() for o in out if isinstance(o, PartitionRow)}
    w = window_weights(W)
    expected = sum(w[47 - 5 * k] * k for k in range(5, 10)) / sum(w[47 - 5 * k] for k in range(5, 10))
    assert abs(by_step[47]["arousal"] - expected) < 1e-5
    assert 6.5 < by_step[47]["arousal"] < 7.5  # mostly the window with step 47 near its middle (k = 7)
