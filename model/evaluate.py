"""CCC of a model on labelled windows, per modality condition.

Conditions (what the model is shown; gold and the steps scored are the same in all of them):

* ``both``: the windows as the pipeline produced them;
* ``audio_only``: every face removed (``face_mask`` False, crops zeroed);
* ``face_only``: every soundtrack step removed (``audio_mask`` False);
* ``face_missing_50``: the face removed on a random 50 % of each video's steps (seeded per video index
  within the evaluated set; the same steps in every lane of the video), the scattered gaps a flaky
  detector or occlusions leave.

Scoring: one prediction per (video, step): the mean over the lanes where the step is ``valid`` (one
lane per visible face; the face-less lane elsewhere). CCC is pooled over all scored steps of all videos
(AVEC practice: concatenate, then one CCC), on the model's 0.2 s grid with gold averaged onto it.

Reproducible: the ``face_missing_50`` draw is seeded, and the forward passes run on a fixed number of
torch threads (``EVAL_THREADS``) whatever the caller's setting. CPU kernels reduce in an order that
depends on the thread count, so ``emotrace train`` (which scores the test split after training on
``--threads``) and a fresh ``emotrace evaluate`` process (torch's default: one thread per core) used to
print CCCs that differed in the last digits. Pure torch + numpy; no Beam import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from emotrace.model.ccc import ccc
from emotrace.model.data import WindowArrays, iter_batches, to_tensors
from emotrace.model.fused import FusedEmotionModel

CONDITIONS = ("both", "audio_only", "face_only", "face_missing_50")
DIMENSIONS = ("arousal", "valence")
EVAL_THREADS = 1  # the training default too: the same weights give the same numbers everywhere


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` torch CPU threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def condition_masks(arrays: WindowArrays, condition: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(face_mask, audio_mask), bool[N, W] each, for ``condition`` (see the module docstring)."""
    fm, am = arrays.face_mask, arrays.audio_mask
    if condition == "both":
        return fm, am
    if condition == "audio_only":
        return np.zeros_like(fm), am
    if condition == "face_only":
        return fm, np.zeros_like(am)
    if condition == "face_missing_50":
        # Draw per (video, step) so every lane of a video loses its face at the same steps; one stream
        # per video index, so a video's draw does not depend on the others' lengths.
        n_videos = int(arrays.video.max()) + 1 if len(arrays) else 0
        n_steps = int(arrays.start_step.max()) + arrays.window_steps if len(arrays) else 0
        drop = np.stack([np.random.default_rng([seed, v]).random(n_steps) < 0.5 for v in range(n_videos)])
        drop = drop.reshape(n_videos, n_steps)
        steps = arrays.start_step[:, None] + np.arange(arrays.window_steps)[None, :]
        return fm & ~drop[arrays.video[:, None], steps], am
    raise ValueError(f"unknown condition {condition!r}; choose from {CONDITIONS}")


