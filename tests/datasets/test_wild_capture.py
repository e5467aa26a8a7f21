"""Views of a face as captured in the wild: deterministic, geometry kept in step, the picture degraded."""

from __future__ import annotations

import numpy as np

from emotrace.datasets.face_pool import WILD_VIEW, build_views, make_view, wild_view
from emotrace.datasets.wild_capture import _tilt, capture


def test_a_tilt_moves_the_landmarks_with_the_picture():
    img = np.zeros((200, 200, 3), np.uint8)
    lm = np.array([[60.0, 80.0], [140.0, 80.0], [100.0, 110.0], [70.0, 140.0], [130.0, 140.0]])
    for x, y in lm.astype(int):
        img[y - 2 : y + 3, x - 2 : x + 3] = 255  # a bright dot on each landmark
    out, moved = _tilt(img, lm, np.array([50.0, 50.0, 150.0, 150.0]), np.random.default_rng(1))
    assert not np.allclose(moved, lm)  # it did roll
    for x, y in np.round(moved).astype(int):
        assert out[y - 1 : y + 2, x - 1 : x + 2].max() > 200  # each dot is where its landmark went


def test_capture_is_deterministic_and_degrades(face):
    lm, box = face.detection.landmarks.astype(np.float64), face.detection.box.astype(np.float64)
    a, lm_a = capture(face.frame, lm, box, np.random.default_rng(7))
    b, lm_b = capture(face.frame, lm, box, np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(lm_a, lm_b)
    assert a.shape == face.frame.shape and a.dtype == np.uint8
    # Over many draws every picture differs from the original, by more than rounding.
    diffs = [
        np.abs(capture(face.frame, lm, box, np.random.default_rng(k))[0].astype(int) - face.frame).mean()
        for k in range(12)
    ]
    assert min(diffs) > 1.0, diffs


def test_wild_views_are_numbered_apart_and_differ_from_the_pool_views(face):
    pool = build_views([face], 3, 64, seed=0, wild_views=2)
    assert list(pool.view) == [0, 1, 2, WILD_VIEW, WILD_VIEW + 1]
    again = build_views([face], 3, 64, seed=0, wild_views=2)
    assert np.array_equal(pool.crops, again.crops) and np.array_equal(pool.grey, again.grey)
    plain, _ = make_view(face.frame, face.detection, 64, None)
    for k in (3, 4):
        assert pool.crops[k].shape == (64, 64, 3) and not np.array_equal(pool.crops[k], plain)
    crop, grey = wild_view(face.frame, face.detection, 64, np.random.default_rng([0, 0, 0, WILD_VIEW]))
    assert np.array_equal(crop, pool.crops[3]) and np.array_equal(grey, pool.grey[3])
    assert not np.array_equal(pool.crops[3], pool.crops[4])
