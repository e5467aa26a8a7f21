"""Long videos cut into segments and stitched back (features/segments.py, issue 6).

The property under test: over random durations, segment lengths, window hops and faces coming and
going, running a video as segments (each decoding its own preroll and its windows' context) and
stitching the tracks gives exactly the trace of the uncut video: every step once, no gap and no
duplicate at the cuts, the same track ids, and the same windows, context included (so the cross-fade of
overlapping windows, features/blend.py, gives every step the same prediction). Pure: fake decoders and a
fake detector (the real decoder's seeking is tested in tests/pipelines/test_segments_pipeline.py).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emotrace.features.blend import writes
from emotrace.features.segments import SegmentOwners, Span, plan_segments, stitch_tracks, stitched_sums
from emotrace.features.step_grid import WHOLE_VIDEO, StepGrid, iter_step_windows
from emotrace.schemas.config import AnalyzeConfig, FaceConfig, GridConfig, SegmentConfig
from emotrace.schemas.records import AudioChunk, FaceDetection, FrameChunk, MediaInfo, SegmentTracks, VideoRef

REF = VideoRef("/x.mp4", "x")
SR = 16_000
H, W = 120, 160


def _cfg(segment_s: float, preroll_s: float = 2.0, hop: int | None = None) -> AnalyzeConfig:
    # Full-frame detection on every frame: the fake detector below answers whole frames only.
    faces = dataclasses.replace(FaceConfig(), detect_every_frames=1)
    return dataclasses.replace(
        AnalyzeConfig(),
        grid=GridConfig(hop_steps=hop),
        faces=faces,
        segments=SegmentConfig(segment_s, preroll_s),
    )


# Two faces at fixed places; which of them a frame shows is written into its first pixel (bit 0: the
# left face, bit 1: the right one), so the fake detector answers from the pixels like a real one.
LEFT = (20.0, 20.0, 70.0, 80.0)
RIGHT = (90.0, 25.0, 140.0, 85.0)


def _landmarks(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    rel = [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)]
    return np.array([(x0 + a * w, y0 + b * h) for a, b in rel], np.float32)


class PixelFaces:
    def detect(self, frames):
        out = []
        for f in frames:
            code = int(f[0, 0, 0])
            dets = []
            for bit, box in ((1, LEFT), (2, RIGHT)):
                if code & bit:
                    dets.append(FaceDetection(np.array(box, np.float32), 0.99, _landmarks(box)))
            out.append(dets)
        return out


def _frames(n_steps: int, first: int, right_on: tuple[int, int], left_off: tuple[int, int]):
    """Frames at 5 fps (one per 0.2 s step) from step ``first``, the faces drawn as pixel codes."""
    for s0 in range(first, n_steps, 16):
        steps = np.arange(s0, min(n_steps, s0 + 16))
        frames = np.zeros((len(steps), H, W, 3), np.uint8)
        for i, s in enumerate(steps):
            left = not (left_off[0] <= s < left_off[1])
            right = right_on[0] <= s < right_on[1]
            frames[i, 0, 0, 0] = int(left) | (2 * int(right))
            # Texture that differs per face so the appearance cue has something to look at.
            frames[i, 20:80, 20:70] = 90 + (s % 7)
            frames[i, 25:85, 90:140] = 170 - (s % 5)
            frames[i, 0, 0, 0] = int(left) | (2 * int(right))
        yield FrameChunk(t_s=steps * 0.2, frames=frames)


def _audio(n_steps: int, first: int):
    """A deterministic voice-like signal sampled from step ``first`` on, in 1.3 s chunks, with a 1.2 s
    pause (-34 dB) after every 3.6 s of voice or so: the noise floor under ``speech_prob`` is low after
    a pause and climbs during the voice, so a segment must see what the uncut video saw before it."""
    t = np.arange(first * SR // 5, n_steps * SR // 5) / SR
    level = np.where((np.floor(t / 0.6) * 7) % 11 < 2, 0.02, 1.0)
    x = level * (0.2 + 0.15 * np.sin(2 * np.pi * 0.7 * t)) * np.sin(2 * np.pi * (180 + 40 * np.sin(t)) * t)
    x = x.astype(np.float32)
    chunk = int(1.3 * SR)
    for i in range(0, len(x), chunk):
        yield AudioChunk(first * 0.2 + i / SR, x[i : i + chunk], SR)


def _run(cfg, n_steps, span, right_on, left_off):
    first = span[0] if span else 0
    info = MediaInfo(n_steps * 0.2, True, True, W, H)
    grid = StepGrid(REF, info, PixelFaces(), cfg, 64, Span(*span) if span else WHOLE_VIDEO)
    windows = list(
        iter_step_windows(grid, _frames(n_steps, first, right_on, left_off), _audio(n_steps, first))
    )
    return windows, grid.stats


def _rows(windows, hop, track_of=lambda step, t: t):
    """{(step, track id after mapping)} -> (face_mask, audio row) for every step written (each valid
    step once, by the window starting in its hop: ``features.blend.writes``)."""
    out = {}
    for w in windows:
        for i in np.flatnonzero(writes(w, hop)):
            step = w.start_step + int(i)
            track = None if w.track_id is None else track_of(step, w.track_id)
            key = (step, track)
            assert key not in out, f"step {step} of track {track} written twice"
            out[key] = (bool(w.face_mask[i]), w.audio[i].copy(), bool(w.audio_mask[i]))
    return out


def _windows(windows, lane_of=lambda w: w.track_id):
    """{(start step, track id after mapping)} -> the window's valid steps and whole input (its context
    included: what the model sees, hence what the blend of its prediction depends on)."""
    out = {}
    for w in windows:
        key = (w.start_step, lane_of(w))
        assert key not in out or not (out[key][0] & w.valid).any(), f"window {key}: a step valid twice"
        valid = w.valid if key not in out else out[key][0] | w.valid
        out[key] = (
            valid,
            w.face_mask.copy(),
            np.where(w.audio_mask[:, None], w.audio, 0.0),
            w.audio_mask.copy(),
            np.stack([w.speech_prob, np.full(len(w.valid), np.nan) if w.speaking is None else w.speaking]),
        )
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_steps=st.integers(min_value=30, max_value=260),
    segment_windows=st.integers(min_value=1, max_value=4),
    preroll_s=st.sampled_from([1.0, 2.0, 3.0]),
    hop=st.sampled_from([25, 5, 10]),
    right=st.tuples(st.integers(0, 260), st.integers(5, 120)),
    gap=st.tuples(st.integers(0, 260), st.integers(0, 12)),
)
def test_segments_stitch_into_the_uncut_trace(n_steps, segment_windows, preroll_s, hop, right, gap):
    cfg = _cfg(segment_windows * 5.0, preroll_s, hop)  # a window is 25 steps = 5 s
    right_on = (right[0], right[0] + right[1])
    left_off = (gap[0], gap[0] + gap[1])  # the left face hides for a while (a short gap keeps its track)
    whole, _ = _run(cfg, n_steps, None, right_on, left_off)
    expected = _rows(whole, hop)

    spans = plan_segments(n_steps, cfg)
    assert spans[0][:2] == (0, 0) and spans[-1][2] is None
    assert all(start % hop == 0 for _, start, _ in spans)
    parts, got_windows = [], []
    for k, span in enumerate(spans):
        windows, stats = _run(cfg, n_steps, span, right_on, left_off)
        got_windows.append(windows)
        parts.append(
            SegmentTracks(REF, k, len(spans), span[1], stats.track_stats.sums(), stats.head, stats.tail)
        )
    mapping = stitch_tracks(parts)
    owner = SegmentOwners(parts)
    got: dict = {}
    for windows in got_windows:
        for key, value in _rows(windows, hop, lambda step, t: mapping[(owner(step), t)]).items():
            assert key not in got, f"step {key[0]} written by two segments"
            got[key] = value

    # Every step exactly once, the same lanes and track ids as the uncut video.
    assert sorted(got, key=str) == sorted(expected, key=str)
    steps = sorted({s for s, _ in got})
    assert steps == list(range(n_steps))
    for key, (face, audio, has_audio) in expected.items():
        g_face, g_audio, g_has_audio = got[key]
        assert (g_face, g_has_audio) == (face, has_audio), key
        # After the preroll the descriptors have their full context again: the same to float noise.
        np.testing.assert_allclose(g_audio, audio, rtol=1e-3, atol=1e-3, err_msg=str(key))
    _assert_same_windows(whole, got_windows, mapping)
    # Stitched track sums add up to the uncut video's.
    sums = stitched_sums(parts, mapping)
    assert sum(t.n_steps for t in sums.values()) == sum(1 for _, t in expected if t is not None)


def _assert_same_windows(whole, segments, mapping):
    """Every window of every segment is the uncut video's window at the same start, for the same lane:
    the same faces and soundtrack over all its steps, the context on the other side of a cut included;
    and the segments' windows together make every step valid exactly where the uncut window does."""
    expected = _windows(whole)
    union: dict = {}
    for k, windows in enumerate(segments):
        lane = lambda w, k=k: None if w.track_id is None else mapping[(k, w.track_id)]  # noqa: E731
        for key, (valid, face, audio, has_audio, speech) in _windows(windows, lane).items():
            assert key in expected, f"segment {k} cut a window {key} the uncut video does not have"
            e_valid, e_face, e_audio, e_has_audio, e_speech = expected[key]
            assert not (valid & ~e_valid).any(), key
            np.testing.assert_array_equal(face, e_face, err_msg=f"segment {k}, window {key}: faces")
            np.testing.assert_array_equal(has_audio, e_has_audio, err_msg=f"segment {k}, window {key}")
            np.testing.assert_allclose(audio, e_audio, rtol=1e-3, atol=1e-3, err_msg=f"segment {k}, {key}")
            # speech_prob and speaking (row 0, row 1) bit for bit: the preroll covers their look-back.
            np.testing.assert_array_equal(speech, e_speech, err_msg=f"segment {k}, {key}: speech, speaking")
            union[key] = union.get(key, np.zeros_like(valid)) | valid
    assert sorted(union, key=str) == sorted(expected, key=str)
    for key, valid in union.items():
        np.testing.assert_array_equal(valid, expected[key][0], err_msg=str(key))


