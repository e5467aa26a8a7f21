"""The shipped demo bundle, scored on freshly generated synthetic posts it has never seen.

The posts come from another seed than the demo corpus (``default_rng([seed, k])`` streams do not
overlap), go through the analyze pipeline's own feature code, and are scored like ``emotrace evaluate``.
Thresholds sit a little below what the shipped bundle measures on these posts (docs/model.md, Results:
both 0.884 / 0.936, half the faces removed 0.895 / 0.914 for ``synthetic-demo-238618a43e``, trained on
gated windows; fused arousal is 0.004 above its bar), because 3 posts of 20 s give a noisier CCC than the
12-post test split the acceptance is measured on.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from emotrace.datasets.corpus import open_corpus
from emotrace.datasets.synth import build_corpus
from emotrace.datasets.window_cache import load_corpus
from emotrace.model.bundle import load_bundle
from emotrace.model.data import WindowArrays, concat
from emotrace.model.evaluate import attention_by_face, evaluate_conditions, predict_arrays
from emotrace.pipelines.train import analyze_config_for, demo_bundle_path

pytestmark = [pytest.mark.media, pytest.mark.slow]
HELD_OUT_SEED = 2024


@pytest.fixture(scope="module")
def bundle():
    path = demo_bundle_path()
    assert os.path.exists(path), "emotrace/assets/demo_bundle.pt is missing: run `emotrace train --demo`"
    return load_bundle(path)


@pytest.fixture(scope="module")
def held_out(bundle, tmp_path_factory: pytest.TempPathFactory) -> WindowArrays:
    root = tmp_path_factory.mktemp("held_out")
    build_corpus(str(root / "corpus"), n_posts=3, seed=HELD_OUT_SEED, workers=2)
    cfg = bundle.model_config
    videos = list(open_corpus(str(root / "corpus")).videos)
    return concat(
        load_corpus(videos, analyze_config_for(cfg), cfg.crop_size_px, str(root / "cache"), workers=2)
    )


@pytest.fixture(scope="module")
def results(bundle, held_out):
    return evaluate_conditions(bundle.build_model(), held_out)


def test_bundle_is_named_and_documented(bundle):
    assert bundle.version.startswith("synthetic-demo-")
    assert bundle.is_trained and bundle.training_fingerprint
    assert set(bundle.metrics["test"]) == {"both", "audio_only", "face_only", "face_missing_50"}
    assert os.path.getsize(demo_bundle_path()) < 10e6


def test_fused_ccc_on_unseen_posts(results):
    assert results["both"]["arousal"] >= 0.88, results
    assert results["both"]["valence"] >= 0.90, results


def test_fused_ccc_meets_the_acceptance_bar(bundle):
    assert min(bundle.metrics["test"]["both"].values()) >= 0.90


def test_losing_half_the_faces_meets_the_acceptance_bar(bundle):
    test = bundle.metrics["test"]
    for dim in ("arousal", "valence"):
        assert test["face_missing_50"][dim] >= test["both"][dim] - 0.05, test


def test_each_modality_alone_is_clearly_worse_somewhere(results):
    both = results["both"]
    assert results["audio_only"]["valence"] < both["valence"] - 0.15, results
    assert results["face_only"]["arousal"] < both["arousal"] - 0.10, results


def test_losing_half_the_faces_costs_little(results):
    # The acceptance bar (at most 0.05) on posts the bundle never saw; measured: valence -0.022,
    # arousal +0.011. The ablation trained without the missing-modality terms loses 0.119 of valence here.
    for dim in ("arousal", "valence"):
        assert results["face_missing_50"][dim] >= results["both"][dim] - 0.05, results


def test_attention_shifts_to_audio_where_the_face_is_missing(bundle, held_out):
    model = bundle.build_model()
    weights = attention_by_face(model, held_out)
    assert weights["audio_weight_face_missing"] == 1.0  # masked: exactly, not approximately
    assert weights["audio_weight_face_present"] < 0.9
    # Per dimension, the fusion leans on the voice for arousal more than for valence (synth: the voice
    # carries arousal, the face valence).
    fm = held_out.valid & held_out.face_mask & held_out.audio_mask
    _, attn = predict_arrays(model, held_out)
    audio_arousal, audio_valence = attn[fm][:, 0, 1].mean(), attn[fm][:, 1, 1].mean()
    assert audio_arousal > audio_valence + 0.2, (audio_arousal, audio_valence)
    # The same steps, with and without their face: audio's weight rises on every one of them.
    steps = held_out.valid & held_out.face_mask & held_out.audio_mask
    _, with_face = predict_arrays(model, held_out)
    _, without = predict_arrays(model, held_out, face_mask=np.zeros_like(held_out.face_mask))
    # For each dimension (arousal, valence): the voice's weight is 1 once the face is gone.
    assert (without[steps][..., 1] == 1.0).all()
    assert (without[steps][..., 1] > with_face[steps][..., 1]).all()


def test_the_synthetic_talker_is_the_one_speaking(held_out):
    """The corpus's one face talks in sync with the voice, so the speaking gate (features/speaking.py)
    should give it the voice on most steps with one: a step whose voice went to a face-less row while the
    face was seen is a miss (a hit: the face's row has the audio, its short pauses included). Measured on
    these 3 posts: 228 hits, 31 misses, 0.88 (synth-v3); 0.75 on synth-v2's posts, whose mouth opened too
    little to be seen talking, which cost the demo bundle's fused arousal (docs/speaking.md)."""
    hits = misses = 0
    for video in np.unique(held_out.video):
        face_audio: dict[int, bool] = {}  # step -> the face's row has the audio there
        voice_over: set[int] = set()  # steps with a face-less row
        for k in np.flatnonzero(held_out.video == video):
            steps = held_out.start_step[k] + np.flatnonzero(held_out.valid[k])
            if held_out.track_id[k] < 0:
                voice_over.update(steps.tolist())
                continue
            for i, step in zip(np.flatnonzero(held_out.valid[k]), steps, strict=True):
                face_audio[int(step)] = face_audio.get(int(step), False) or bool(held_out.audio_mask[k, i])
        hits += sum(face_audio.values())
        misses += sum(1 for s, got in face_audio.items() if not got and s in voice_over)
    assert hits + misses >= 150
    assert hits / (hits + misses) >= 0.8, (hits, misses)
