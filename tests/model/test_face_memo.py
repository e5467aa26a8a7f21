"""FaceEmbeddingMemo: overlapping windows run each face crop through the CNN once (model/face_memo.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emotrace.model.face_memo import FaceEmbeddingMemo
from emotrace.model.predict import predict_windows

W, S, D = 10, 32, 6


def overlapping_windows(n_steps: int, hop: int, seed: int = 0):
    """One lane's windows every ``hop`` steps over ``n_steps`` steps of random crops and descriptors,
    the face missing on some steps: (faces, face_mask, audio, audio_mask), stacked."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (n_steps + W, S, S, 3), dtype=np.uint8)
    face = rng.random(n_steps + W) < 0.8
    crops[~face] = 0
    audio = rng.normal(size=(n_steps + W, D)).astype(np.float32)
    starts = range(0, n_steps, hop)
    pick = lambda a: np.stack([a[s : s + W] for s in starts])  # noqa: E731
    return pick(crops), pick(face), pick(audio), pick(np.ones(n_steps + W, bool))


def test_embeddings_are_the_cnns_and_each_crop_runs_through_it_once(tiny_model):
    model = tiny_model(d=D)
    faces, mask, _, _ = overlapping_windows(40, 2)
    memo = FaceEmbeddingMemo()
    got = memo.encode(model, faces, mask)
    with torch.inference_mode():
        direct = model.encode_faces(torch.from_numpy(faces), torch.from_numpy(mask))
    np.testing.assert_allclose(got.numpy(), direct.numpy(), rtol=1e-5, atol=1e-6)
    distinct = len({faces[i, j].tobytes() for i, j in np.argwhere(mask)})
    assert memo.misses == distinct == len(memo)  # windows 2 steps apart: each crop ~5 times, CNN once
    assert memo.hits == int(mask.sum()) - distinct
    memo.encode(model, faces[:3], mask[:3])  # seen before: no CNN at all
    assert memo.misses == distinct


def test_predictions_with_the_memo_equal_those_without(tiny_model):
    model = tiny_model(d=D)
    faces, mask, audio, audio_mask = overlapping_windows(30, 3, seed=1)
    memo = FaceEmbeddingMemo()
    plain = predict_windows(model, faces, mask, audio, audio_mask)
    for half in (slice(0, 5), slice(5, None)):  # two batches: the second one mostly hits
        memoised = predict_windows(
            model,
            faces[half],
            mask[half],
            audio[half],
            audio_mask[half],
            memo.encode(model, faces[half], mask[half]),
        )
        for got, want in zip(memoised, plain, strict=True):
            np.testing.assert_allclose(got, want[half], rtol=1e-5, atol=1e-6)
    assert memo.hits > memo.misses


def test_the_memo_is_bounded_and_forgets_the_least_recently_used(tiny_model):
    model = tiny_model(d=D)
    faces, mask, _, _ = overlapping_windows(20, W, seed=2)  # back to back: no crop twice
    memo = FaceEmbeddingMemo(capacity=7)
    memo.encode(model, faces, mask)
    assert len(memo) == 7
    first = faces[0][mask[0]][0]
    memo.encode(model, first[None, None], np.ones((1, 1), bool))
    assert memo.misses == int(mask.sum()) + 1  # forgotten long ago: the CNN ran again
    with pytest.raises(ValueError, match="capacity"):
        FaceEmbeddingMemo(capacity=0)


def test_windows_without_faces_need_no_cnn(tiny_model):
    model = tiny_model(d=D)
    memo = FaceEmbeddingMemo()
    out = memo.encode(model, np.zeros((2, W, S, S, 3), np.uint8), np.zeros((2, W), bool))
    assert out.shape == (2, W, model.cfg.face_dim) and not out.any() and memo.misses == 0
