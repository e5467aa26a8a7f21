"""Channel augmentation for speech clips: what differs between a studio corpus and posted videos.

A RAVDESS clip is one studio, one microphone, one recording level. A posted video is another level,
another room, background noise, and a lossy codec (posts carry AAC or Opus). So each augmented copy of a
training clip draws: a gain (-20 .. +6 dB: recording levels differ far more than voices do; peaks
that exceed full scale are clipped, as a hot recording is), background noise (white, pink or brown, or
speech babble from other clips of the corpus) at 5-35 dB SNR, a room (a synthetic exponentially decaying
impulse response, RT60 0.15-0.7 s), a microphone/phone band (a band-pass of random edges) and a codec
(AAC 32-96 kb/s, Opus 12-48 kb/s, MP3 32-96 kb/s, or none). The copy is written as a file and
then goes through the analyze pipeline like any input: the augmentation never touches the features.

Deterministic: a clip's copy ``k`` draws from ``default_rng([seed, clip index, k])``. Pure core (numpy,
scipy, soundfile and the ffmpeg the media layer uses); no Beam import.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfilt

from emotrace.media.ffmpeg_bin import ffmpeg_exe

SAMPLE_RATE_HZ = 16_000
_CODECS = {  # name -> (ffmpeg encoder, container extension, bitrate range in kb/s)
    "aac": ("aac", ".m4a", (32, 96)),
    "opus": ("libopus", ".ogg", (12, 48)),
    "mp3": ("libmp3lame", ".mp3", (32, 96)),
}


@dataclass(frozen=True)
class ChannelAugment:
    """One draw. ``noise``: none | white | pink | brown | babble; ``rt60_s`` 0: no room; ``band_hz``
    (0, 0): no band limit; ``codec``: none | aac | opus | mp3."""

    gain_db: float
    noise: str
    snr_db: float
    rt60_s: float
    band_hz: tuple[float, float]
    codec: str
    bitrate_kbps: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sample_augment(rng: np.random.Generator) -> ChannelAugment:
    noise = str(rng.choice(["none", "white", "pink", "brown", "babble"], p=[0.2, 0.2, 0.25, 0.15, 0.2]))
    band = (0.0, 0.0)
    if rng.random() < 0.3:  # a phone or a small microphone
        band = (float(rng.uniform(150, 400)), float(rng.uniform(3000, 7000)))
    codec = str(rng.choice(["none", "aac", "opus", "mp3"], p=[0.25, 0.35, 0.3, 0.1]))
    lo, hi = _CODECS[codec][2] if codec != "none" else (0, 0)
    return ChannelAugment(
        gain_db=float(rng.uniform(-20.0, 6.0)),
        noise=noise,
        snr_db=float(rng.uniform(5.0, 35.0)),
        rt60_s=float(rng.uniform(0.15, 0.7)) if rng.random() < 0.35 else 0.0,
        band_hz=band,
        codec=codec,
        bitrate_kbps=int(rng.integers(lo, hi + 1)) if codec != "none" else 0,
    )


def _coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if colour == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    spectrum /= np.sqrt(f) if colour == "pink" else f  # 1/f power (pink) or 1/f^2 (brown)
    return np.fft.irfft(spectrum, n)


def _room(x: np.ndarray, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    n = int(rt60_s * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)  # -60 dB at rt60
    ir[0] = np.abs(ir).max()  # the direct path is the strongest
    ir /= np.sqrt(np.sum(ir**2))
    y = fftconvolve(x, ir)[: len(x)]
    return y * (np.std(x) / max(np.std(y), 1e-9))


def apply_channel(
    x: np.ndarray, aug: ChannelAugment, rng: np.random.Generator, babble: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """The waveform (float32[N] mono at 16 kHz) through ``aug``'s room, noise, band and gain (the codec
    is applied when the file is written)."""
    y = x.astype(np.float64)
    if aug.rt60_s > 0:
        y = _room(y, aug.rt60_s, rng)
    if aug.noise != "none":
        if aug.noise == "babble" and babble:
            parts = [babble[int(i)] for i in rng.integers(0, len(babble), size=3)]
            noise = np.zeros(len(y))
            for p in parts:
                p = np.resize(p, len(y))  # loops a short clip
                noise += np.roll(p, int(rng.integers(0, len(y))))
        else:
            noise = _coloured_noise(len(y), "pink" if aug.noise == "babble" else aug.noise, rng)
        signal_power = np.mean(y**2) + 1e-12
        noise *= np.sqrt(signal_power / (np.mean(noise**2) + 1e-12) / 10 ** (aug.snr_db / 10))
        y = y + noise
    lo, hi = aug.band_hz
    if hi > 0:
        y = sosfilt(butter(4, [lo, hi], btype="band", fs=SAMPLE_RATE_HZ, output="sos"), y)
    y = y * 10 ** (aug.gain_db / 20)
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def read_mono(path: str) -> np.ndarray:
    """A soundfile-readable clip (WAV, FLAC) as float32 mono at 16 kHz."""
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SAMPLE_RATE_HZ:
        import soxr

        x = soxr.resample(x, sr, SAMPLE_RATE_HZ).astype(np.float32)
    return x


def write_clip(y: np.ndarray, aug: ChannelAugment, out_stem: str) -> str:
    """Write ``y`` with ``aug``'s codec at ``out_stem`` + extension; returns the path."""
    if aug.codec == "none":
        path = out_stem + ".wav"
        sf.write(path, y, SAMPLE_RATE_HZ, subtype="PCM_16")
        return path
    encoder, ext, _ = _CODECS[aug.codec]
    path = out_stem + ext
    with tempfile.NamedTemporaryFile(suffix=".wav", dir=os.path.dirname(path)) as tmp:
        sf.write(tmp.name, y, SAMPLE_RATE_HZ, subtype="PCM_16")
        argv = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", tmp.name, "-c:a", encoder]
        argv += ["-b:a", f"{aug.bitrate_kbps}k", "-threads", "1", path]
        subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path
