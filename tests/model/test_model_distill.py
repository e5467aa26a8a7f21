"""Distillation trains the model's own face branch towards the teacher's soft labels; embeddings after."""

from __future__ import annotations

import numpy as np

from emotrace.model.config import ModelConfig
from emotrace.model.distill import DistillConfig, distill_face, epoch_order, face_embeddings, soften
from emotrace.model.fused import FusedEmotionModel
from tests.model.conftest import TINY


def test_soften():
    p = np.array([[0.9, 0.1, 0.0]], np.float32)
    assert np.allclose(soften(p, 1.0), p, atol=1e-6)
    q = soften(p, 2.0)
    assert np.isclose(q.sum(), 1) and q[0, 1] > p[0, 1] and q[0, 0] < p[0, 0]


def test_the_student_learns_a_teacher_that_sees_brightness():
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 60, (96, 32, 32, 3)).astype(np.uint8)
    bright = rng.random(96) < 0.5
    crops[bright] += 150
    target = np.where(bright[:, None], [[0.9, 0.1]], [[0.1, 0.9]]).astype(np.float32)
    model = FusedEmotionModel(ModelConfig(n_audio_features=4, **TINY))
    before = face_embeddings(model, crops[:4])
    out = distill_face(
        model, crops[:80], target[:80], crops[80:], target[80:], DistillConfig(epochs=6, batch=16, lr=5e-3)
    )
    assert out["dev_probs"].shape == (16, 2)
    assert (out["dev_probs"].argmax(1) == target[80:].argmax(1)).mean() >= 0.9
    assert not model.face.training
    emb = face_embeddings(model, crops[:4])
    assert emb.shape == (4, TINY["face_dim"]) and not np.allclose(emb, before)
    assert np.array_equal(emb, face_embeddings(model, crops[:4]))  # eval mode: deterministic


def test_balanced_epochs_draw_rare_classes_more_often():
    target = np.zeros((1000, 3), np.float32)
    target[:900, 0] = 1.0  # 900 views of class 0, 100 of class 1, none of class 2
    target[900:, 1] = 1.0
    plain = epoch_order(target, DistillConfig(balance=0.0), epoch=0)
    assert sorted(plain) == list(range(1000))  # a permutation: every view once
    order = epoch_order(target, DistillConfig(balance=0.5), epoch=0)
    assert len(order) == 1000
    # Weight ~ frequency^-0.5: class 1's share is 100 * 100^-0.5 / (that + 900 * 900^-0.5) = 0.25, not 0.10.
    assert 0.21 <= (order >= 900).mean() <= 0.29
    assert np.array_equal(order, epoch_order(target, DistillConfig(balance=0.5), epoch=0))
    assert not np.array_equal(order, epoch_order(target, DistillConfig(balance=0.5), epoch=1))
