"""Speech activity per trace step (``speech_prob``), from the step summaries of ``features.acoustics``.

A hand-set logistic combination of four cues, each a column of the 73-feature step row (so nothing here
changes the features the model sees):

* ``voiced_fraction``: share of 10 ms frames in the step's context with an F0 (periodic voicing);
* ``voicing_prob_mean``: mean normalised autocorrelation at the F0 period (noise ~0.1, speech 0.5-0.8);
* loudness above the video's running noise floor, in dB, capped (speech stands out of its pauses);
* ``loudness_db_std``: loudness modulation in the context, capped (syllables come and go ~4 times per
  second; a steady tone or hum has ~0 dB).

``p = sigmoid(bias + w . cues) * sigmoid((loudness_db_mean - gate_dbfs) / gate_width_db)``: the second
factor is an absolute gate, so a step quieter than about -55 dBFS is never speech, whatever its shape.

The noise floor is a causal minimum tracker over the steps seen so far, ``floor_k = min(L_k, floor_{k-1}
+ rise * step_s)``, started at the first step's loudness: it follows pauses down at once and climbs
slowly (2 dB/s) when the background gets louder. Being causal and per row, the estimate does not depend
on how the audio was chunked. Measured on synthetic and espeak-ng signals (see docs/audio.md): digital
silence 0.000; steady white noise 0.01 (up to 0.2 on the one step where it starts after silence); clean
speech steps median 0.95-0.98, pauses <= 0.03; a steady 220 Hz tone 0.88 (voiced and periodic: music and
hum read as speech-like; this is a voice-activity cue, not a speech recogniser).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotrace.features.acoustics import AUDIO_FEATURE_NAMES

_COL = {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


@dataclass(frozen=True)
class SpeechActivityConfig:
    """Weights of the logistic speech-activity estimate (logit units per cue unit)."""

    bias: float = -5.0
    w_voiced_fraction: float = 4.0
    w_voicing: float = 3.0
    w_above_floor_per_db: float = 0.1
    above_floor_cap_db: float = 15.0
    w_modulation_per_db: float = 0.3
    modulation_cap_db: float = 6.0
    floor_rise_db_per_s: float = 2.0  # how fast the noise floor follows a louder background
    gate_dbfs: float = -55.0  # absolute gate: half-open at this mean loudness
    gate_width_db: float = 3.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


class SpeechActivity:
    """Streams step rows in, one speech probability per row out (state: the running noise floor).

    Build one per audio stream (video); feed its rows in step order, in any chunking.
    """

    def __init__(self, step_s: float, cfg: SpeechActivityConfig = SpeechActivityConfig()) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self.cfg = cfg
        self._rise_db = cfg.floor_rise_db_per_s * step_s
        self._floor_db: float | None = None

    def update(self, feats: np.ndarray) -> np.ndarray:
        """``feats``: float32[n, D] step rows (``AUDIO_FEATURE_NAMES`` order) -> float32[n] in [0, 1]."""
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != len(AUDIO_FEATURE_NAMES):
            raise ValueError(f"expected float32[n, {len(AUDIO_FEATURE_NAMES)}] step rows, got {feats.shape}")
        loud = feats[:, _COL["loudness_db_mean"]]
        floor = np.empty(len(loud))
        for k, level in enumerate(loud):  # a causal recursion: a Python loop over ~5 rows per second
            prev = self._floor_db
            self._floor_db = float(level) if prev is None else min(float(level), prev + self._rise_db)
            floor[k] = self._floor_db
        return speech_probability(feats, floor, self.cfg)


def speech_probability(
    feats: np.ndarray, floor_db: np.ndarray, cfg: SpeechActivityConfig = SpeechActivityConfig()
) -> np.ndarray:
    """Pure rule: float32[n] speech probability from step rows float[n, D] and the floor float[n] (dBFS)."""
    c = cfg
    loud = feats[:, _COL["loudness_db_mean"]]
    above = np.clip(loud - floor_db, 0.0, c.above_floor_cap_db)
    modulation = np.clip(feats[:, _COL["loudness_db_std"]], 0.0, c.modulation_cap_db)
    logit = (
        c.bias
        + c.w_voiced_fraction * feats[:, _COL["voiced_fraction"]]
        + c.w_voicing * feats[:, _COL["voicing_prob_mean"]]
        + c.w_above_floor_per_db * above
        + c.w_modulation_per_db * modulation
    )
    gate = _sigmoid((loud - c.gate_dbfs) / c.gate_width_db)
    return (_sigmoid(logit) * gate).astype(np.float32)
