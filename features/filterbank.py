"""The fixed arrays of the acoustic descriptors, in numpy: the Hann window, the FFT bin frequencies and
Slaney's mel filter bank, the same numbers as ``librosa.filters`` (``get_window("hann", n,
fftbins=True)``, ``fft_frequencies``, ``mel(htk=False, norm="slaney")``; tests/features/test_filterbank.py
compares them).

Why not librosa's: ``librosa.filters`` imports scipy.signal and numba, ~0.6 CPU s in every worker
process that starts, for three arrays computed once; and librosa's YIN, the one kernel that needed numba,
is computed from our own autocorrelation now (``features.acoustic_lld.yin_f0``). librosa stays the
reference the tests check these against. Pure core: no Beam.
"""

from __future__ import annotations

import numpy as np

_F_SP = 200.0 / 3  # Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz) ...
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0  # ... and logarithmic above, 27 mels per factor 6.4


def hann_periodic(n: int) -> np.ndarray:
    """float64[n]: the periodic Hann window (for spectra: the n-point DFT sees a whole period)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def fft_frequencies(sr: int, n_fft: int) -> np.ndarray:
    """float64[n_fft // 2 + 1]: the centre frequency (Hz) of each real-FFT bin."""
    return np.fft.rfftfreq(n=n_fft, d=1.0 / sr)


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, _F_SP * mel)


def mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """float64[n_mels, n_fft // 2 + 1]: triangular filters from 0 Hz to sr / 2, evenly spaced on Slaney's
    mel scale, each scaled to unit area in Hz (constant energy per band)."""
    mel_f = mel_to_hz(np.linspace(hz_to_mel(np.float64(0.0)), hz_to_mel(np.float64(sr / 2)), n_mels + 2))
    ramps = np.subtract.outer(mel_f, fft_frequencies(sr, n_fft))
    fdiff = np.diff(mel_f)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
