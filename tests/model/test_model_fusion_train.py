"""Training on frozen face embeddings: window kinds, clip-level scores, and a tiny run that learns."""

from __future__ import annotations

import numpy as np
import torch

from emotrace.model.config import ModelConfig
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.fusion_train import (
    AUDIO,
    PAIR,
    EmbWindows,
    FusionConfig,
    clip_scores,
    concat_windows,
    pair_windows,
    predict,
    still_windows,
    train_fusion,
)
from tests.model.conftest import TINY

W, D = 10, 4


def _audio(n: int, rng: np.random.Generator) -> EmbWindows:
    level = rng.uniform(-1, 1, n).astype(np.float32)
    audio = rng.normal(0, 0.1, (n, W, D)).astype(np.float32)
    audio[..., 0] += level[:, None] * 3
    valid = np.zeros((n, W), bool)
    valid[:, :8] = True
    gold = np.full((n, W, 2), np.nan, np.float32)
    gold[:, :8, 0] = level[:, None]
    gold[:, :8, 1] = 0.0
    return EmbWindows(np.full((n, W), -1), audio, valid.copy(), valid, gold, np.arange(n), np.full(n, AUDIO))


def test_still_and_pair_windows():
    table_rows = np.array([3, 5])
    s = still_windows(table_rows, np.array([[0.1, 0.2], [0.3, 0.4]], np.float32), np.array([7, 8]), 4, W, D)
    assert (s.face_idx[:, :4] == table_rows[:, None]).all() and (s.face_idx[:, 4:] == -1).all()
    assert not s.audio_mask.any() and (s.valid == s.face_mask).all()
    a = _audio(2, np.random.default_rng(0))
    p = pair_windows(a, np.array([3, 5]))
    assert (p.kind == PAIR).all() and (p.face_idx[a.valid] >= 0).all() and (p.face_idx[~a.valid] == -1).all()
    both = concat_windows([s, p])
    assert len(both) == 4 and both.face_idx.shape == (4, W)


def test_clip_scores_average_steps_per_item():
    a = _audio(6, np.random.default_rng(1))
    pred = np.zeros((6, W, 2), np.float32)
    pred[..., 0] = a.gold[..., 0]  # perfect arousal on the labelled steps
    pred[:, 8:, 0] = 5.0  # unlabelled padding never counts
    s = clip_scores(a, pred)
    assert np.isclose(s["arousal"], 1.0)


def test_a_tiny_fusion_run_learns_arousal_from_the_voice():
    rng = np.random.default_rng(2)
    train, dev = _audio(64, rng), _audio(32, rng)
    cfg = ModelConfig(n_audio_features=D, **TINY)
    face = FusedEmotionModel(cfg).face.state_dict()
    table = np.zeros((6, cfg.face_dim), np.float32)
    stats = (np.zeros(D, np.float32), np.ones(D, np.float32))
    state, history = train_fusion(
        cfg,
        face,
        stats,
        table,
        lambda e: train,
        lambda m: clip_scores(dev, predict(m, dev, table)),
        FusionConfig(epochs=12, batch=16, lr=5e-3, patience=12),
    )
    assert history[-1]["loss"] < history[0]["loss"]
    model = FusedEmotionModel(cfg)
    model.load_state_dict(state)
    assert clip_scores(dev, predict(model, dev, table))["arousal"] > 0.8
    assert all(torch.equal(state[f"face.{k}"], v) for k, v in face.items())  # the face branch stayed frozen
