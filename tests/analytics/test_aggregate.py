"""Aggregates against values computed by hand on a small known trace (pure tier).

Post p1 (latest run r2), default selection = primary track 1 + the face-less step:
    t_s  step_s  track  arousal  valence  face  audio
    0.0   0.5    None    0.1     -0.2      F     T
    0.5   0.5     1      0.4      0.3      T     T
    1.0   1.0     1      0.2      0.5      T     F      <- a longer step
    (2.0 .. 3.0 missing)
    3.0   0.5     1     -0.3      0.1      T     T
plus a secondary face (track 2, one step at 0.5) and a stale row from the older run r1.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emotrace.analytics.aggregate import (
    post_aggregate,
    primary_track,
    select_lanes,
    user_aggregate,
    weighted_quantile,
)
from emotrace.schemas.tables import POST_AGGREGATES, USER_AGGREGATES


def _row(post, t, step, track, a, v, face, audio, run="r2", user="u"):
    return dict(post_id=post, user_id=user, track_id=track, t_s=t, step_s=step, arousal=a, valence=v,
                face_present=face, audio_present=audio, model_version="m1", run_id=run)  # fmt: skip


P1 = [
    _row("p1", 0.0, 0.5, None, 0.1, -0.2, False, True),
    _row("p1", 0.5, 0.5, 1, 0.4, 0.3, True, True),
    _row("p1", 1.0, 1.0, 1, 0.2, 0.5, True, False),
    _row("p1", 3.0, 0.5, 1, -0.3, 0.1, True, True),
    _row("p1", 0.5, 0.5, 2, 0.9, -0.8, True, True),  # secondary face: 0.5 s against track 1's 2.0 s
    _row("p1", 0.0, 0.5, None, 0.99, 0.99, False, True, run="r1"),  # superseded by run r2
]
P2 = [_row("p2", 0.0, 0.2, None, 0.4, -0.1, False, False)]


def test_post_default_is_primary_track_plus_faceless_steps():
    got = post_aggregate("p1", P1)
    # weights 0.5, 0.5, 1.0, 0.5 -> 2.5 s; face at 2.0 s of them, audio at 1.5 s
    assert got["n_posts"] == 1 and got["user_id"] == "u"
    assert got["seconds_analysed"] == pytest.approx(2.5)
    assert got["face_coverage"] == pytest.approx(0.8)
    assert got["audio_coverage"] == pytest.approx(0.6)
    # arousal: (0.05 + 0.2 + 0.2 - 0.15) / 2.5; sorted -0.3|0.1|0.2|0.4 with cumulative weight .5|1|2|2.5
    assert got["arousal_mean"] == pytest.approx(0.12)
    assert got["arousal_median"] == pytest.approx(0.2)  # first cumulative weight >= 1.25
    assert got["arousal_p10"] == pytest.approx(-0.3)  # >= 0.25
    assert got["arousal_p90"] == pytest.approx(0.4)  # >= 2.25
    # sum w (a - 0.12)^2 = .5*.0004 + .5*.0784 + 1*.0064 + .5*.1764 = .134
    assert got["arousal_std"] == pytest.approx(math.sqrt(0.134 / 2.5))
    # valence: (-0.1 + 0.15 + 0.5 + 0.05) / 2.5; sorted -0.2|0.1|0.3|0.5, cumulative .5|1|1.5|2.5
    assert got["valence_mean"] == pytest.approx(0.24)
    assert (got["valence_median"], got["valence_p10"], got["valence_p90"]) == pytest.approx((0.3, -0.2, 0.5))
    assert got["positive_valence_share"] == pytest.approx(2.0 / 2.5)
    assert (got["peak_arousal"], got["peak_t_s"], got["peak_post_id"]) == pytest.approx((0.4, 0.5, "p1"))
    # adjacent pairs 0.0->0.5 and 0.5->1.0 (1 s in all); 1.0->3.0 is a gap longer than the 1.0 s step
    assert got["arousal_variability"] == pytest.approx((0.3 + 0.2) / 1.0)
    assert got["valence_variability"] == pytest.approx((0.5 + 0.2) / 1.0)
    assert got["source_run_ids"] == "r2" and got["model_version"] == "m1"


def test_post_all_tracks_counts_track_steps_but_wall_clock_coverage():
    got = post_aggregate("p1", P1, all_tracks=True)
    assert got["seconds_analysed"] == pytest.approx(2.5)  # track 2's step is the same half second
    assert got["face_coverage"] == pytest.approx(0.8)
    assert got["arousal_mean"] == pytest.approx((0.3 + 0.5 * 0.9) / 3.0)
    assert (got["peak_arousal"], got["peak_t_s"]) == pytest.approx((0.9, 0.5))
    # lanes: faceless [0.0], track 1 [0.5, 1.0, 3.0], track 2 [0.5]: only 0.5->1.0 on track 1 counts
    assert got["arousal_variability"] == pytest.approx(0.2 / 0.5)
    assert got["valence_variability"] == pytest.approx(0.2 / 0.5)


def test_is_primary_column_overrides_the_longest_track():
    flagged = [{**r, "is_primary": r["track_id"] == 2} for r in P1]
    assert primary_track(P1) == 1 and primary_track(flagged) == 2
    (lane,) = select_lanes(flagged)
    assert [(r["t_s"], r["track_id"]) for r in lane] == [(0.0, None), (0.5, 2)]


def test_user_aggregate_pools_posts_by_time_and_never_pairs_across_posts():
    lanes = [select_lanes(P1), select_lanes(P2)]
    got = user_aggregate("u", lanes)
    assert got["n_posts"] == 2
    assert got["seconds_analysed"] == pytest.approx(2.7)
    assert got["face_coverage"] == pytest.approx(2.0 / 2.7)
    assert got["audio_coverage"] == pytest.approx(1.5 / 2.7)
    assert got["arousal_mean"] == pytest.approx((0.3 + 0.2 * 0.4) / 2.7)
    assert got["peak_post_id"] == "p1" and got["peak_t_s"] == 0.5  # 0.4 ties with p2 at 0.0: earliest post
    assert got["arousal_variability"] == pytest.approx(0.5)  # p2 has one step: no pair, and none with p1


def test_single_step_has_no_variability_and_rows_fit_the_schemas():
    post = post_aggregate("p2", P2)
    assert post["arousal_variability"] is None and post["arousal_std"] == pytest.approx(0.0, abs=1e-12)
    lineage = {"tracks": "primary", "run_id": "a1", "pipeline_version": "0"}
    pa.Table.from_pylist([{**post, **lineage}], schema=POST_AGGREGATES)
    pa.Table.from_pylist([{**user_aggregate("u", [select_lanes(P2)]), **lineage}], schema=USER_AGGREGATES)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1, 1), st.floats(0.01, 2)), min_size=1, max_size=30),
    st.floats(0.0, 1.0),
)
def test_weighted_quantile_is_numpys_inverted_cdf(pairs, q):
    values, weights = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    expected = np.quantile(values, q, weights=weights, method="inverted_cdf")
    assert weighted_quantile(values, weights, q) == pytest.approx(float(expected))


def test_voice_over_rows_count_only_where_the_primary_face_is_not_seen():
    """Issue 18: a voice no visible face speaks has a face-less row beside the face rows. The default
    lane keeps one row per step: the primary face's (face only, not the speaker) where it is seen, the
    voice's face-less row where it is not; nothing counts twice."""
    rows = [
        _row("p", 0.0, 0.2, 0, 0.1, 0.1, True, False),  # primary face, listening
        _row("p", 0.0, 0.2, None, 0.9, -0.9, False, True),  # the voice-over at the same step
        _row("p", 0.2, 0.2, None, 0.5, -0.5, False, True),  # the voice-over, no face seen
        _row("p", 0.2, 0.2, 1, 0.7, 0.7, True, False),  # a secondary face, listening
    ]
    (lane,) = select_lanes(rows)
    assert [(r["t_s"], r["track_id"]) for r in lane] == [(0.0, 0), (0.2, None)]
    got = post_aggregate("p", rows)
    assert got["seconds_analysed"] == pytest.approx(0.4)
    assert got["arousal_mean"] == pytest.approx((0.1 + 0.5) / 2)