def test_plan_cuts_on_whole_windows_and_keeps_a_short_tail_with_its_neighbour():
    cfg = _cfg(60.0)
    assert plan_segments(300, cfg) == [(0, 0, None)]  # exactly one segment long: not cut
    assert plan_segments(0, cfg) == [(0, 0, None)]  # unknown length: not cut
    spans = plan_segments(18_000, cfg)  # one hour
    assert len(spans) == 60 and all(start % 25 == 0 for _, start, _ in spans)
    # Each decodes 14 steps before its first window: the noise floor's 10-step (2 s) look-back under
    # speech_prob, the speaking evidence's 3 steps before the window, and the first decoded step, whose
    # audio descriptors lack the context before it (more than the tracker's 10 + 1).
    assert spans[1] == (286, 300, 600) and spans[-1] == (17_686, 17_700, None)
    # 89 s: a 29 s remainder is less than half a segment -> one segment; 91 s -> two.
    assert len(plan_segments(445, cfg)) == 1 and len(plan_segments(455, cfg)) == 2
    assert plan_segments(18_000, _cfg(0.0)) == [(0, 0, None)]  # segmenting off


def test_a_known_worker_count_caps_the_segments_and_spreads_the_video_evenly():
    cfg = dataclasses.replace(_cfg(60.0), segments=SegmentConfig(60.0, 2.0, workers=2))
    spans = plan_segments(3000, cfg)  # 10 minutes on 2 workers: two halves, not ten 60 s pieces
    assert [(start, end) for _, start, end in spans] == [(0, 1500), (1500, None)]
    hour = plan_segments(18_000, dataclasses.replace(cfg, segments=SegmentConfig(60.0, 2.0, workers=3)))
    assert [start for _, start, _ in hour] == [0, 6000, 12_000]
    # Never more segments than 60 s pieces, never a cut on one worker, never an empty last segment.
    assert len(plan_segments(455, cfg)) == 2 and len(plan_segments(445, cfg)) == 1
    one = dataclasses.replace(cfg, segments=SegmentConfig(60.0, 2.0, workers=1))
    assert plan_segments(18_000, one) == [(0, 0, None)]
    for n_steps in range(301, 5000, 37):
        for workers in (2, 3, 7):
            many = dataclasses.replace(cfg, segments=SegmentConfig(60.0, 2.0, workers=workers))
            spans = plan_segments(n_steps, many)
            assert len(spans) <= workers and all(start < n_steps for _, start, _ in spans)
            assert all(start % 25 == 0 for _, start, _ in spans)
            assert all(a.end == b.start for a, b in itertools.pairwise(spans))


