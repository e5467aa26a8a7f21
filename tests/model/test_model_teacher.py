"""The fer mini-Xception read with h5py into torch gives Keras' own outputs (Keras with the torch backend,
a test-only dependency: no TensorFlow anywhere)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from emotrace.model.teacher import TEACHER_CLASSES, MiniXception, _tf_same_pad, load_teacher
from tests.realdata import require_realdata


@pytest.fixture(scope="module")
def hdf5_path() -> str:
    return str(require_realdata("models", "emotion_model.hdf5"))


def test_torch_port_matches_keras(hdf5_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    assert keras.backend.backend() == "torch", "set KERAS_BACKEND=torch: TensorFlow is not a dependency"
    reference = keras.models.load_model(hdf5_path, compile=False)
    teacher = load_teacher(hdf5_path)
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (12, 64, 64), dtype=np.uint8)
    # Smooth images too: random noise alone leaves the pooling paths little to disagree on.
    grey[6:] = np.linspace(0, 255, 64, dtype=np.float32)[None, :, None].astype(np.uint8) ^ grey[6:] // 32
    ours = teacher.predict_proba(grey)
    keras_in = ((grey / 255.0 - 0.5) * 2.0)[..., None].astype(np.float32)  # fer's preprocessing
    theirs = np.asarray(reference.predict(keras_in, verbose=0))
    assert ours.shape == (12, len(TEACHER_CLASSES))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert np.allclose(ours.sum(axis=1), 1, atol=1e-5)


def test_tf_same_padding_puts_the_odd_pixel_last():
    x = torch.arange(1, 60 * 60 + 1, dtype=torch.float32).view(1, 1, 60, 60)
    padded = _tf_same_pad(x, 3, 2)
    assert padded.shape[-2:] == (61, 61)
    assert padded[0, 0, 0, 0] == 1 and padded[0, 0, -1, -1] == 0  # nothing before, one row/column after
    assert _tf_same_pad(torch.zeros(1, 1, 15, 15), 3, 2).shape[-2:] == (17, 17)  # 1 before, 1 after


def test_predict_refuses_training_mode():
    with pytest.raises(ValueError, match="eval"):
        MiniXception().train().predict_proba(np.zeros((1, 64, 64), np.uint8))
