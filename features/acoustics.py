"""Per-step acoustic features: summaries of the frame-level descriptors around each grid step, streamed.

For step ``k`` (covering ``[k * step_s, (k + 1) * step_s)``) the context is ``context_s`` centred on the
step's centre; every LLD frame whose hop interval lies in it contributes (frames before t = 0 or past
the end of the audio do not exist and are skipped, so the first and last steps see a shorter context).
Per LLD we give the mean, the standard deviation and ``delta``, the least-squares slope over time in
units per second (the regression delta of speech front ends, over the whole context). NaN LLD values
(F0, jitter and shimmer of unvoiced frames; spectral shape of digital silence) are skipped; a summary
with no value is 0 (1 value: std and delta are 0). ``voiced_fraction`` says how much F0 there was.

Column ``i`` of every output is ``AUDIO_FEATURE_NAMES[i]``; D = len(AUDIO_FEATURE_NAMES) = 73.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from emotrace.features.acoustic_lld import F0_COLUMN, LLD_NAMES, LldExtractor
from emotrace.schemas.config import AudioConfig

_STATS = ("mean", "std", "delta")
AUDIO_FEATURE_NAMES: tuple[str, ...] = (
    *(f"{lld}_{stat}" for lld in LLD_NAMES for stat in _STATS),
    "voiced_fraction",
)
N_AUDIO_FEATURES = len(AUDIO_FEATURE_NAMES)
_EPS_STEPS = 1e-9  # tolerance when counting steps, so 0.2 * 16000 samples is exactly one step


def n_steps_for(n_samples: int, step_samples: float) -> int:
    """Steps covering ``n_samples`` (a partial last step counts): ``ceil(n_samples / step_samples)``."""
    return max(0, math.ceil(n_samples / step_samples - _EPS_STEPS))


class StepAcoustics:
    """Streams mono samples in, per-step features out, independent of how the samples were chunked.

    Samples are contiguous from t = 0 at ``cfg.sample_rate_hz``. ``feed`` returns the rows of the steps
    whose context is now complete; ``finish`` returns the rest. All rows together: float32[n, D] with
    ``n = ceil(total_samples / (step_s * sample_rate_hz))``, in step order. Memory stays bounded by the
    context (about ``context_s`` + 50 ms of samples and LLD frames) plus the chunk being fed, whatever
    the audio's length.
    """

    def __init__(self, cfg: AudioConfig, step_s: float) -> None:
        if step_s <= 0 or cfg.context_s <= 0:
            raise ValueError(f"step_s and context_s must be positive, got {step_s}, {cfg.context_s}")
        self.cfg = cfg
        self.step_s = step_s
        self._lld = LldExtractor(cfg)
        geom = self._lld.geometry
        self._hop = geom.hop
        self._hop_s = geom.hop / cfg.sample_rate_hz  # the hop actually used (rounded to samples)
        self._step_samples = step_s * cfg.sample_rate_hz
        self._right = geom.right
        first = self._lld.span(0, 1)[0]  # frame -1's window start: zeros before t = 0
        self._buf = np.zeros(-first, np.float32)
        self._buf0 = first  # absolute index of self._buf[0]
        self._n_in = 0  # samples fed
        self._next_frame = 0  # first LLD frame not computed yet
        self._llds = np.zeros((0, len(LLD_NAMES)), np.float32)  # frames _lld0 .. _next_frame - 1
        self._lld0 = 0
        self._next_step = 0
        self._finished = False

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples``: float32[N] in [-1, 1]; returns float32[n, D] for newly complete steps."""
        if self._finished:
            raise RuntimeError("feed() after finish(): build a new StepAcoustics per audio stream")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"samples must be mono float32[N], got shape {samples.shape}; downmix first")
        if not np.all(np.isfinite(samples)):
            raise ValueError("samples contain NaN or inf; the decoder must emit finite float32 PCM")
        self._buf = np.concatenate([self._buf, samples])
        self._n_in += len(samples)
        # Frame j is computable once its widest window ends inside the samples fed so far.
        ready = (self._n_in - self._right) // self._hop + 1 if self._n_in >= self._right else 0
        self._compute_frames(ready)
        # A step is complete when its whole context has been computed from real samples.
        last = n_steps_for(self._n_in, self._step_samples)
        stop = self._next_step
        while stop < last and self._context(stop)[1] <= self._next_frame:
            stop += 1
        return self._emit(stop, frame_limit=None)

    def finish(self) -> np.ndarray:
        """Rows of the remaining steps (the partial last step included): float32[m, D]."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        n_frames = -(-self._n_in // self._hop)
        need = self._lld.span(self._next_frame, n_frames)[1] - (self._buf0 + len(self._buf))
        if need > 0:  # zeros after the end, as before the start
            self._buf = np.concatenate([self._buf, np.zeros(need, np.float32)])
        self._compute_frames(n_frames)
        return self._emit(n_steps_for(self._n_in, self._step_samples), frame_limit=n_frames)

    def _context(self, step: int) -> tuple[int, int]:
        """LLD frames ``[first, stop)`` in step ``step``'s context (before clipping to the audio)."""
        centre = (step + 0.5) * self.step_s
        half = self.cfg.context_s / 2
        first = math.floor((centre - half) / self._hop_s + 0.5)
        stop = math.floor((centre + half) / self._hop_s + 0.5)
        return first, max(stop, first + 1)

    def _compute_frames(self, stop: int) -> None:
        if stop <= self._next_frame:
            return
        new = self._lld.compute(self._buf, self._buf0, self._next_frame, stop)
        self._llds = np.concatenate([self._llds, new])
        self._next_frame = stop

    def _emit(self, stop_step: int, frame_limit: int | None) -> np.ndarray:
        """Summaries of steps ``_next_step .. stop_step - 1``, then drop what later steps won't need."""
        steps = range(self._next_step, stop_step)
        if not steps:
            return np.zeros((0, N_AUDIO_FEATURES), np.float32)
        bounds = np.array([self._context(k) for k in steps])  # int[S, 2]
        width = int((bounds[:, 1] - bounds[:, 0]).max())
        frames = bounds[:, :1] + np.arange(width)[None, :]  # int[S, C] absolute frame index
        limit = self._next_frame if frame_limit is None else min(frame_limit, self._next_frame)
        inside = (frames < bounds[:, 1:]) & (frames >= 0) & (frames < limit)
        rows = np.clip(frames - self._lld0, 0, max(len(self._llds) - 1, 0))
        values = self._llds[rows] if len(self._llds) else np.full((*frames.shape, len(LLD_NAMES)), np.nan)
        out = summarize(values, inside, frames * self._hop_s)
        self._next_step = stop_step
        self._trim()
        return out

    def _trim(self) -> None:
        keep_frame = max(self._context(self._next_step)[0], 0)
        if keep_frame > self._lld0:
            drop = min(keep_frame - self._lld0, len(self._llds))
            self._llds = self._llds[drop:]
            self._lld0 += drop
        keep_sample = self._lld.span(self._next_frame, self._next_frame + 1)[0]
        if keep_sample > self._buf0:
            self._buf = self._buf[keep_sample - self._buf0 :].copy()
            self._buf0 = keep_sample


