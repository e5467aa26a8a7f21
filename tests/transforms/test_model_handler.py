"""EmotionModelHandler on its own (transforms tier, no media), called as RunInference calls it.

A batch gives one prediction per window, in order, named by the bundle's version; a window's prediction
does not depend on its batch mates; what a mask hides does not reach the model.
"""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.schemas.records import StepWindow, VideoRef, WindowBatch, WindowPrediction
from emotrace.transforms.inference import EmotionModelHandler, default_bundle

BUNDLE = default_bundle()
W, S = BUNDLE.preprocessing.window_steps, BUNDLE.preprocessing.crop_size_px
D = BUNDLE.model_config.n_audio_features


def _window(
    seed: int, face_mask: np.ndarray | None = None, audio_mask: np.ndarray | None = None
) -> StepWindow:
    rng = np.random.default_rng(seed)
    ones = np.ones(W, bool)
    face_mask = ones if face_mask is None else face_mask
    faces = rng.integers(0, 256, (W, S, S, 3), dtype=np.uint8)  # kept where masked: the mask must hide it
    audio = rng.normal(0, 1, (W, D)).astype(np.float32) * 5
    ref = VideoRef(f"/v/{seed}.mp4", f"post-{seed}")
    return StepWindow(
        ref, 0, 0, BUNDLE.preprocessing.step_s, faces, face_mask, audio,
        ones if audio_mask is None else audio_mask, ones,
    )  # fmt: skip


@pytest.fixture(scope="module")
def handler() -> EmotionModelHandler:
    return EmotionModelHandler(None, "cpu")


@pytest.fixture(scope="module")
def model(handler: EmotionModelHandler):
    return handler.load_model()


def _predict(handler: EmotionModelHandler, model, windows: list[StepWindow]) -> list[WindowPrediction]:
    out = list(handler.run_inference(WindowBatch(tuple(windows)), model))
    assert all(isinstance(p, WindowPrediction) for p in out), out
    return out


def test_one_prediction_per_window_in_order_named_by_the_bundle(handler, model):
    assert handler.load_model() is model  # once per worker process
    windows = [_window(k) for k in range(3)]
    out = _predict(handler, model, windows)
    assert [p.window for p in out] == windows
    assert all(p.model_version == BUNDLE.version for p in out)
    for p in out:
        assert p.arousal.shape == p.valence.shape == (W,) and p.attention.shape == (W, 2, 2)
        assert np.isfinite(p.arousal).all() and (np.abs(p.valence) <= 1).all()
    assert not np.allclose(out[0].arousal, out[1].arousal)  # different inputs, different traces
    assert handler.get_num_bytes(WindowBatch(tuple(windows))) == sum(
        w.faces.nbytes + w.audio.nbytes for w in windows
    )


def test_a_windows_prediction_does_not_depend_on_its_batch(handler, model):
    batch = _predict(handler, model, [_window(k) for k in range(4)])
    alone = _predict(handler, model, [_window(2)])[0]
    assert np.allclose(batch[2].arousal, alone.arousal, atol=1e-5)
    assert np.allclose(batch[2].valence, alone.valence, atol=1e-5)
    again = _predict(handler, model, [_window(k) for k in range(4)])  # the CPU face memo: same answers
    assert all(np.array_equal(a.arousal, b.arousal) for a, b in zip(batch, again, strict=True))


def test_what_a_mask_hides_never_reaches_the_model(handler, model):
    no_face = np.zeros(W, bool)
    no_audio = np.zeros(W, bool)
    a = _predict(handler, model, [_window(5, face_mask=no_face)])[0]
    b = _predict(handler, model, [_window(6, face_mask=no_face)._replace(audio=_window(5).audio)])[0]
    assert np.allclose(a.arousal, b.arousal, atol=1e-6)  # only the audio is the same; no face either way
    assert np.allclose(a.attention[:, :, 0], 0.0, atol=1e-6)  # no weight on the missing face
    c = _predict(handler, model, [_window(7, audio_mask=no_audio)])[0]
    d = _predict(handler, model, [_window(8, audio_mask=no_audio)._replace(faces=_window(7).faces)])[0]
    assert np.allclose(c.valence, d.valence, atol=1e-6)  # only the faces are the same; no audio
    assert np.allclose(c.attention[:, :, 1], 0.0, atol=1e-6)
