"""``features.filterbank`` gives librosa's arrays: the descriptors' window, bin frequencies and mel
filters, at the pipeline's geometry and at others."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from emotrace.features.filterbank import fft_frequencies, hann_periodic, hz_to_mel, mel_filters, mel_to_hz


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels"), [(16_000, 512, 40), (16_000, 1024, 64), (22_050, 2048, 128), (8_000, 256, 26)]
)
def test_mel_filters_are_librosas_slaney_filters(sr: int, n_fft: int, n_mels: int) -> None:
    ours = mel_filters(sr, n_fft, n_mels)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert (ours.max(axis=1) > 0).all()  # no empty band at these geometries


@pytest.mark.parametrize("n", [2, 400, 401, 512])
def test_hann_window_and_bin_frequencies_are_librosas(n: int) -> None:
    np.testing.assert_allclose(
        hann_periodic(n), librosa.filters.get_window("hann", n, fftbins=True), atol=1e-15
    )
    np.testing.assert_array_equal(fft_frequencies(16_000, n), librosa.fft_frequencies(sr=16_000, n_fft=n))


def test_the_mel_scale_is_slaneys_and_inverts() -> None:
    hz = np.array([0.0, 200.0, 999.9, 1000.0, 1000.1, 4000.0, 8000.0])
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
