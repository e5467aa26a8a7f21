"""The seam metric (analytics/seams.py): pairs, boundaries, ratios, pooling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emotrace.analytics.seams import Boundaries, SeamStats, lane_pairs, phase_ratios, seam_stats


def rows(values, post="p", track=0, steps=None, valence=None):
    steps = range(len(values)) if steps is None else steps
    valence = values if valence is None else valence
    return [
        {"post_id": post, "track_id": track, "t_s": s * 0.2, "step_s": 0.2, "arousal": a, "valence": v}
        for s, a, v in zip(steps, values, valence, strict=True)
    ]


def test_boundaries_are_where_windows_start_or_end():
    back_to_back = Boundaries(25, 25)
    assert [b for b in range(1, 80) if b in back_to_back] == [25, 50, 75]
    assert 0 not in back_to_back
    every_second = Boundaries(25, 5)
    assert [b for b in range(1, 30) if b in every_second] == [5, 10, 15, 20, 25]
    # A hop that does not divide the window: starts 0, 10, 20, ... and ends 25, 35, ...
    assert [b for b in range(1, 50) if b in Boundaries(25, 10)] == [10, 20, 25, 30, 35, 40, 45]
    assert [b for b in range(1, 30) if b in Boundaries(25, 25, offset=3)] == [28]


def test_a_sawtooth_has_seams_and_a_ramp_has_none():
    t = np.arange(100)
    saw = (t % 25) * 0.01  # rises 0.01 per step, drops 0.24 where a window starts
    stats = seam_stats(lane_pairs(rows(saw)), Boundaries(25, 25))
    assert stats.n_boundary == 3 and stats.n_other == 96
    assert stats.ratio("arousal") == pytest.approx(24.0)
    ramp = seam_stats(lane_pairs(rows(t * 0.01)), Boundaries(25, 25))
    assert ramp.ratio("arousal") == pytest.approx(1.0)
    assert ramp.boundary_mean("valence") == pytest.approx(0.01)


def test_pairs_are_consecutive_steps_of_one_lane():
    # A gap (steps 10..12 missing) makes no pair; another lane's rows never pair with this one's.
    lane = rows(np.arange(20.0), steps=[*range(10), *range(13, 23)])
    other = rows(np.full(20, 100.0), track=None)
    pairs = lane_pairs(lane + other + rows(np.zeros(5), post="q"))
    n = sum(len(t1) for t1, _ in pairs)
    assert n == 18 + 19 + 4
    (t1, change) = next(p for p in pairs if len(p[0]) == 18)
    assert 10 not in t1 and 13 not in t1 and (change == 1).all()


def test_a_step_where_the_input_changes_kind_is_not_a_seam():
    # The speaking gate takes the voice away at step 25 (a window boundary): the trace jumps there
    # because the model's input changed, wherever the windows are. That pair counts on neither side.
    lane = rows(np.r_[np.zeros(25), np.ones(25)] + np.arange(50) * 0.01)
    for r in lane:
        r["face_present"], r["audio_present"] = True, r["t_s"] < 25 * 0.2 - 1e-9
    stats = seam_stats(lane_pairs(lane), Boundaries(25, 25))
    assert (stats.n_boundary, stats.n_other) == (0, 48)
    assert stats.other_mean("arousal") == pytest.approx(0.01)
    # The same jump without the switch is a seam.
    for r in lane:
        r["audio_present"] = True
    assert seam_stats(lane_pairs(lane), Boundaries(25, 25)).ratio("arousal") > 50


def test_pooled_stats_are_sums_and_ratios_are_nan_without_pairs():
    a = SeamStats(1, 2, (0.3, 0.1), (0.2, 0.4))
    b = SeamStats(2, 3, (0.3, 0.2), (0.3, 0.6))
    pooled = a + b
    assert (pooled.n_boundary, pooled.n_other) == (3, 5)
    assert pooled.ratio("arousal") == pytest.approx((0.6 / 3) / (0.5 / 5))
    assert math.isnan(SeamStats().ratio("valence"))


def test_phase_ratios_put_the_true_boundaries_first():
    saw = (np.arange(200) % 25) * 0.01
    ratios = phase_ratios(lane_pairs(rows(saw)), 25, "arousal")
    assert len(ratios) == 25 and ratios[0] > 10 and (ratios[1:] < 1).all()
