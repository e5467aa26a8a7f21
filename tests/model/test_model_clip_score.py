"""Clip-level CCC: the mean prediction per clip against its label, next to the step-level one."""

from __future__ import annotations

import numpy as np

from emotrace.model.data import WindowArrays
from emotrace.model.evaluate import clip_score, score


def _arrays(n_clips: int, w: int = 6) -> WindowArrays:
    rng = np.random.default_rng(0)
    labels = rng.uniform(-1, 1, (n_clips, 2)).astype(np.float32)
    valid = np.ones((n_clips, w), bool)
    valid[:, 4:] = False
    gold = np.repeat(labels[:, None, :], w, axis=1)
    return WindowArrays(
        faces=np.zeros((n_clips, w, 2, 2, 3), np.uint8),
        face_mask=np.zeros((n_clips, w), bool),
        audio=np.zeros((n_clips, w, 1), np.float32),
        audio_mask=valid.copy(),
        valid=valid,
        start_step=np.zeros(n_clips, np.int64),
        track_id=np.full(n_clips, -1),
        video=np.arange(n_clips),
        gold=gold,
    )


def test_noise_around_the_right_clip_mean_is_perfect_at_clip_level_only():
    a = _arrays(20)
    noise = np.random.default_rng(1).normal(0, 0.5, a.gold.shape).astype(np.float32)
    noise -= noise[:, :4].mean(axis=1, keepdims=True)  # zero mean over each clip's valid steps
    pred = a.gold + noise
    clip, step = clip_score(a, pred), score(a, pred)
    assert np.isclose(clip["arousal"], 1.0) and np.isclose(clip["valence"], 1.0)
    assert step["arousal"] < 0.9 and step["valence"] < 0.9