def predict_arrays(
    model: FusedEmotionModel,
    arrays: WindowArrays,
    face_mask: np.ndarray | None = None,
    audio_mask: np.ndarray | None = None,
    batch_size: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Fused predictions float32[N, W, 2] as (arousal, valence) and attention float32[N, W, 2] as
    (face, audio), with optional replacement masks. ``model`` must be in eval mode."""
    if model.training:
        raise ValueError("evaluate a model in eval mode (call model.eval())")
    fm = arrays.face_mask if face_mask is None else face_mask
    am = arrays.audio_mask if audio_mask is None else audio_mask
    pred = np.zeros((len(arrays), arrays.window_steps, 2), np.float32)
    attn = np.zeros((len(arrays), arrays.window_steps, 2, 2), np.float32)
    with torch.inference_mode():
        for idx in iter_batches(len(arrays), batch_size, None):
            t = to_tensors(arrays.take(idx), fm[idx], am[idx])
            out = model(t["faces"], t["face_mask"], t["audio"], t["audio_mask"], unimodal=False)
            pred[idx] = torch.stack([out.arousal, out.valence], dim=-1).numpy()
            attn[idx] = out.attention.numpy()
    return pred, attn


def per_step(arrays: WindowArrays, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average ``values`` (float[N, W, K]) over the lanes of each valid (video, step).

    Returns (keys int64[M] as video * 2**32 + step, mean values float64[M, K], gold float32[M, 2]).
    """
    steps = arrays.start_step[:, None] + np.arange(arrays.window_steps)[None, :]
    keys_all = (arrays.video[:, None].astype(np.int64) << 32) + steps
    ok = arrays.valid
    keys, inverse = np.unique(keys_all[ok], return_inverse=True)
    counts = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
    vals = values[ok]
    mean = np.stack(
        [
            np.bincount(inverse, weights=vals[:, k], minlength=len(keys)) / counts
            for k in range(vals.shape[1])
        ],
        axis=1,
    )
    gold = np.zeros((len(keys), 2), np.float32)
    gold[inverse] = arrays.gold[ok]  # every lane of a step carries the same gold
    return keys, mean, gold


def score(arrays: WindowArrays, pred: np.ndarray) -> dict[str, float]:
    """Pooled CCC per dimension of ``pred`` (float[N, W, 2]) against the windows' gold."""
    _, mean, gold = per_step(arrays, pred)
    return {d: ccc(mean[:, i], gold[:, i]) for i, d in enumerate(DIMENSIONS)}


def clip_score(arrays: WindowArrays, pred: np.ndarray) -> dict[str, float]:
    """Clip-level CCC per dimension: each video's mean prediction over its scored steps against its
    mean gold (for per-clip labels, the clip's label)."""
    keys, mean, gold = per_step(arrays, pred)
    ok = ~np.isnan(gold).any(axis=1)
    videos, inv = np.unique(keys[ok] >> 32, return_inverse=True)
    n = np.bincount(inv, minlength=len(videos))
    out = {}
    for i, d in enumerate(DIMENSIONS):
        p = np.bincount(inv, weights=mean[ok, i], minlength=len(videos)) / n
        g = np.bincount(inv, weights=gold[ok, i], minlength=len(videos)) / n
        out[d] = ccc(p, g)
    return out


def evaluate_conditions(
    model: FusedEmotionModel,
    arrays: WindowArrays,
    conditions: tuple[str, ...] = CONDITIONS,
    seed: int = 0,
    clip_level: bool = False,
) -> dict[str, dict[str, float]]:
    """``{condition: {"arousal": ccc, "valence": ccc}}`` for each condition (on ``EVAL_THREADS``),
    step-level (pooled over steps); with ``clip_level`` also ``{"clip_" + condition: ...}`` (per-clip
    labels: the mean prediction per clip against its label)."""
    out: dict[str, dict[str, float]] = {}
    clips: dict[str, dict[str, float]] = {}
    with torch_threads(EVAL_THREADS):
        for cond in conditions:
            fm, am = condition_masks(arrays, cond, seed)
            pred, _ = predict_arrays(model, arrays, fm, am)
            out[cond] = score(arrays, pred)
            if clip_level:
                clips["clip_" + cond] = clip_score(arrays, pred)
    return {**out, **clips}


def attention_by_face(model: FusedEmotionModel, arrays: WindowArrays, seed: int = 0) -> dict[str, float]:
    """Mean audio attention weight (both dimensions) on valid steps with and without a face, in
    ``face_missing_50``:
    how much the fusion leans on the voice when the face is there vs when it is gone."""
    fm, am = condition_masks(arrays, "face_missing_50", seed)
    with torch_threads(EVAL_THREADS):
        _, attn = predict_arrays(model, arrays, fm, am)
    both = arrays.valid & am
    return {
        "audio_weight_face_present": float(attn[both & fm][..., 1].mean())
        if (both & fm).any()
        else float("nan"),
        "audio_weight_face_missing": float(attn[both & ~fm][..., 1].mean())
        if (both & ~fm).any()
        else float("nan"),
    }


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A plain-text table: one row per condition, one column per dimension."""
    lines = [f"{'condition':<18}{'arousal':>10}{'valence':>10}"]
    for cond, r in results.items():
        lines.append(f"{cond:<18}{r['arousal']:>10.3f}{r['valence']:>10.3f}")
    return "\n".join(lines)
