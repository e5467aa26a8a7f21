"""The synthetic corpus: latents drive the cues, missing stretches are really missing, determinism."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest

from emotrace.datasets.labels import read_label_csv
from emotrace.datasets.synth import (
    LABEL_RATE_HZ,
    PostPlan,
    SynthConfig,
    build_corpus,
    plan_post,
    render_frames,
    smooth_latent,
    split_of,
)
from emotrace.datasets.synth_audio import VoiceParams, plan_syllables, render_voice
from emotrace.datasets.synth_face import FaceCues, astronaut_rig, render_expression


def _vertical_shift(img: np.ndarray, ref: np.ndarray, cx: float, cy: float, r: int = 6) -> int:
    """How far (px) the content around (cx, cy) moved up vs ``ref`` (best SSD match of a patch)."""
    cx, cy = round(cx), round(cy)
    patch = img[cy - r : cy + r + 1, cx - r : cx + r + 1]
    return min(
        range(-10, 11),
        key=lambda d: float(((patch - ref[cy - r + d : cy + r + 1 + d, cx - r : cx + r + 1]) ** 2).sum()),
    )


def test_mouth_corners_rise_monotonically_with_smile():
    rig = astronaut_rig()
    neutral = rig.image.astype(float).mean(-1)
    shifts = []
    for smile in (-1.0, -0.5, 0.0, 0.5, 1.0):
        img = (
            render_expression(rig, FaceCues(smile=smile, open=0.0, brow=0.0, knit=0.0)).astype(float).mean(-1)
        )
        shifts.append([_vertical_shift(img, neutral, *rig.landmarks[i]) for i in (3, 4)])
    shifts = np.array(shifts)
    assert (np.diff(shifts, axis=0) > 0).all(), shifts  # strictly up as valence grows, both corners
    assert shifts[2].tolist() == [0, 0]  # neutral is the photo itself
    assert shifts[-1].min() >= 3 and shifts[0].max() <= -3


def test_brows_rise_with_brow_cue_and_the_rest_of_the_photo_is_untouched():
    rig = astronaut_rig()
    neutral = rig.image.astype(float).mean(-1)
    eye_x, eye_y = rig.landmarks[0]
    brow_y = eye_y - 0.32 * rig.interocular_px
    ups = []
    for brow in (-1.0, 0.0, 1.0):
        img = render_expression(rig, FaceCues(smile=0.0, open=0.0, brow=brow, knit=0.0))
        ups.append(_vertical_shift(img.astype(float).mean(-1), neutral, eye_x, brow_y))
        assert np.array_equal(img[300:], rig.image[300:])  # the warp stays on the face
    assert ups[0] < ups[1] == 0 < ups[2]


def test_latents_are_smooth_bounded_and_deterministic():
    a = smooth_latent(500, 1.5 * LABEL_RATE_HZ, np.random.default_rng(3))
    b = smooth_latent(500, 1.5 * LABEL_RATE_HZ, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert a.min() > -1 and a.max() < 1 and a.std() > 0.3  # uses the range
    assert np.abs(np.diff(a)).max() < 0.1  # smooth at 40 ms


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


def test_voice_gets_louder_faster_and_higher_with_arousal():
    voice = VoiceParams(base_f0_hz=160.0)
    stats = []
    for level in (-0.8, 0.0, 0.8):
        rng = np.random.default_rng(0)
        syl = plan_syllables(20.0, lambda t, lv=level: lv, lambda t: 0.0, voice, rng)
        audio = render_voice(syl, 20.0, rng)
        voiced = np.concatenate(
            [audio[round(s.start_s * 16000) : round((s.start_s + s.dur_s) * 16000)] for s in syl]
        )
        stats.append((_rms_db(voiced), len(syl) / 20.0, np.median([s.f0_hz for s in syl])))
    loud, rate, f0 = np.array(stats).T
    assert np.all(np.diff(loud) > 4.0), loud  # ~9 dB per unit of arousal
    assert np.all(np.diff(rate) > 0.2), rate  # syllables per second
    assert np.all(np.diff(f0) > 10.0), f0


def test_loudness_tracks_a_varying_arousal_latent():
    rng = np.random.default_rng(5)
    t = np.arange(0, 30, 0.04)
    arousal = smooth_latent(len(t), 1.5 * LABEL_RATE_HZ, rng)
    syl = plan_syllables(
        30.0, lambda x: float(np.interp(x, t, arousal)), lambda x: 0.0, VoiceParams(160.0), rng
    )
    audio = render_voice(syl, 30.0, rng)
    loud = [_rms_db(audio[round(s.start_s * 16000) : round((s.start_s + s.dur_s) * 16000)]) for s in syl]
    at = [np.interp(s.start_s, t, arousal) for s in syl]
    assert np.corrcoef(loud, at)[0, 1] > 0.8


def test_silent_stretches_have_no_syllables():
    voice = VoiceParams(base_f0_hz=160.0, silences=((3.0, 5.0),))
    syl = plan_syllables(10.0, lambda t: 0.5, lambda t: 0.0, voice, np.random.default_rng(1))
    assert syl and all(s.start_s + s.dur_s <= 3.0 or s.start_s >= 5.0 for s in syl)


def _plan_with(kind: str) -> tuple[PostPlan, SynthConfig]:
    cfg = SynthConfig(duration_s=6.0, fps=5.0)
    plan = plan_post(cfg, np.random.default_rng(0))
    return replace(plan, face_missing=((2.0, 4.0, kind),)), cfg


@pytest.mark.parametrize("kind", ["occluded", "panned_away"])
def test_missing_face_stretches_hide_the_face_from_the_detector(kind):
    from emotrace.features.faces import FaceDetector
    from emotrace.schemas.config import FaceConfig

    plan, cfg = _plan_with(kind)
    frames = render_frames(plan, np.zeros(30), cfg)
    found = [bool(f) for f in FaceDetector(FaceConfig()).detect(frames)]
    t = np.arange(30) / cfg.fps
    assert all(found[i] for i in np.flatnonzero((t < 1.4) | (t >= 4.6)))  # visible outside (ramps aside)
    assert not any(found[i] for i in np.flatnonzero((t >= 2.0) & (t < 4.0)))


def test_splits():
    assert [split_of(k, 24) for k in range(24)].count("test") == 4
    assert [split_of(k, 24) for k in range(24)].count("dev") == 4
    assert {split_of(k, 3) for k in range(3)} == {"train"}


@pytest.mark.media
def test_build_corpus_writes_videos_labels_manifest_and_is_deterministic(tmp_path):
    cfg = SynthConfig(duration_s=3.0)
    rows = build_corpus(str(tmp_path / "a"), n_posts=2, seed=7, cfg=cfg)
    build_corpus(str(tmp_path / "b"), n_posts=1, seed=7, cfg=cfg)
    assert [r["post_id"] for r in rows] == ["post_000", "post_001"]
    with open(tmp_path / "a" / "manifest.csv", newline="") as f:
        manifest = list(csv.DictReader(f))
    assert list(manifest[0]) == ["video_uri", "post_id", "labels_uri", "split", "duration_s"]
    assert (tmp_path / "a" / manifest[0]["video_uri"]).stat().st_size > 10_000
    labels = read_label_csv(str(tmp_path / "a" / manifest[0]["labels_uri"]))
    assert len(labels.t_s) == 75 and np.allclose(np.diff(labels.t_s), 0.04)
    assert np.all(np.abs(labels.values) <= 1)
    same = read_label_csv(str(tmp_path / "b" / "labels" / "post_000.csv"))
    assert np.array_equal(labels.values, same.values)  # post 0 does not depend on how many posts follow
    meta = json.loads((tmp_path / "a" / "synth.json").read_text())
    assert meta["seed"] == 7 and meta["n_posts"] == 2
