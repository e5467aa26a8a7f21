"""Per-step acoustic descriptors: known answers on synthetic signals, and streaming invariants."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emotrace.features.acoustic_lld import LLD_NAMES
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES, StepAcoustics, step_features
from emotrace.schemas.config import AudioConfig

pytestmark = pytest.mark.usefixtures("warm_acoustics")

CFG = AudioConfig()
SR = CFG.sample_rate_hz
STEP_S = 0.2
COL = {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


def tone(freq_hz: float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def noise(seconds: float, amplitude: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amplitude * rng.standard_normal(round(seconds * SR))).astype(np.float32)


def mixed_signal() -> np.ndarray:
    """Tone, noise, silence, a quiet tone and a gliding tone: every descriptor changes somewhere."""
    t = np.arange(SR) / SR
    glide = (0.2 * np.sin(2 * np.pi * (150 * t + 60 * t**2))).astype(np.float32)
    return np.concatenate(
        [tone(220, 0.7), noise(0.9), np.zeros(5003, np.float32), tone(330, 0.5, 0.01), glide]
    )


def test_feature_names_are_fixed_and_unique() -> None:
    assert len(set(AUDIO_FEATURE_NAMES)) == len(AUDIO_FEATURE_NAMES) == 3 * len(LLD_NAMES) + 1
    assert AUDIO_FEATURE_NAMES[:3] == ("f0_semitone_mean", "f0_semitone_std", "f0_semitone_delta")
    assert AUDIO_FEATURE_NAMES[-1] == "voiced_fraction"
    assert step_features(tone(220, 1.0), CFG, STEP_S).shape == (5, len(AUDIO_FEATURE_NAMES))


@pytest.mark.parametrize("freq_hz", [110.0, 220.0, 440.0])
def test_tone_gives_its_pitch_in_semitones(freq_hz: float) -> None:
    feats = step_features(tone(freq_hz, 2.0), CFG, STEP_S)
    expected = 12 * math.log2(freq_hz / 27.5)  # 220 Hz -> 36
    np.testing.assert_allclose(feats[:, COL["f0_semitone_mean"]], expected, atol=0.1)
    assert np.all(feats[:, COL["f0_semitone_std"]] < 0.1)
    assert np.all(feats[:, COL["voiced_fraction"]] == 1.0)
    assert np.all(feats[:, COL["voicing_prob_mean"]] > 0.95)
    assert np.all(feats[:, COL["jitter_rel_mean"]] < 0.01)


def test_silence_is_quiet_and_unvoiced() -> None:
    feats = step_features(np.zeros(SR, np.float32), CFG, STEP_S)
    np.testing.assert_array_equal(feats[:, COL["loudness_db_mean"]], -100.0)
    assert np.all(feats[:, COL["voicing_prob_mean"]] < 0.05)
    assert np.all(feats[:, COL["voiced_fraction"]] == 0.0)
    assert np.all(feats[:, COL["f0_semitone_mean"]] == 0.0)  # no F0 at all: the summary is 0
    assert np.all(np.isfinite(feats))


def test_noise_is_unvoiced() -> None:
    feats = step_features(noise(2.0), CFG, STEP_S)
    assert np.all(feats[:, COL["voiced_fraction"]] < 0.1)
    assert np.all(feats[:, COL["voicing_prob_mean"]] < 0.3)
    assert np.all(feats[:, COL["zcr_mean"]] > 0.3)  # white noise crosses zero about every other sample
    assert np.all(feats[:, COL["spectral_centroid_hz_mean"]] > 3000)  # flat spectrum: centroid ~ sr / 4


def test_louder_copy_is_louder_by_the_gain() -> None:
    quiet = step_features(noise(2.0, 0.02), CFG, STEP_S)
    loud = step_features(noise(2.0, 0.08), CFG, STEP_S)
    gain_db = loud[:, COL["loudness_db_mean"]] - quiet[:, COL["loudness_db_mean"]]
    np.testing.assert_allclose(gain_db, 20 * math.log10(4), atol=0.05)
    # Spectral shape does not depend on level.
    np.testing.assert_allclose(loud[:, COL["mfcc3_mean"]], quiet[:, COL["mfcc3_mean"]], atol=1e-3)


def test_rising_level_has_positive_loudness_delta() -> None:
    ramp = np.linspace(0.01, 0.3, 3 * SR, dtype=np.float32)
    feats = step_features(noise(3.0, 1.0) * ramp, CFG, STEP_S)
    assert np.all(feats[2:-2, COL["loudness_db_delta"]] > 1.0)  # dB per second


def test_context_is_centred_on_the_step() -> None:
    # Silence, then a tone from t = 1.0 s. Step k's context is [0.2k - 0.1, 0.2k + 0.3) s and each frame's
    # widest window reaches 30 ms past its hop interval, so steps 0..3 hear nothing and step 4 does.
    signal = np.concatenate([np.zeros(SR, np.float32), tone(220, 1.0)])
    loud = step_features(signal, CFG, STEP_S)[:, COL["loudness_db_mean"]]
    np.testing.assert_array_equal(loud[:4], -100.0)
    assert loud[4] > -100.0


@pytest.mark.parametrize("n_samples", [0, 1, 159, 3199, 3200, 3201, 16000, 16001, 23456])
@pytest.mark.parametrize("step_s", [0.2, 0.15, 1 / 30])
def test_one_row_per_step_including_a_partial_last_step(n_samples: int, step_s: float) -> None:
    samples = noise(n_samples / SR)
    feats = step_features(samples, CFG, step_s)
    assert feats.shape == (math.ceil(n_samples / (step_s * SR) - 1e-9), len(AUDIO_FEATURE_NAMES))
    assert feats.dtype == np.float32 and np.all(np.isfinite(feats))


@functools.cache
def mixed_reference() -> tuple[np.ndarray, np.ndarray]:
    signal = mixed_signal()
    return signal, step_features(signal, CFG, STEP_S)


@settings(max_examples=12, deadline=None, database=None)  # no .hypothesis/ in the repo
@given(sizes=st.lists(st.sampled_from([1, 7, 159, 160, 161, 999, 3200, 4801, 12000, 40000]), min_size=1))
def test_chunking_does_not_change_features(sizes: list[int]) -> None:
    signal, whole = mixed_reference()
    acoustics, parts, i, k = StepAcoustics(CFG, STEP_S), [], 0, 0
    while i < len(signal):
        size = sizes[k % len(sizes)]
        parts.append(acoustics.feed(signal[i : i + size]))
        i, k = i + size, k + 1
    parts.append(acoustics.finish())
    chunked = np.concatenate(parts)
    assert chunked.shape == whole.shape == (math.ceil(len(signal) / (STEP_S * SR)), len(AUDIO_FEATURE_NAMES))
    # Every column, boundary steps included (relative tolerance for Hz-valued columns: float32 ulp).
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-4)


def test_feed_emits_steps_as_soon_as_their_context_is_complete() -> None:
    acoustics = StepAcoustics(CFG, STEP_S)
    signal = noise(10.0)
    emitted = 0
    for start in range(0, len(signal), SR):
        emitted += len(acoustics.feed(signal[start : start + SR]))
        seconds_in = (start + SR) / SR
        # Step k needs audio up to 0.2k + 0.3 s (context end) + 0.03 s (widest window).
        assert emitted == math.floor((seconds_in - 0.33) / STEP_S + 1e-9) + 1
    assert emitted + len(acoustics.finish()) == 50


def test_misuse_is_reported() -> None:
    acoustics = StepAcoustics(CFG, STEP_S)
    assert acoustics.feed(np.zeros(0, np.float32)).shape == (0, len(AUDIO_FEATURE_NAMES))
    with pytest.raises(ValueError, match="mono"):
        acoustics.feed(np.zeros((100, 2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        acoustics.feed(np.array([0.0, np.nan], np.float32))
    acoustics.finish()
    with pytest.raises(RuntimeError, match="finish"):
        acoustics.feed(np.zeros(10, np.float32))
