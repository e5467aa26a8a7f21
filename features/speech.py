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

The noise floor is the quietest recent step, allowed to climb slowly: ``floor_k = min over j in [k - H, k]
of (L_j + rise * (k - j) * step_s)``, with ``L`` the steps' ``loudness_db_mean``, ``rise`` 2 dB/s and a
look-back ``H`` of ``floor_lookback_s`` = 2 s (10 steps at 0.2 s). It follows pauses down at once and
climbs slowly when the background gets louder. Being causal and bounded, a step's value depends only on
the H steps before it: not on how the audio was chunked, nor on where a segment of a long video starts,
as long as it starts at least H steps earlier (``features/segments.py``'s preroll covers H: 2 s of
decode per segment). Measured on synthetic and espeak-ng signals (see docs/audio.md): digital silence
0.000; steady white noise 0.01 (up to 0.2 on the one step where it starts after silence); clean speech
steps median 0.95-0.98, pauses <= 0.03; a steady 220 Hz tone 0.88 (voiced and periodic: music and hum
read as speech-like; this is a voice-activity cue, not a speech recogniser). On those signals (8 s at
most, pauses every 2 s or sooner) the 2 s look-back gives what an unbounded one gave, to within 0.003
of a median; speech with no pause for longer than 2 s keeps less of the loudness cue (worth up to 1.5 logit).
"""

from __future__ import annotations

import math
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
    floor_lookback_s: float = 2.0  # the floor is the quietest step of the last 2 s (+ the rise since)
    gate_dbfs: float = -55.0  # absolute gate: half-open at this mean loudness
    gate_width_db: float = 3.0

    def lookback_steps(self, step_s: float) -> int:
        """``H``: steps before a step that its noise floor looks at (a segment's preroll covers them)."""
        return max(0, math.ceil(self.floor_lookback_s / step_s - 1e-9))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def noise_floor(loud_db: np.ndarray, lookback: int, rise_db_per_step: float) -> np.ndarray:
    """Pure rule: float64[n] floor from step loudness float[n] (dBFS): ``floor_k = min over j in
    [max(0, k - lookback), k] of loud_j + rise * (k - j)``. Each value is computed from its own
    ``lookback + 1`` steps alone, the same way in any chunking."""
    loud = np.asarray(loud_db, np.float64)
    if not len(loud):
        return np.zeros(0)
    padded = np.concatenate([np.full(lookback, np.inf), loud])
    ages = np.arange(lookback, -1, -1, dtype=np.float64) * rise_db_per_step  # age of each look-back step
    return (np.lib.stride_tricks.sliding_window_view(padded, lookback + 1) + ages).min(axis=1)


class SpeechActivity:
    """Streams step rows in, one speech probability per row out (state: the last ``H`` steps' loudness).

    Build one per audio stream (video); feed its rows in step order, in any chunking.
    """

    def __init__(self, step_s: float, cfg: SpeechActivityConfig = SpeechActivityConfig()) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s must be positive, got {step_s}")
        self.cfg = cfg
        self._rise_db = cfg.floor_rise_db_per_s * step_s
        self._lookback = cfg.lookback_steps(step_s)
        self._recent = np.zeros(0)  # loudness of the (up to) ``H`` steps before the next row

    def update(self, feats: np.ndarray) -> np.ndarray:
        """``feats``: float32[n, D] step rows (``AUDIO_FEATURE_NAMES`` order) -> float32[n] in [0, 1]."""
        feats = np.asarray(feats, dtype=np.float64)
        if feats.ndim != 2 or feats.shape[1] != len(AUDIO_FEATURE_NAMES):
            raise ValueError(f"expected float32[n, {len(AUDIO_FEATURE_NAMES)}] step rows, got {feats.shape}")
        levels = np.concatenate([self._recent, feats[:, _COL["loudness_db_mean"]]])
        floor = noise_floor(levels, self._lookback, self._rise_db)[len(self._recent) :]
        self._recent = levels[max(0, len(levels) - self._lookback) :] if self._lookback else np.zeros(0)
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
