"""Optional research backend: openSMILE eGeMAPSv02 low-level descriptors, summarised per trace step.

Install with ``pip install 'emotrace[opensmile]'``. openSMILE's binary is licensed for research and
education only, so this is never the default: the product's descriptors are ``features.acoustics``
(librosa + numpy, 73 columns). This backend gives a different feature set (eGeMAPS' 25 LLDs: formants,
H1-H2, HNR, ... instead of centroid, ZCR and MFCC 5-13) with its own column names, so a model bundle
trained on one set cannot read the other; the analyze pipeline does not select it. Tests use it as the
reference for the project's F0 and loudness (tests/features/test_features_opensmile.py).

Times: openSMILE labels LLD frame ``i`` with its window start ``i * 10 ms``. Energy and spectral LLDs use
25 ms windows (centre at start + 12.5 ms); F0 and voice quality use 60 ms windows (start + 30 ms).
:func:`egemaps_llds` returns each frame at its *centre*, per descriptor, which is the time convention
of ``features.acoustic_lld`` (frame ``j`` centred at ``(j + 0.5) * hop_s``). Not streaming: one call
takes the whole signal (10 s in ~0.2 s on one core).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emotrace.features.acoustics import summarize

EGEMAPS_F0 = "F0semitoneFrom27.5Hz_sma3nz"
EGEMAPS_LOUDNESS = "Loudness_sma3"
SPECTRAL_CENTRE_S = 0.0125  # centre of the 25 ms energy/spectral window, from the frame start
VOICE_CENTRE_S = 0.030  # centre of the 60 ms pitch/voice-quality window


def _smile() -> Any:
    try:
        import opensmile
    except ImportError as exc:  # an optional extra: say how to get it, and why it is not default
        raise ImportError(
            "the openSMILE backend needs the optional extra: pip install 'emotrace[opensmile]' "
            "(opensmile==2.6.0; its binary is licensed for research and education only)"
        ) from exc
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
    )


def egemaps_llds(samples: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """eGeMAPSv02 LLDs of mono ``samples``: float32[N] at ``sample_rate_hz``.

    Returns ``(t_s, values, names)``: ``t_s`` float64[T, L] each value's window centre in seconds;
    ``values`` float32[T, L] with L = 25; ``names`` the L openSMILE column names. The ``_sma3nz``
    descriptors (F0, jitter, shimmer, HNR, formants) are NaN on unvoiced frames, where openSMILE
    writes 0.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"samples must be mono float32[N], got shape {samples.shape}")
    smile = _smile()
    df = smile.process_signal(samples, sample_rate_hz)
    names = tuple(str(c) for c in df.columns)
    values = df.to_numpy(dtype=np.float32, copy=True)
    start = df.index.get_level_values("start").total_seconds().to_numpy(dtype=np.float64)
    voice = np.array([n.endswith("_sma3nz") for n in names])
    unvoiced = values[:, names.index(EGEMAPS_F0)] <= 0
    values[np.ix_(unvoiced, voice)] = np.nan
    t_s = start[:, None] + np.where(voice, VOICE_CENTRE_S, SPECTRAL_CENTRE_S)[None, :]
    return t_s, values, names


def egemaps_feature_names(lld_names: tuple[str, ...]) -> tuple[str, ...]:
    """Step feature names of :func:`egemaps_step_features`: ``<lld>_mean|std|delta`` then voiced_fraction."""
    return (*(f"{n}_{s}" for n in lld_names for s in ("mean", "std", "delta")), "voiced_fraction")


def egemaps_step_features(
    samples: np.ndarray, sample_rate_hz: int, step_s: float, context_s: float
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-step summaries of the eGeMAPS LLDs, on the same grid and rule as ``features.acoustics``.

    Step ``k``'s context is ``context_s`` centred on the step's centre; frames whose spectral-window
    centre lies in it contribute (mean, std, least-squares delta per second; NaN skipped).
    Returns float32[ceil(N / (step_s * sr)), 3 * 25 + 1] and its column names.
    """
    t_s, values, names = egemaps_llds(samples, sample_rate_hz)
    n_steps = int(np.ceil(len(samples) / (step_s * sample_rate_hz) - 1e-9))
    centre = (np.arange(n_steps) + 0.5) * step_s
    t = t_s[:, names.index(EGEMAPS_LOUDNESS)]
    first = np.searchsorted(t, centre - context_s / 2, side="left")
    stop = np.searchsorted(t, centre + context_s / 2, side="left")
    width = max(int((stop - first).max(initial=0)), 1)
    frames = first[:, None] + np.arange(width)[None, :]  # int[S, C]
    inside = frames < stop[:, None]
    rows = np.clip(frames, 0, max(len(values) - 1, 0))
    gathered = values[rows] if len(values) else np.full((*frames.shape, len(names)), np.nan, np.float32)
    out = summarize(gathered, inside, frames * 0.01)
    # summarize's voiced_fraction reads column 0 (our F0): recompute it from eGeMAPS' F0 column.
    f0 = np.isfinite(gathered[:, :, names.index(EGEMAPS_F0)]) & inside
    out[:, -1] = f0.sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return out, egemaps_feature_names(names)
