"""Training the fused model on a frozen, distilled face branch: windows that point into an embedding table.

After distillation (``model.distill``) the face CNN is fixed, so every face crop's embedding is computed
once; training then runs the audio branch, the attention fusion, the temporal model and the head only,
which makes an epoch over thousands of windows take seconds on one CPU thread. A window here is
``EmbWindows``: the pipeline's window layout (``W`` steps; masks; descriptors; per-step gold) with, per
step, an index into the face-embedding table instead of a crop (-1: no face).

Kinds of windows, so the fused model sees both modalities although every labelled item has one:
``AUDIO`` (speech clips: the face missing by construction), ``FACE`` (a face held still, a view of a
portrait), ``VIDEO`` (consecutive frames of a real video, with its audio where it is labelled),
``PAIR`` (a speech clip with a face of the same category on every step: an audio-visual item built by
pairing, documented in docs/model.md). The loss is ``MissingModalityCCCLoss`` over mixed batches.
Deterministic: seeded per epoch, one torch thread. Pure torch + numpy; no Beam import.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from emotrace.model.ccc import ccc
from emotrace.model.config import ModelConfig
from emotrace.model.data import ModalityDropout, WindowArrays
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.loss import MissingModalityCCCLoss

log = logging.getLogger("emotrace.train")
AUDIO, FACE, VIDEO, PAIR = 0, 1, 2, 3


@dataclass(frozen=True)
class EmbWindows:
    """N windows of W steps. face_idx: int64[N, W] row of the embedding table (-1: no face); audio:
    float32[N, W, D]; audio_mask, valid: bool[N, W]; gold: float32[N, W, 2] (arousal, valence), NaN where
    unlabelled; item: int64[N] the clip or face each window belongs to (clip-level scores); kind: int64[N]."""

    face_idx: np.ndarray
    audio: np.ndarray
    audio_mask: np.ndarray
    valid: np.ndarray
    gold: np.ndarray
    item: np.ndarray
    kind: np.ndarray

    def __len__(self) -> int:
        return len(self.item)

    def take(self, idx: np.ndarray) -> EmbWindows:
        return EmbWindows(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @property
    def face_mask(self) -> np.ndarray:
        return self.face_idx >= 0


def empty_windows(window: int, n_features: int) -> EmbWindows:
    return EmbWindows(
        np.zeros((0, window), np.int64),
        np.zeros((0, window, n_features), np.float32),
        np.zeros((0, window), bool),
        np.zeros((0, window), bool),
        np.zeros((0, window, 2), np.float32),
        np.zeros(0, np.int64),
        np.zeros(0, np.int64),
    )


def concat_windows(parts: Sequence[EmbWindows]) -> EmbWindows:
    """The windows of ``parts`` in order (empty parts are skipped; at least one part is needed)."""
    if not parts:
        raise ValueError("concat_windows needs at least one part")
    parts = [p for p in parts if len(p)] or [parts[0]]
    return EmbWindows(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(EmbWindows)}
    )


def from_arrays(arrays: WindowArrays, kind: int, face_rows: np.ndarray | None = None) -> EmbWindows:
    """The pipeline's windows; ``face_rows`` int64[N, W] their crops' rows in the table (None: no face)."""
    idx = np.full(arrays.valid.shape, -1, np.int64) if face_rows is None else face_rows
    return EmbWindows(
        idx,
        arrays.audio.astype(np.float32),
        arrays.audio_mask.copy(),
        arrays.valid.copy(),
        arrays.gold.astype(np.float32),
        arrays.video.astype(np.int64),
        np.full(len(arrays), kind, np.int64),
    )


def still_windows(
    rows: np.ndarray, targets: np.ndarray, items: np.ndarray, steps: int, window: int, n_features: int
) -> EmbWindows:
    """One window per face: table row ``rows[i]`` held for ``steps`` steps with gold ``targets[i]``
    (float32[N, 2]), no audio."""
    n = len(rows)
    face_idx = np.full((n, window), -1, np.int64)
    face_idx[:, :steps] = rows[:, None]
    valid = face_idx >= 0
    gold = np.full((n, window, 2), np.nan, np.float32)
    gold[:, :steps] = targets[:, None, :]
    return EmbWindows(
        face_idx,
        np.zeros((n, window, n_features), np.float32),
        np.zeros((n, window), bool),
        valid,
        gold,
        items.astype(np.int64),
        np.full(n, FACE, np.int64),
    )


def pair_windows(audio: EmbWindows, face_rows: np.ndarray) -> EmbWindows:
    """``audio`` windows with face row ``face_rows[i]`` on every step of window ``i`` with audio."""
    idx = np.where(audio.valid & audio.audio_mask, face_rows[:, None], -1)
    return replace(audio, face_idx=idx.astype(np.int64), kind=np.full(len(audio), PAIR, np.int64))


@dataclass(frozen=True)
class FusionConfig:
    epochs: int = 25
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    unimodal_weight: float = 0.5
    patience: int = 8
    seed: int = 0
    threads: int = 1
    grad_clip: float = 5.0


def _tensors(w: EmbWindows, table: torch.Tensor, fm: np.ndarray, am: np.ndarray) -> dict[str, torch.Tensor]:
    idx = torch.from_numpy(np.where(fm, w.face_idx, 0))
    emb = table[idx] * torch.from_numpy(fm).unsqueeze(-1)
    return {
        "emb": emb,
        "face_mask": torch.from_numpy(np.ascontiguousarray(fm)),
        "audio": torch.from_numpy(np.ascontiguousarray(w.audio)),
        "audio_mask": torch.from_numpy(np.ascontiguousarray(am)),
        "valid": torch.from_numpy(np.ascontiguousarray(w.valid)),
        "gold": torch.from_numpy(np.ascontiguousarray(w.gold)),
    }


def _forward(model: FusedEmotionModel, t: dict[str, torch.Tensor], unimodal: bool) -> Any:
    b, w = t["face_mask"].shape
    dummy = torch.zeros(b, w, 1, 1, 3, dtype=torch.uint8)  # crops are not used with embeddings
    return model(dummy, t["face_mask"], t["audio"], t["audio_mask"], unimodal, face_embeddings=t["emb"])


@torch.no_grad()
def predict(
    model: FusedEmotionModel,
    w: EmbWindows,
    table: np.ndarray,
    fm: np.ndarray | None = None,
    am: np.ndarray | None = None,
) -> np.ndarray:
    """Fused predictions float32[N, W, 2] (arousal, valence); optional replacement masks."""
    model.eval()
    fm = w.face_mask if fm is None else fm
    am = w.audio_mask if am is None else am
    tab = torch.from_numpy(table)
    out = np.zeros((len(w), w.valid.shape[1], 2), np.float32)
    for s in range(0, len(w), 64):
        sl = slice(s, s + 64)
        o = _forward(model, _tensors(w.take(np.arange(len(w))[sl]), tab, fm[sl], am[sl]), unimodal=False)
        out[sl] = torch.stack([o.arousal, o.valence], dim=-1).numpy()
    return out


def clip_scores(w: EmbWindows, pred: np.ndarray) -> dict[str, float]:
    """CCC per dimension between the mean prediction per item and its mean gold over valid steps."""
    ok = w.valid & ~np.isnan(w.gold[..., 0])
    items, inv = np.unique(np.broadcast_to(w.item[:, None], ok.shape)[ok], return_inverse=True)
    counts = np.bincount(inv, minlength=len(items))
    out = {}
    for d, name in enumerate(("arousal", "valence")):
        p = np.bincount(inv, pred[..., d][ok], len(items)) / counts
        g = np.bincount(inv, w.gold[..., d][ok], len(items)) / counts
        out[name] = ccc(p, g)
    return out


def _train_epoch(
    model: FusedEmotionModel,
    windows: EmbWindows,
    tab: torch.Tensor,
    rng: np.random.Generator,
    opt: torch.optim.Optimizer,
    loss_fn: MissingModalityCCCLoss,
    cfg: FusionConfig,
    dropout: ModalityDropout | None,
) -> list[float]:
    """One pass over ``windows`` in ``rng``'s order; modality dropout only where both are present."""
    model.train()
    model.face.eval()  # frozen: BatchNorm keeps the distilled statistics
    params = [p for p in model.parameters() if p.requires_grad]
    losses = []
    order = rng.permutation(len(windows))
    for s in range(0, len(windows), cfg.batch):
        batch = windows.take(order[s : s + cfg.batch])
        fm, am = batch.face_mask, batch.audio_mask
        if dropout is not None:
            both = fm.any(axis=1) & am.any(axis=1)
            dfm, dam = dropout.apply(fm, am, rng)
            fm, am = np.where(both[:, None], dfm, fm), np.where(both[:, None], dam, am)
        t = _tensors(batch, tab, fm, am)
        out = _forward(model, t, unimodal=True)
        loss = loss_fn(out, t["gold"], t["valid"], t["face_mask"], t["audio_mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
    return losses


def train_fusion(
    model_cfg: ModelConfig,
    face_state: dict[str, torch.Tensor],
    audio_stats: tuple[np.ndarray, np.ndarray],
    table: np.ndarray,
    epoch_windows: Callable[[int], EmbWindows],
    dev_score: Callable[[FusedEmotionModel], dict[str, float]],
    cfg: FusionConfig,
    dropout: ModalityDropout | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Train everything but the face CNN (loaded from ``face_state`` and frozen). ``epoch_windows(e)``
    gives epoch ``e``'s windows (resampled pairs and face views); ``dev_score`` the dev metrics whose
    mean (``objective``) picks the epoch kept. ``dropout`` applies to windows with both modalities."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = FusedEmotionModel(model_cfg)
    model.face.load_state_dict(face_state)
    for p in model.face.parameters():
        p.requires_grad_(False)
    mean, std = audio_stats
    model.set_audio_stats(torch.from_numpy(mean), torch.from_numpy(std))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    loss_fn = MissingModalityCCCLoss(cfg.unimodal_weight)
    tab = torch.from_numpy(table)
    best_score, best_state, bad, history = -math.inf, None, 0, []
    for epoch in range(cfg.epochs):
        t0 = time.monotonic()
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        rng = np.random.default_rng([cfg.seed, epoch])
        losses = _train_epoch(model, epoch_windows(epoch), tab, rng, opt, loss_fn, cfg, dropout)
        sched.step()
        scores = dev_score(model)
        objective = float(np.mean([0.0 if math.isnan(v) else v for v in scores.values()]))
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "objective": objective, **scores}
        row["seconds"] = time.monotonic() - t0
        history.append(row)
        if progress:
            progress(row)
        if objective > best_score:
            best_score, bad = objective, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    assert best_state is not None
    return best_state, history
