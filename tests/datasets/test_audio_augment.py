"""Channel augmentation: the gain, noise and codec asked for, deterministic, readable by the pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.datasets.audio_augment import (
    SAMPLE_RATE_HZ,
    ChannelAugment,
    apply_channel,
    sample_augment,
    write_clip,
)
from emotrace.media.decode import iter_audio
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig


def _tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _aug(**kw) -> ChannelAugment:
    base = {
        "gain_db": 0.0,
        "noise": "none",
        "snr_db": 20.0,
        "rt60_s": 0.0,
        "band_hz": (0.0, 0.0),
        "codec": "none",
        "bitrate_kbps": 0,
    }
    return ChannelAugment(**{**base, **kw})


def test_gain_and_snr_are_what_was_drawn():
    x, rng = _tone(), np.random.default_rng(0)
    y = apply_channel(x, _aug(gain_db=-6.0), rng)
    assert np.allclose(y, x * 10 ** (-6 / 20), atol=1e-6)
    noisy = apply_channel(x, _aug(noise="pink", snr_db=10.0), rng)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)
    loud = apply_channel(x, _aug(gain_db=30.0), rng)
    assert np.abs(loud).max() == pytest.approx(1.0)  # a hot recording clips


def test_draws_are_deterministic_and_varied():
    a = [sample_augment(np.random.default_rng([0, i])) for i in range(40)]
    b = [sample_augment(np.random.default_rng([0, i])) for i in range(40)]
    assert a == b
    assert {x.codec for x in a} == {"none", "aac", "opus", "mp3"} and len({x.noise for x in a}) >= 4


@pytest.mark.media
@pytest.mark.parametrize("codec", ["aac", "opus", "none"])
def test_codec_copies_decode_through_the_media_layer(tmp_path, codec):
    path = write_clip(
        _tone(2.0), _aug(codec=codec, bitrate_kbps=32 if codec != "none" else 0), str(tmp_path / "c")
    )
    info = probe(path)
    assert info.has_audio and info.duration_s == pytest.approx(2.0, abs=0.1)
    samples = np.concatenate([c.samples for c in iter_audio(path, info, DecodeConfig())])
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(0.1 / np.sqrt(2), rel=0.2)
