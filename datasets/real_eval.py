"""A bundle measured on real people it never saw: the figures of docs/model.md's *Results on real data*.

Everything goes through the product's path: media through the analyze pipeline's feature code
(``datasets.window_cache``; stills through ``datasets.stills``), the bundle's model with its face CNN.

* ``ravdess``: the held-out RAVDESS actors (voice only): clip-level CCC (the mean prediction over a
  clip's steps against its label) and step-level CCC (every step against its clip's label), and the
  share of category pairs put in the table's order;
* ``london``: held-out London identities: per person, does the smiling photo get a higher valence than
  the neutral one;
* ``validation``: the validation-only expression set (measurement only, never training or selection):
  mean valence and arousal per category, the order checks of the acceptance, pairs ordered;
* ``pairs``: both modalities: held-out RAVDESS clips with a held-out London face of the same category
  on every step (neutral and calm with a neutral photo, happy with a smiling one; a pairing, not a
  recording), scored with both, the voice alone and the face alone.

Pure core: no Beam import.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from emotrace.datasets.categories import CATEGORY_POINTS, canonical, category_point, is_known
from emotrace.datasets.face_pool import realdata_face_sources
from emotrace.datasets.labels import LabelledVideo
from emotrace.datasets.ravdess import load_ravdess
from emotrace.datasets.window_cache import analyze_config_for, load_corpus
from emotrace.model.bundle import ModelBundle
from emotrace.model.ccc import ccc
from emotrace.model.data import WindowArrays
from emotrace.model.evaluate import EVAL_THREADS, predict_arrays, torch_threads
from emotrace.model.fused import FusedEmotionModel
from emotrace.schemas.config import AnalyzeConfig

DIMS = ("arousal", "valence")


def analyze_config(bundle: ModelBundle) -> AnalyzeConfig:
    """The config a bundle's features are made with: its recorded frame rate and decode size on its
    grid (the pipeline's defaults for what it does not record)."""
    cfg, pre = analyze_config_for(bundle.model_config), bundle.preprocessing
    decode = dataclasses.replace(
        cfg.decode,
        frame_rate_hz=pre.frame_rate_hz,
        max_side_px=pre.max_side_px if pre.max_side_px is not None else cfg.decode.max_side_px,
        scale=pre.decode_scale if pre.decode_scale is not None else cfg.decode.scale,
    )
    return dataclasses.replace(cfg, decode=decode)


def item_predictions(
    model: FusedEmotionModel, arrays: WindowArrays, face: bool = True, audio: bool = True
) -> np.ndarray:
    """float64[2] mean (arousal, valence) over an item's valid steps (NaN: no valid step); ``face`` /
    ``audio`` False removes that modality."""
    if not arrays.valid.any():
        return np.full(2, np.nan)
    fm = arrays.face_mask if face else np.zeros_like(arrays.face_mask)
    am = arrays.audio_mask if audio else np.zeros_like(arrays.audio_mask)
    with torch_threads(EVAL_THREADS):
        pred, _ = predict_arrays(model, arrays, fm, am)
    return pred[arrays.valid].mean(axis=0).astype(np.float64)


def _step_pairs(model: FusedEmotionModel, arrays: WindowArrays) -> tuple[np.ndarray, np.ndarray]:
    with torch_threads(EVAL_THREADS):
        pred, _ = predict_arrays(model, arrays)
    return pred[arrays.valid], arrays.gold[arrays.valid]


def pairs_ordered(pred: np.ndarray, points: np.ndarray, min_gap: float = 0.05) -> float:
    """Share of item pairs whose label points differ by more than ``min_gap`` on a dimension that the
    predictions put in the same order (float[N] each); NaN if no such pair."""
    right = total = 0
    for i, j in itertools.combinations(range(len(pred)), 2):
        gap = points[i] - points[j]
        if abs(gap) > min_gap and not np.isnan(pred[i] - pred[j]):
            total += 1
            right += int(np.sign(pred[i] - pred[j]) == np.sign(gap))
    return right / total if total else float("nan")


def ravdess(bundle: ModelBundle, items: Sequence[LabelledVideo], cache: str, workers: int) -> dict[str, Any]:
    """Clip- and step-level CCC and pairs ordered on ``items`` (RAVDESS clips)."""
    model = bundle.build_model()
    windows = load_corpus(items, analyze_config(bundle), bundle.model_config.crop_size_px, cache, workers)
    clip = np.array([item_predictions(model, w) for w in windows])
    gold = np.array([v.clip_label for v in items], np.float64)
    steps = [_step_pairs(model, w) for w in windows]
    sp, sg = np.concatenate([s[0] for s in steps]), np.concatenate([s[1] for s in steps])
    return {
        "n_clips": len(items),
        "actors": sorted({v.group or "" for v in items}),
        "clip_ccc": {d: ccc(clip[:, i], gold[:, i]) for i, d in enumerate(DIMS)},
        "step_ccc": {d: ccc(sp[:, i], sg[:, i]) for i, d in enumerate(DIMS)},
        "pairs_ordered": {d: pairs_ordered(clip[:, i], gold[:, i]) for i, d in enumerate(DIMS)},
    }


def london_items(realdata: str, split: str = "test") -> list[LabelledVideo]:
    return [
        LabelledVideo(
            os.path.basename(s.path),
            s.path,
            split,
            (),
            clip_label=category_point(s.label or "neutral"),
            category=s.label,
            kind="image",
            group=s.identity,
        )
        for s in realdata_face_sources(realdata)
        if s.corpus == "london" and s.split == split
    ]


def london(
    bundle: ModelBundle, realdata: str, cache: str, workers: int, split: str = "test"
) -> dict[str, Any]:
    """Per held-out identity: predicted valence smiling minus neutral."""
    items = london_items(realdata, split)
    model = bundle.build_model()
    windows = load_corpus(items, analyze_config(bundle), bundle.model_config.crop_size_px, cache, workers)
    by_person: dict[str, dict[str, float]] = {}
    for item, w in zip(items, windows, strict=True):
        by_person.setdefault(item.group or "", {})[item.category or ""] = item_predictions(model, w)[1]
    both = {
        p: e
        for p, e in by_person.items()
        if not np.isnan(e.get("smiling", np.nan) - e.get("neutral", np.nan))
    }
    deltas = np.array([e["smiling"] - e["neutral"] for e in both.values()])
    return {
        "n_people": len(both),
        "n_people_without_two_faces": len(by_person) - len(both),
        "smile_raises_valence_share": float((deltas > 0).mean()) if len(deltas) else float("nan"),
        "mean_valence_change": float(deltas.mean()) if len(deltas) else float("nan"),
        "mean_valence": {k: float(np.mean([e[k] for e in both.values()])) for k in ("neutral", "smiling")}
        if both
        else {},
    }


def validation_items(realdata: str) -> list[LabelledVideo]:
    """The validation-only expression set: measurement only (its README forbids training on it)."""
    root = os.path.join(realdata, "validation-only", "facial_expressions")
    with open(os.path.join(root, "labels.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        LabelledVideo(
            r["file"],
            os.path.join(root, r["file"]),
            "test",
            (),
            clip_label=category_point(r["expression"]) if is_known(r["expression"]) else (float("nan"),) * 2,
            category=r["expression"],
            kind="image",
        )
        for r in rows
    ]


def validation(bundle: ModelBundle, realdata: str, cache: str, workers: int) -> dict[str, Any]:
    """Mean valence and arousal per category, the acceptance's order checks and pairs ordered."""
    items = validation_items(realdata)
    model = bundle.build_model()
    windows = load_corpus(items, analyze_config(bundle), bundle.model_config.crop_size_px, cache, workers)
    preds = np.array([item_predictions(model, w) for w in windows])
    found = ~np.isnan(preds[:, 0])
    per: dict[str, dict[str, float]] = {}
    for cat in sorted({v.category or "" for v in items}):
        sel = found & np.array([v.category == cat for v in items])
        per[cat] = {"n": int(sel.sum()), **{d: float(preds[sel, i].mean()) for i, d in enumerate(DIMS)}}
    v = {c: per[c]["valence"] for c in per}
    mapped = found & np.array([is_known(x.category or "") for x in items])
    points = np.array(
        [
            CATEGORY_POINTS[canonical(x.category or "")] if is_known(x.category or "") else (np.nan, np.nan)
            for x in items
        ]
    )
    return {
        "n_images": len(items),
        "n_without_face": int((~found).sum()),
        "per_category": per,
        "happiness_above_neutral": v["happiness"] > v["neutral"],
        "neutral_above": {c: v["neutral"] > v[c] for c in ("anger", "sadness", "disgust")},
        "pairs_ordered": {d: pairs_ordered(preds[mapped, i], points[mapped, i]) for i, d in enumerate(DIMS)},
    }


def _paired_arrays(audio: WindowArrays, face: WindowArrays) -> WindowArrays:
    """The clip's windows with the still's crop on every valid step."""
    crop = face.faces[0][face.face_mask[0]][0]
    faces = np.zeros_like(audio.faces)
    faces[audio.valid] = crop
    return replace(audio, faces=faces, face_mask=audio.valid.copy())


def pairs(
    bundle: ModelBundle, rav_items: Sequence[LabelledVideo], realdata: str, cache: str, workers: int
) -> dict[str, Any]:
    """Both modalities on paired held-out items (see the module docstring); clip-level CCC."""
    face_items = london_items(realdata, "test")
    cfg, crop = analyze_config(bundle), bundle.model_config.crop_size_px
    faces = dict(
        zip([f.post_id for f in face_items], load_corpus(face_items, cfg, crop, cache, workers), strict=True)
    )
    by_cat = {
        c: [f for f in face_items if f.category == c and len(faces[f.post_id])]
        for c in ("neutral", "smiling")
    }
    want = {"neutral": "neutral", "calm": "neutral", "happy": "smiling"}
    clips = [v for v in rav_items if v.category in want and by_cat[want[v.category or ""]]]
    audio = load_corpus(clips, cfg, crop, cache, workers)
    model = bundle.build_model()
    out: dict[str, Any] = {"n_clips": len(clips)}
    gold = np.array([v.clip_label for v in clips], np.float64)
    for name, f_on, a_on in (("both", True, True), ("voice_only", False, True), ("face_only", True, False)):
        preds = []
        for i, (v, w) in enumerate(zip(clips, audio, strict=True)):
            pool = by_cat[want[v.category or ""]]
            paired = _paired_arrays(w, faces[pool[i % len(pool)].post_id])
            preds.append(item_predictions(model, paired, face=f_on, audio=a_on))
        p = np.array(preds)
        out[name] = {d: ccc(p[:, k], gold[:, k]) for k, d in enumerate(DIMS)}
    return out


def ravdess_test_items(realdata: str) -> list[LabelledVideo]:
    return [v for v in load_ravdess(os.path.join(realdata, "speech", "ravdess")) if v.split == "test"]