def summarize(values: np.ndarray, inside: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """Per-step summaries: float32[S, D] from LLD ``values``: float[S, C, L] on context frames.

    ``inside``: bool[S, C] frames that exist and lie in the step's context; ``t_s``: float[S, C] frame
    times in seconds (only differences matter). NaN values are skipped.
    """
    v = values.astype(np.float64)
    mask = inside[:, :, None] & np.isfinite(v)
    v = np.where(mask, v, 0.0)
    w = mask.astype(np.float64)
    n = w.sum(axis=1)  # [S, L]
    safe_n = np.maximum(n, 1.0)
    mean = v.sum(axis=1) / safe_n
    dev = np.where(mask, v - mean[:, None, :], 0.0)
    std = np.sqrt((dev**2).sum(axis=1) / safe_n)
    t = np.broadcast_to(t_s[:, :, None], v.shape)
    t_mean = (t * w).sum(axis=1) / safe_n
    dt = np.where(mask, t - t_mean[:, None, :], 0.0)
    sxx = (dt**2).sum(axis=1)
    delta = np.where(sxx > 0, (dt * dev).sum(axis=1) / np.maximum(sxx, 1e-30), 0.0)
    stats = np.stack([mean, std, delta], axis=2)  # [S, L, 3]: LLD-major, as AUDIO_FEATURE_NAMES
    stats[n == 0] = 0.0
    voiced = (mask[:, :, F0_COLUMN]).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    out = np.concatenate([stats.reshape(len(v), -1), voiced[:, None]], axis=1)
    return out.astype(np.float32)


def step_features(samples: np.ndarray, cfg: AudioConfig, step_s: float) -> np.ndarray:
    """Whole-array convenience: float32[ceil(N / (step_s * sr)), D] for ``samples``: float32[N]."""
    acoustics = StepAcoustics(cfg, step_s)
    return np.concatenate([acoustics.feed(samples), acoustics.finish()])


_WARM = threading.Event()


def warm_up() -> None:
    """Run the descriptor stage once on 1 s of a tone, so the first video pays no first-call cost (scipy's
    FFT plans, lazy imports): ~0.04 CPU s. Idempotent.

    It once compiled librosa's numba kernels (3-4 s per worker from numba's disk cache, ~34 s without);
    nothing here uses numba now (``features.acoustic_lld.yin_f0``, ``features.filterbank``), and
    tests/features/test_features_warm_up.py keeps it that way.
    """
    if _WARM.is_set():
        return
    sr = AudioConfig().sample_rate_hz
    t = np.arange(sr) / sr
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    step_features(tone, AudioConfig(), 0.2)
    _WARM.set()