def test_segment_s_is_rounded_up_to_whole_hops():
    assert SegmentConfig(61.0).segment_steps(AnalyzeConfig().grid) == 325
    assert SegmentConfig(0.5).segment_steps(AnalyzeConfig().grid) == 25
    # Overlapping windows: cuts only need the hop grid (a window every 5 steps).
    assert SegmentConfig(61.0).segment_steps(GridConfig(hop_steps=5)) == 305


def test_two_faces_side_by_side_are_not_stitched_into_one():
    box_a, box_b = (0.1, 0.1, 0.3, 0.4), (0.6, 0.1, 0.8, 0.4)
    seg0 = SegmentTracks(REF, 0, 2, 0, {0: _sums(0, 24)}, {}, {s: {0: box_a} for s in range(15, 25)})
    # Segment 1 saw a different face in its preroll (where segment 0's face was not): a new track.
    seg1 = SegmentTracks(REF, 1, 2, 25, {0: _sums(25, 40)}, {s: {0: box_b} for s in range(15, 25)}, {})
    assert stitch_tracks([seg0, seg1]) == {(0, 0): 0, (1, 0): 1}
    seg1_same = SegmentTracks(REF, 1, 2, 25, {3: _sums(25, 40)}, {s: {3: box_a} for s in range(15, 25)}, {})
    assert stitch_tracks([seg0, seg1_same]) == {(0, 0): 0, (1, 3): 0}


def _sums(first: int, last: int):
    from emotrace.schemas.records import TrackSums

    return TrackSums(first, last, last - first + 1, 0.9 * (last - first + 1), 0.1 * (last - first + 1))


def test_bad_spans_are_refused():
    with pytest.raises(ValueError, match="hop grid"):
        StepGrid(REF, MediaInfo(10.0, False, True), None, _cfg(5.0), 64, Span(0, 10, None))


def test_a_later_segment_past_the_end_of_a_truncated_file_writes_nothing_and_says_so():
    info = MediaInfo(30.0, True, True, W, H)  # the container says 30 s; the data stopped earlier
    grid = StepGrid(REF, info, PixelFaces(), _cfg(5.0), 64, Span(40, 50, 75))
    out = list(iter_step_windows(grid, iter([]), iter([])))
    assert out == [] and grid.stats.partial == "nothing decoded after 10.0 s of 30.0 s"
