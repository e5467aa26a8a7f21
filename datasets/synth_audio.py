"""Acoustic cues for the synthetic corpus: a speech-like voice whose prosody follows the latents.

Syllables (a harmonic source through a vowel's three formant resonators) are laid out one by one; each
syllable reads the latents at its onset:

* arousal (strong): loudness (+-9 dB), pitch level (+-4 semitones), pitch range (accent depth) and
  speaking rate (syllable and gap lengths);
* valence (partial): formants scaled by up to +-3 % ("smiled speech" raises formants), +-0.5
  semitone, and a brighter or darker voice (source spectral tilt: harmonic ``k`` has amplitude
  ``1 / k ** tilt`` with ``tilt = speaker tilt - 0.2 * valence``, so positive valence lifts the high
  harmonics); on top of a per-speaker vocal-tract scale of +-5 % and a per-speaker voice tilt in
  0.8..1.2, as wide as the valence effect, so absolute brightness is ambiguous and the voice alone
  recovers valence only partly (the face stays the better valence cue).

Phrase pauses and longer silent stretches keep only a -60 dB noise floor, so there is no loudness
evidence there. Pure numpy/scipy; no Beam import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import signal

SAMPLE_RATE_HZ = 16_000
# Vowel formants (F1, F2, F3) in Hz, adult averages (Peterson & Barney); bandwidths in Hz.
VOWELS_HZ = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410))
FORMANT_BW_HZ = (90, 110, 150)
NOISE_FLOOR = 1e-3  # -60 dBFS: pauses are quiet, never digital silence (as in a real recording)

Latent = Callable[[float], float]  # time in seconds -> value in [-1, 1]


@dataclass(frozen=True)
class VoiceParams:
    """Per-post voice. ``base_f0_hz``: the speaker's resting pitch; ``silences``: (start_s, end_s)
    stretches with no speech at all."""

    base_f0_hz: float
    formant_scale: float = 1.0  # the speaker's vocal tract: shorter tracts have higher formants
    tilt: float = 1.0  # the speaker's voice quality: source harmonic k has amplitude 1 / k ** tilt
    silences: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Syllable:
    """One voiced nucleus: onset and length in seconds, gain (linear), F0 contour start and accent depth
    (fraction of F0), vowel index, formant scale, source spectral tilt."""

    start_s: float
    dur_s: float
    gain: float
    f0_hz: float
    accent: float
    vowel: int
    formant_scale: float
    tilt: float = 1.0


def plan_syllables(
    duration_s: float, arousal: Latent, valence: Latent, voice: VoiceParams, rng: np.random.Generator
) -> list[Syllable]:
    """Lay out phrases of syllables over ``duration_s``, reading the latents at each onset."""
    out: list[Syllable] = []
    pos = 0.2
    while pos < duration_s - 0.5:
        silent = next((b for a, b in voice.silences if a - 0.3 <= pos < b), None)
        if silent is not None:
            pos = silent + 0.05
            continue
        n_syl = int(rng.integers(4, 10))
        phrase_start = pos
        for _ in range(n_syl):
            a, v = arousal(pos), valence(pos)
            # Higher arousal: faster speech (shorter syllables and gaps).
            dur = rng.uniform(0.15, 0.2) * (1.0 - 0.3 * a)
            if pos + dur > duration_s - 0.2 or any(s <= pos + dur and pos < e for s, e in voice.silences):
                break
            semitones = 4.0 * a + 0.5 * v - 1.5 * (pos - phrase_start) / 2.0  # declination in a phrase
            out.append(
                Syllable(
                    start_s=pos,
                    dur_s=dur,
                    gain=10 ** ((-12.0 + 9.0 * a + rng.normal(0.0, 1.0)) / 20.0),
                    f0_hz=voice.base_f0_hz * 2 ** (semitones / 12.0),
                    accent=0.05 + 0.12 * (a + 1.0) / 2.0 + rng.uniform(0.0, 0.03),
                    vowel=int(rng.integers(len(VOWELS_HZ))),
                    formant_scale=voice.formant_scale * (1.0 + 0.03 * v),
                    tilt=voice.tilt - 0.2 * v + rng.normal(0.0, 0.05),
                )
            )
            pos += dur + rng.uniform(0.04, 0.09) * (1.0 - 0.4 * a)
        pos += rng.uniform(0.25, 0.6)
    return out


def render_voice(
    syllables: list[Syllable], duration_s: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE_HZ
) -> np.ndarray:
    """float32[round(duration_s * sample_rate)] in [-1, 1]: the syllables plus the noise floor."""
    n = round(duration_s * sample_rate)
    out = NOISE_FLOOR * rng.standard_normal(n)
    n_harm = int(4000 / 300)
    for syl in syllables:
        i0 = round(syl.start_s * sample_rate)
        m = min(round(syl.dur_s * sample_rate), n - i0)
        if m <= 16:
            continue
        x = np.linspace(0.0, 1.0, m)
        f0 = syl.f0_hz * (1.0 + syl.accent * np.sin(np.pi * x))  # a rise-fall accent per syllable
        phase = 2.0 * np.pi * np.cumsum(f0) / sample_rate
        source = sum(np.sin(k * phase) / k**syl.tilt for k in range(1, n_harm + 1))
        voiced = source
        for freq, bw in zip(VOWELS_HZ[syl.vowel], FORMANT_BW_HZ, strict=True):
            r = np.exp(-np.pi * bw / sample_rate)
            a = [1.0, -2.0 * r * np.cos(2 * np.pi * freq * syl.formant_scale / sample_rate), r * r]
            voiced = signal.lfilter([sum(a)], a, voiced)
        voiced = voiced / (np.sqrt(np.mean(voiced**2)) + 1e-9)  # unit RMS, then the syllable's gain
        out[i0 : i0 + m] += syl.gain * 0.3 * np.sin(np.pi * x) ** 1.5 * voiced
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def syllable_envelope(syllables: list[Syllable], t_s: np.ndarray) -> np.ndarray:
    """How open the mouth is at times ``t_s`` (float64[T] s): float64[T] in [0, 1], for lip sync."""
    env = np.zeros_like(t_s, dtype=np.float64)
    for syl in syllables:
        inside = (t_s >= syl.start_s) & (t_s < syl.start_s + syl.dur_s)
        env[inside] = np.maximum(env[inside], np.sin(np.pi * (t_s[inside] - syl.start_s) / syl.dur_s))
    return env
