"""Frame-level acoustic descriptors (LLDs, eGeMAPS-style) every ``hop_s``, computed with numpy and scipy.fft.

Frame ``j`` stands for the hop interval ``[j * hop, (j + 1) * hop)``; each descriptor's analysis window
is centred on that interval's centre, so windows of different lengths stay aligned. Samples before
t = 0 are zeros (the video starts in silence). Every value of frame ``j`` depends only on the samples
of frames ``j - 1`` and ``j``: that is what lets ``StepAcoustics`` stream with exact chunk invariance.
So nothing here normalises over an utterance (no ``top_db``, no reference = max, no pYIN Viterbi).

F0 is YIN as ``librosa.yin`` computes it (``yin_f0``), from the one autocorrelation per frame that the
voicing needs too: librosa's own call made a second, longer one (1.75 CPU ms per media second of speech
against 0.6 for ``yin_f0``) and needed numba, compiled in every worker (``librosa.pyin`` took 0.29 s
for 2 s, 7x real time, and smooths over the whole signal, which streaming cannot reproduce). Voicing is
the normalised autocorrelation at YIN's period (1 for a pure tone, ~0 for noise or silence), i.e.
Praat-style harmonicity ``r``; HNR would be ``10 log10(r / (1 - r))``. The fixed arrays (window, mel
filters) come from ``features.filterbank``: librosa's numbers without its imports.

Undefined values are NaN (F0, jitter and shimmer on unvoiced frames; spectral shape on digital silence);
step summaries skip them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from emotrace.features.filterbank import fft_frequencies, hann_periodic, mel_filters
from emotrace.schemas.config import AudioConfig

N_MFCC = 13
N_MELS = 40
F0_REF_HZ = 27.5  # semitone 0 (A0), the eGeMAPS reference
VOICED_MIN = 0.5  # voicing (normalised autocorrelation) at which a frame counts as voiced: HNR 0 dB
_AMP_FLOOR = 1e-5  # RMS floor (-100 dBFS): librosa's amplitude_to_db default
_POWER_FLOOR = 1e-10  # power floor for log spectra (librosa's power_to_db default)
_F0_WIN_PERIODS = 3  # YIN frame holds 3 periods of fmin (eGeMAPS uses 60 ms, 3.6 periods of 60 Hz)

LLD_NAMES: tuple[str, ...] = (
    "f0_semitone",  # 12 log2(F0 / 27.5 Hz), voiced frames only
    "voicing_prob",  # normalised autocorrelation at the F0 period, [0, 1]
    "loudness_db",  # RMS in dBFS over the spectral window, floor -100
    "spectral_centroid_hz",
    "spectral_slope_db_per_khz",  # least-squares slope of the dB magnitude spectrum, 0..sr/2
    "alpha_ratio_db",  # energy 50-1000 Hz over 1-5 kHz (vocal effort)
    "hammarberg_db",  # peak energy 0-2 kHz over 2-5 kHz (vocal effort)
    "spectral_flux_db",  # mean rise of the log-mel spectrum since the previous frame (onsets)
    "zcr",  # zero crossings per sample
    *(f"mfcc{i}" for i in range(1, N_MFCC + 1)),  # c1..c13; c0 duplicates loudness
    "jitter_rel",  # |dT| / mean T between consecutive voiced frames (a frame-level proxy)
    "shimmer_db",  # |d loudness| between consecutive voiced frames (a frame-level proxy)
)
F0_COLUMN = LLD_NAMES.index("f0_semitone")
_COL = {name: i for i, name in enumerate(LLD_NAMES)}


@dataclass(frozen=True)
class FrameGeometry:
    """Where each frame's windows sit, in samples. Frame ``j``'s window of length ``w`` starts at
    ``j * hop + centre - w // 2``."""

    sample_rate_hz: int
    hop: int  # samples per LLD frame
    centre: int  # offset of a frame's centre from its hop start
    spec_win: int  # spectral / loudness / ZCR window
    n_fft: int
    f0_win: int  # YIN window

    @classmethod
    def from_config(cls, cfg: AudioConfig) -> FrameGeometry:
        sr = cfg.sample_rate_hz
        hop = round(cfg.hop_s * sr)
        spec_win = round(cfg.win_s * sr)
        f0_win = math.ceil(_F0_WIN_PERIODS * sr / cfg.fmin_hz)
        if hop < 1 or spec_win < 2:
            raise ValueError(f"hop_s={cfg.hop_s}, win_s={cfg.win_s} are too short at {sr} Hz")
        if cfg.fmax_hz > sr / 2 or cfg.fmin_hz >= cfg.fmax_hz:
            raise ValueError(f"need 0 < fmin_hz < fmax_hz <= {sr / 2}, got {cfg.fmin_hz}, {cfg.fmax_hz}")
        return cls(sr, hop, hop // 2, spec_win, 1 << (spec_win - 1).bit_length(), f0_win + f0_win % 2)

    @property
    def left(self) -> int:
        """Samples a frame's widest window reaches before its hop start."""
        return max(self.spec_win, self.f0_win) // 2 - self.centre

    @property
    def right(self) -> int:
        """Samples a frame's widest window reaches after its hop start (exclusive end)."""
        return self.centre + max(w - w // 2 for w in (self.spec_win, self.f0_win))


class LldExtractor:
    """Computes ``LLD_NAMES`` for a run of frames from a buffer of samples. Stateless between calls."""

    def __init__(self, cfg: AudioConfig) -> None:
        self.cfg = cfg
        g = self.geometry = FrameGeometry.from_config(cfg)
        sr = g.sample_rate_hz
        self._window = hann_periodic(g.spec_win)
        self._mel = mel_filters(sr, g.n_fft, N_MELS)
        freqs = fft_frequencies(sr, g.n_fft)
        self._freqs = freqs
        f_khz = freqs / 1000.0
        self._slope_x = (f_khz - f_khz.mean()) / ((f_khz - f_khz.mean()) ** 2).sum()
        self._alpha_lo = (freqs >= 50) & (freqs < 1000)
        self._alpha_hi = (freqs >= 1000) & (freqs < 5000)
        self._hamm_lo = freqs <= 2000
        self._hamm_hi = (freqs > 2000) & (freqs <= 5000)
        self._max_lag = min(math.ceil(sr / cfg.fmin_hz), g.f0_win - 2)
        # Lags up to max_lag + 1 must not wrap around the circular correlation.
        self._acf_fft = scipy.fft.next_fast_len(g.f0_win + self._max_lag + 2, real=True)

    def span(self, j0: int, j1: int) -> tuple[int, int]:
        """Absolute sample range ``[start, stop)`` that ``compute(..., j0, j1)`` reads."""
        g = self.geometry
        return (j0 - 1) * g.hop - g.left, (j1 - 1) * g.hop + g.right

    def compute(self, x: np.ndarray, x0: int, j0: int, j1: int) -> np.ndarray:
        """LLDs of frames ``j0 .. j1 - 1``: float32[j1 - j0, len(LLD_NAMES)].

        ``x``: float32[N] samples at absolute indices ``x0 .. x0 + N - 1``, covering ``span(j0, j1)``.
        Frame ``j0 - 1`` is recomputed (not carried over) for the difference-based descriptors.
        """
        start, stop = self.span(j0, j1)
        if start < x0 or stop > x0 + len(x):
            raise ValueError(
                f"samples [{x0}, {x0 + len(x)}) do not cover frames {j0}..{j1} ({start}..{stop})"
            )
        if j1 <= j0:
            return np.zeros((0, len(LLD_NAMES)), np.float32)
        g = self.geometry
        spec = sliding_window_view(self._segment(x, x0, j0 - 1, j1, g.spec_win), g.spec_win)[:: g.hop]
        f0_segment = self._segment(x, x0, j0 - 1, j1, g.f0_win)
        out = np.full((j1 - j0 + 1, len(LLD_NAMES)), np.nan, np.float32)
        col = _COL

        rms = np.sqrt(np.mean(np.square(spec, dtype=np.float64), axis=1))
        loud = 20.0 * np.log10(np.maximum(rms, _AMP_FLOOR))
        out[:, col["loudness_db"]] = loud
        signs = np.signbit(spec)
        out[:, col["zcr"]] = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)

        # float64 from here on: float32 matmuls round differently for different frame counts (BLAS
        # blocking), which would make features depend, in the last bits, on how audio was chunked.
        power = np.square(np.abs(np.fft.rfft(spec * self._window, n=g.n_fft, axis=1)))
        sounding = rms >= _AMP_FLOOR
        self._spectral_shape(power, sounding, out, col)
        logmel = 10.0 * np.log10(np.maximum(power @ self._mel.T, _POWER_FLOOR))
        mfcc = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, 1 : N_MFCC + 1]
        out[:, col["mfcc1"] : col["mfcc1"] + N_MFCC] = mfcc
        flux = np.full(len(logmel), np.nan, np.float32)
        flux[1:] = np.mean(np.maximum(logmel[1:] - logmel[:-1], 0.0), axis=1)
        out[:, col["spectral_flux_db"]] = flux

        f0_hz, voicing = self._pitch(f0_segment)
        voiced = (voicing >= VOICED_MIN) & sounding
        out[:, col["voicing_prob"]] = voicing
        out[:, col["f0_semitone"]] = np.where(voiced, 12.0 * np.log2(f0_hz / F0_REF_HZ), np.nan)
        both = voiced[1:] & voiced[:-1]
        period = 1.0 / f0_hz
        jitter = np.abs(np.diff(period)) / (0.5 * (period[1:] + period[:-1]))
        out[1:, col["jitter_rel"]] = np.where(both, jitter, np.nan)
        out[1:, col["shimmer_db"]] = np.where(both, np.abs(np.diff(loud)), np.nan)
        return out[1:]

    def _segment(self, x: np.ndarray, x0: int, j0: int, j1: int, win: int) -> np.ndarray:
        """The samples under frames ``j0 .. j1 - 1`` with windows of ``win``: float32[(j1-j0-1)*hop + win]."""
        g = self.geometry
        first = j0 * g.hop + g.centre - win // 2 - x0
        return x[first : first + (j1 - j0 - 1) * g.hop + win]

    def _spectral_shape(
        self, power: np.ndarray, sounding: np.ndarray, out: np.ndarray, col: dict[str, int]
    ) -> None:
        """Centroid, slope, alpha ratio, Hammarberg index from ``power``: float64[T, F]; NaN where silent."""
        mag = np.sqrt(power)
        total = mag.sum(axis=1)
        centroid = (mag @ self._freqs) / np.maximum(total, 1e-30)
        db = 10.0 * np.log10(np.maximum(power, _POWER_FLOOR))
        slope = db @ self._slope_x  # the mean of db cancels: slope_x sums to zero
        alpha = 10.0 * np.log10(
            np.maximum(power[:, self._alpha_lo].sum(axis=1), _POWER_FLOOR)
            / np.maximum(power[:, self._alpha_hi].sum(axis=1), _POWER_FLOOR)
        )
        hamm = 10.0 * np.log10(
            np.maximum(power[:, self._hamm_lo].max(axis=1), _POWER_FLOOR)
            / np.maximum(power[:, self._hamm_hi].max(axis=1), _POWER_FLOOR)
        )
        for name, values in (
            ("spectral_centroid_hz", centroid),
            ("spectral_slope_db_per_khz", slope),
            ("alpha_ratio_db", alpha),
            ("hammarberg_db", hamm),
        ):
            out[:, col[name]] = np.where(sounding, values, np.nan)

    def autocorrelation(self, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per hop-spaced ``f0_win`` frame of ``segment`` (float32[(T - 1) * hop + f0_win]): the
        autocorrelation float64[T, max_lag + 2] (``acf[:, k]`` = sum x[n] x[n + k], linear, not circular)
        and the running energy float64[T, f0_win + 1] (``energy[:, k]``: the first ``k`` samples'
        squares): ``yin_f0``'s arguments."""
        x = sliding_window_view(segment, self.geometry.f0_win)[:: self.geometry.hop].astype(np.float64)
        spec = scipy.fft.rfft(x, n=self._acf_fft, axis=1)
        acf = scipy.fft.irfft(np.abs(spec) ** 2, n=self._acf_fft, axis=1)[:, : self._max_lag + 2]
        energy = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x * x, axis=1)], axis=1)
        return acf, energy

    def _pitch(self, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """YIN F0 (Hz) and voicing in [0, 1] for the hop-spaced ``f0_win`` frames of ``segment``.

        ``segment``: float32[(T - 1) * hop + f0_win] -> (float64[T], float64[T]).
        """
        cfg, g = self.cfg, self.geometry
        # One autocorrelation per frame serves both YIN and the voicing.
        acf, energy = self.autocorrelation(segment)
        f0 = yin_f0(acf, energy, g.sample_rate_hz, cfg.fmin_hz, cfg.fmax_hz)
        # Normalised autocorrelation r(k) = sum x[n] x[n+k] / sqrt(E(n < W-k) E(n >= k)) for every lag.
        lags = np.arange(acf.shape[1])
        denom = np.sqrt(energy[:, g.f0_win - lags] * (energy[:, -1:] - energy[:, lags]))
        r = np.where(denom > 0, acf / np.maximum(denom, 1e-300), 0.0)
        # Refine YIN's period to the r peak within 2 samples: YIN's cumulative-mean normalisation pulls
        # the period short by ~0.5% (110 Hz read as 110.65 Hz); r's peak is unbiased for a steady tone.
        lo = max(2, math.floor(g.sample_rate_hz / cfg.fmax_hz))
        guess = np.clip(np.rint(g.sample_rate_hz / f0).astype(np.int64), lo, self._max_lag)
        rows = np.arange(len(acf))[:, None]
        cand = np.clip(guess[:, None] + np.arange(-2, 3), lo, self._max_lag)
        k = cand[np.arange(len(acf)), np.argmax(r[rows, cand], axis=1)]
        rows = rows[:, 0]
        left, mid, right = r[rows, k - 1], r[rows, k], r[rows, k + 1]
        curve = left - 2 * mid + right
        shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
        shift = np.clip(shift, -0.5, 0.5)
        peak = mid - 0.25 * (left - right) * shift
        return g.sample_rate_hz / (k + shift), np.clip(peak, 0.0, 1.0)


def yin_f0(
    acf: np.ndarray, energy: np.ndarray, sr: int, fmin_hz: float, fmax_hz: float, threshold: float = 0.1
) -> np.ndarray:
    """YIN's F0 (Hz) per frame from each frame's autocorrelation, as ``librosa.yin`` computes it.

    ``acf``: float64[T, L], lags 0 .. L - 1 of each frame (L > ceil(sr / fmin_hz)); ``energy``:
    float64[T, W + 1], the running sum of squares (``energy[:, k]``: the first ``k`` samples). The steps
    are librosa 0.11's (de Cheveigne and Kawahara 2002, equations 6-8, the absolute threshold, parabolic
    interpolation), computed from the autocorrelation the voicing needs anyway: librosa makes its own,
    over every lag of the frame, in float32.
    Frames agree with ``librosa.yin`` but for ties the float32 rounding breaks another way
    (tests/features/test_yin.py).
    """
    min_period = math.floor(sr / fmax_hz)
    cmnd = yin_difference(acf, energy, sr, fmin_hz, fmax_hz)
    inner = cmnd[:, 1:-1]
    a = cmnd[:, 2:] + cmnd[:, :-2] - 2.0 * inner
    b = (cmnd[:, 2:] - cmnd[:, :-2]) / 2.0
    shifts = np.zeros_like(cmnd)
    with np.errstate(divide="ignore", invalid="ignore"):
        shifts[:, 1:-1] = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a)
    trough = np.zeros(cmnd.shape, bool)
    trough[:, 1:-1] = (inner < cmnd[:, :-2]) & (inner <= cmnd[:, 2:])
    trough[:, 0] = cmnd[:, 0] < cmnd[:, 1]
    trough[:, -1] = cmnd[:, -1] < cmnd[:, -2]
    below = trough & (cmnd < threshold)
    period = np.where(below.any(axis=1), np.argmax(below, axis=1), np.argmin(cmnd, axis=1))
    rows = np.arange(len(cmnd))
    return sr / (min_period + period + shifts[rows, period])


def yin_difference(
    acf: np.ndarray, energy: np.ndarray, sr: int, fmin_hz: float, fmax_hz: float
) -> np.ndarray:
    """YIN's cumulative mean normalised difference d'(k) for periods ``floor(sr / fmax_hz)`` ..
    ``ceil(sr / fmin_hz)`` samples: float64[T, P] (``yin_f0``'s arguments)."""
    min_period = math.floor(sr / fmax_hz)
    max_period = min(math.ceil(sr / fmin_hz), energy.shape[1] - 2)
    if acf.shape[1] <= max_period:
        raise ValueError(f"need autocorrelation lags up to {max_period}, got {acf.shape[1] - 1}")
    k = np.arange(1, max_period + 1)
    # Difference function d(k) = 2 (ACF(0) - ACF(k)) - sum_{m < k} x(m)^2, then its cumulative mean.
    diff = 2.0 * (acf[:, :1] - acf[:, k]) - energy[:, k]
    mean = (np.cumsum(diff, axis=1) / k)[:, min_period - 1 :]
    return diff[:, min_period - 1 :] / (mean + np.finfo(np.float64).tiny)  # silence: 0 / tiny, as librosa
