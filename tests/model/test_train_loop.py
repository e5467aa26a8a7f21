"""Training on a tiny real corpus: features through the analyze core (cached), loss goes down,
resuming from a checkpoint gives bit-identical weights, evaluation conditions and scoring."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from emotrace.datasets.corpus import open_corpus
from emotrace.datasets.synth import SynthConfig, build_corpus
from emotrace.datasets.window_cache import cached_windows, load_corpus
from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
from emotrace.model.config import ModelConfig
from emotrace.model.data import ModalityDropout, WindowArrays, audio_stats, concat
from emotrace.model.evaluate import condition_masks, evaluate_conditions, per_step, score
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.train import TrainConfig, train_model
from emotrace.schemas.config import AnalyzeConfig, FaceConfig, GridConfig

from .conftest import TINY

pytestmark = pytest.mark.media

CFG = AnalyzeConfig(grid=GridConfig(step_s=0.2, window_steps=10), faces=FaceConfig(crop_size_px=32))


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[WindowArrays]]:
    """3 synthetic posts of 6 s, windows of 10 steps with 32 px crops (the TINY model's input)."""
    root = tmp_path_factory.mktemp("tiny_synth")
    build_corpus(str(root / "corpus"), n_posts=3, seed=11, cfg=SynthConfig(duration_s=6.0))
    corpus = open_corpus(str(root / "corpus"))
    return root, load_corpus(list(corpus.videos), CFG, 32, str(root / "cache"))


def _model_cfg() -> ModelConfig:
    return ModelConfig(n_audio_features=len(AUDIO_FEATURE_NAMES), **TINY)


def test_windows_cover_the_video_with_gold_on_the_grid(tiny_corpus):
    root, windows = tiny_corpus
    for i, w in enumerate(windows):
        assert (w.video == i).all()
        keys, _, gold = per_step(w, np.zeros((*w.valid.shape, 1)))
        assert len(keys) == 30  # 6 s / 0.2 s: every step scored exactly once
        assert not np.isnan(gold).any() and np.abs(gold).max() <= 1
    # Second load comes from the cache and is identical.
    video = open_corpus(str(root / "corpus")).videos[0]
    arrays, was_cached = cached_windows(video, CFG, 32, str(root / "cache"))
    assert was_cached
    assert np.array_equal(arrays.faces, windows[0].faces) and np.array_equal(arrays.audio, windows[0].audio)


def test_cache_key_follows_the_config(tiny_corpus, tmp_path):
    root, _ = tiny_corpus
    video = open_corpus(str(root / "corpus")).videos[0]
    other = dataclasses.replace(CFG, grid=GridConfig(step_s=0.2, window_steps=5))
    arrays, was_cached = cached_windows(video, other, 32, str(root / "cache"))
    assert not was_cached and arrays.window_steps == 5


def test_loss_decreases_and_resume_is_bit_identical(tiny_corpus, tmp_path):
    _, windows = tiny_corpus
    train = concat(windows)
    # 8 epochs: the tiny model's loss is noisy from epoch to epoch (on synth-v3's posts 3.79, 3.75, 3.65,
    # 3.84, 3.50, 3.33, 2.74, 2.76: 4 epochs ended on the bump), and 8 show a clear fall.
    cfg = TrainConfig(epochs=8, batch_windows=4, lr=3e-3, patience=10, seed=3)
    full = train_model(_model_cfg(), train, None, cfg)
    losses = [row["loss"] for row in full.history]
    assert losses[-1] < 0.9 * losses[0], losses

    ck = str(tmp_path / "ck.pt")
    first = train_model(_model_cfg(), train, None, cfg, ck, max_epochs_this_run=2)
    assert len(first.history) == 2
    resumed = train_model(_model_cfg(), train, None, cfg, ck, resume=True)
    assert [r["loss"] for r in resumed.history] == losses
    for k, v in full.state_dict.items():
        assert torch.equal(v, resumed.state_dict[k]), k


def test_resume_refuses_a_checkpoint_of_other_settings(tiny_corpus, tmp_path):
    _, windows = tiny_corpus
    ck = str(tmp_path / "ck.pt")
    train_model(_model_cfg(), concat(windows), None, TrainConfig(epochs=1, seed=1), ck)
    with pytest.raises(ValueError, match="other settings"):
        train_model(_model_cfg(), concat(windows), None, TrainConfig(epochs=1, seed=2), ck, resume=True)


def test_audio_stats_are_set_from_train(tiny_corpus):
    _, windows = tiny_corpus
    train = concat(windows)
    result = train_model(_model_cfg(), train, None, TrainConfig(epochs=1))
    mean, std = audio_stats(train)
    assert np.allclose(result.state_dict["audio_mean"].numpy(), mean)
    assert np.allclose(result.state_dict["audio_std"].numpy(), std)
    assert (std > 0).all()


def test_conditions_mask_what_they_say(tiny_corpus):
    _, windows = tiny_corpus
    arrays = concat(windows)
    fm, am = condition_masks(arrays, "audio_only")
    assert not fm.any() and np.array_equal(am, arrays.audio_mask)
    fm, am = condition_masks(arrays, "face_only")
    assert not am.any() and np.array_equal(fm, arrays.face_mask)
    fm, _ = condition_masks(arrays, "face_missing_50", seed=0)
    assert not (fm & ~arrays.face_mask).any()
    kept = fm[arrays.face_mask].mean()
    assert 0.35 < kept < 0.65


def test_modality_dropout_only_removes():
    rng = np.random.default_rng(0)
    fm = rng.random((200, 10)) < 0.8
    am = np.ones((200, 10), bool)
    new_fm, new_am = ModalityDropout().apply(fm, am, rng)
    assert not (new_fm & ~fm).any() and not (new_am & ~am).any()
    assert (~new_fm.any(axis=1) & fm.any(axis=1)).mean() > 0.05  # some windows lose every face
    assert (~new_am.any(axis=1)).mean() > 0.05


def test_evaluate_returns_every_condition_and_perfect_predictions_score_one(tiny_corpus):
    _, windows = tiny_corpus
    arrays = concat(windows)
    assert score(arrays, np.nan_to_num(arrays.gold)) == pytest.approx({"arousal": 1.0, "valence": 1.0})
    torch.manual_seed(0)
    model = FusedEmotionModel(_model_cfg()).eval()
    out = evaluate_conditions(model, arrays)
    assert list(out) == ["both", "audio_only", "face_only", "face_missing_50"]
    assert all(set(v) == {"arousal", "valence"} for v in out.values())


def test_evaluation_does_not_depend_on_the_callers_threads(tiny_corpus):
    # `emotrace train` scores the test split on --threads, a fresh `emotrace evaluate` on torch's default
    # (one per core): both must print the same numbers, exactly, and leave the caller's setting alone.
    _, windows = tiny_corpus
    arrays = concat(windows)
    torch.manual_seed(0)
    model = FusedEmotionModel(_model_cfg()).eval()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with_two = evaluate_conditions(model, arrays)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert evaluate_conditions(model, arrays) == with_two
        assert evaluate_conditions(model, arrays) == with_two  # and a second run
    finally:
        torch.set_num_threads(before)
