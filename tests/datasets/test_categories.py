"""The one category -> (arousal, valence) table: values from its source, aliases, intensity."""

from __future__ import annotations

import pytest

from emotrace.datasets.categories import CATEGORY_POINTS, NORMAL_INTENSITY_SCALE, canonical, category_point


def test_points_are_the_sources_ratings_rescaled():
    # Warriner et al. (2013): happy V 8.47, A 6.05; sad V 2.10, A 3.49 on 1..9 -> (x - 5) / 4.
    assert category_point("happy") == pytest.approx(((6.05 - 5) / 4, (8.47 - 5) / 4))
    assert category_point("sad") == pytest.approx(((3.49 - 5) / 4, (2.10 - 5) / 4))
    assert category_point("neutral") == (0.0, 0.0)
    for a, v in CATEGORY_POINTS.values():
        assert -1 <= a <= 1 and -1 <= v <= 1


def test_valence_and_arousal_orders_that_the_evaluations_rely_on():
    v = {k: p[1] for k, p in CATEGORY_POINTS.items()}
    a = {k: p[0] for k, p in CATEGORY_POINTS.items()}
    assert v["happy"] > v["neutral"] > max(v["angry"], v["sad"], v["disgusted"], v["fearful"])
    assert a["angry"] > a["neutral"] > a["sad"] > a["calm"]


def test_aliases_from_the_corpora_we_read():
    assert canonical("Anger") == "angry" and canonical("happiness") == "happy"
    assert canonical("disgust") == "disgusted" and canonical("fear") == "fearful"
    assert category_point("surprise") == category_point("surprised")
    with pytest.raises(KeyError, match="contempt"):
        category_point("contempt")


def test_normal_intensity_moves_towards_neutral():
    a, v = category_point("angry", "strong")
    an, vn = category_point("angry", "normal")
    assert (an, vn) == pytest.approx((a * NORMAL_INTENSITY_SCALE, v * NORMAL_INTENSITY_SCALE), abs=1e-4)
    assert abs(an) < abs(a) and abs(vn) < abs(v)
    with pytest.raises(ValueError, match="intensity"):
        category_point("angry", "extreme")
