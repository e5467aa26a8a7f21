"""speech_prob: known answers on synthetic signals and real (espeak-ng) speech, and streaming invariance."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.datasets.sample_posts import speech_like
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES, step_features
from emotrace.features.speech import SpeechActivity, SpeechActivityConfig, noise_floor
from emotrace.schemas.config import AudioConfig
from tests.features.espeak import SENTENCES, espeak_speech

pytestmark = pytest.mark.usefixtures("warm_acoustics")

CFG = AudioConfig()
SR = CFG.sample_rate_hz
STEP_S = 0.2
LOUD = AUDIO_FEATURE_NAMES.index("loudness_db_mean")


def speech_prob(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(speech_prob float32[n], step rows float32[n, D]) for mono samples at 16 kHz."""
    feats = step_features(samples, CFG, STEP_S)
    return SpeechActivity(STEP_S).update(feats), feats


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rms = 10 ** (dbfs / 20)
    return (rms * np.random.default_rng(seed).standard_normal(round(seconds * SR))).astype(np.float32)


def tone(freq_hz: float, seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def test_silence_is_not_speech() -> None:
    prob, _ = speech_prob(np.zeros(3 * SR, np.float32))
    assert prob.shape == (15,)
    assert np.all(prob < 1e-3)


@pytest.mark.parametrize("dbfs", [-40.0, -20.0])
def test_steady_noise_is_not_speech(dbfs: float) -> None:
    prob, _ = speech_prob(white_noise(3.0, dbfs))
    assert np.all(prob < 0.05), prob


def test_noise_starting_after_silence_stays_low() -> None:
    # The onset step is loud above the (silent) floor and strongly modulated, but unvoiced.
    prob, _ = speech_prob(np.concatenate([np.zeros(2 * SR, np.float32), white_noise(3.0, -20.0)]))
    assert prob.max() < 0.3, prob
    assert np.all(prob[-5:] < 0.05)


def test_speech_like_signal_is_speech_in_phrases_and_not_in_pauses() -> None:
    prob, feats = speech_prob(speech_like(8.0, SR, np.random.default_rng(0)))
    loud = feats[:, LOUD]
    talking, pause = loud > -40.0, loud < -58.0  # phrases vs the -60 dBFS noise floor between them
    assert talking.sum() >= 10 and pause.sum() >= 3
    assert np.median(prob[talking]) > 0.9
    assert np.all(prob[pause] < 0.05)


@pytest.mark.parametrize("pitch", [20, 80])
def test_real_speech_is_speech(pitch: int) -> None:
    samples = espeak_speech(SENTENCES[0], pitch, SR)
    prob, feats = speech_prob(samples)
    talking = feats[:, LOUD] > -40.0
    assert talking.sum() >= 10
    assert np.median(prob[talking]) > 0.8
    assert np.all(prob[feats[:, LOUD] < -70.0] < 0.05)  # espeak's leading/trailing digital quiet


def test_quiet_tone_is_gated_loud_tone_is_voiced() -> None:
    loud, _ = speech_prob(tone(220.0, 2.0, -15.0))
    quiet, _ = speech_prob(tone(220.0, 2.0, -70.0))
    assert np.all(loud > 0.5)  # voiced and periodic: a voice-activity cue cannot tell a hum from a vowel
    assert np.all(quiet < 0.05)  # the absolute gate: -70 dBFS is below any usable speech


def test_stream_chunking_does_not_change_speech_prob() -> None:
    feats = step_features(speech_like(4.0, SR, np.random.default_rng(1)), CFG, STEP_S)
    whole = SpeechActivity(STEP_S).update(feats)
    streamed = SpeechActivity(STEP_S)
    parts = [streamed.update(feats[a:b]) for a, b in ((0, 3), (3, 3), (3, 11), (11, len(feats)))]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def _rows_with_long_phrases(seed: int, n: int = 150) -> np.ndarray:
    """Real step rows whose loudness is a random sequence of stretches of 1-40 steps at -65..-15 dBFS:
    loud stretches far longer than the floor's look-back, so a floor started later could differ."""
    rng = np.random.default_rng(seed)
    feats = step_features(speech_like(n * STEP_S, SR, rng), CFG, STEP_S)[:n]
    levels = np.concatenate([np.full(int(rng.integers(1, 41)), rng.uniform(-65.0, -15.0)) for _ in range(n)])
    feats[:, LOUD] = levels[:n]
    return feats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_speech_prob_from_any_start_lookback_steps_back_is_the_uncut_one(seed: int) -> None:
    # What a segment of a long video relies on: its preroll starts >= H steps before the steps it needs.
    feats = _rows_with_long_phrases(seed)
    h = SpeechActivityConfig().lookback_steps(STEP_S)
    assert h == 10  # 2 s at 0.2 s steps (features/segments.py's preroll covers it)
    whole = SpeechActivity(STEP_S).update(feats)
    short_differs = False
    for a in range(1, len(feats) - h):
        part = SpeechActivity(STEP_S).update(feats[a:])
        np.testing.assert_array_equal(part[h:], whole[a + h :], err_msg=f"started at step {a}")
        short_differs |= bool(part[h - 1] != whole[a + h - 1])
    assert short_differs  # one step less is not enough somewhere: the look-back is really used


@pytest.mark.parametrize("seed", [0, 1])
def test_floor_in_random_chunks_is_the_uncut_floor(seed: int) -> None:
    feats = _rows_with_long_phrases(seed)
    whole = SpeechActivity(STEP_S).update(feats)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, len(feats), size=12))  # chunks of 0 to many steps, some > H
    streamed = SpeechActivity(STEP_S)
    parts = [streamed.update(feats[a:b]) for a, b in zip([0, *cuts], [*cuts, len(feats)], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_noise_floor_is_the_min_over_the_lookback_of_level_plus_rise() -> None:
    loud = np.array([-60.0, -20.0, -20.0, -20.0, -20.0, -20.0, -50.0, -20.0])
    floor = noise_floor(loud, 3, 2.0)  # look back 3 steps, climb 2 dB per step
    np.testing.assert_allclose(floor, [-60, -58, -56, -54, -20, -20, -50, -48])
    # Without a bound, the old recursion floor_k = min(L_k, floor_{k-1} + rise):
    unbounded = np.minimum.accumulate(loud - 2.0 * np.arange(8)) + 2.0 * np.arange(8)
    np.testing.assert_allclose(noise_floor(loud, 8, 2.0), unbounded)
    assert noise_floor(np.zeros(0), 3, 2.0).shape == (0,)


def test_floor_follows_a_louder_background_slowly() -> None:
    # 2 s of noise at -60 dBFS, then 10 s at -30 dBFS: the floor climbs 2 dB/s, so the relative
    # loudness cue fades and the last steps are as low as steady noise.
    prob, _ = speech_prob(np.concatenate([white_noise(2.0, -60.0), white_noise(10.0, -30.0, seed=1)]))
    assert prob[12] > prob[-1]  # shortly after the change the cue still counts
    assert np.all(prob[-10:] < 0.05)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="step rows"):
        SpeechActivity(STEP_S).update(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="step_s"):
        SpeechActivity(0.0)
