"""No per-video normalisation: a step's descriptors depend only on the audio around it, never on the rest
of the video (z-scoring uses the model bundle's stored training statistics, in model/fused.py)."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.datasets.sample_posts import speech_like
from emotrace.features.acoustics import step_features
from emotrace.schemas.config import AudioConfig

pytestmark = pytest.mark.usefixtures("warm_acoustics")

CFG = AudioConfig()
SR = CFG.sample_rate_hz


def test_what_follows_does_not_change_earlier_steps() -> None:
    speech = speech_like(3.0, SR, np.random.default_rng(2))
    loud_noise = (0.9 * np.random.default_rng(3).uniform(-1, 1, 3 * SR)).astype(np.float32)
    quiet_end = step_features(np.concatenate([speech, np.zeros(3 * SR, np.float32)]), CFG, 0.2)
    loud_end = step_features(np.concatenate([speech, loud_noise]), CFG, 0.2)
    # Steps whose 0.4 s context ends before 3.0 s (step 13 covers 2.6-2.8 s, context to 2.9 s).
    np.testing.assert_array_equal(quiet_end[:14], loud_end[:14])
    assert not np.allclose(quiet_end[16:], loud_end[16:])  # the later steps did see the difference
