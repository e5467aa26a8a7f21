"""Distilling the face teacher into the model's own face branch (the paper's improved AlexNet).

The student is ``FusedEmotionModel.face`` itself (same normalisation of the uint8 crops as in the fused
model) plus a linear 7-way head used only here. Loss: soft cross-entropy between the teacher's
distribution sharpened or softened by a temperature (``q = p^(1/T) / sum``) and the student's
``softmax(z / T)``, times T^2 (Hinton et al., 2015). Targets may mix in a direct label (London's
neutral/smiling, GRID's neutral read speech) where one applies.

After training, the BatchNorm statistics are recomputed exactly over all training crops ("precise BN",
as ``model.train.recalibrate_batchnorm`` does for the fused model). The best epoch by dev loss is kept.
Deterministic like the rest of training: seeded per epoch, a fixed number of torch threads.
Pure torch + numpy; no Beam import.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from emotrace.model.fused import FusedEmotionModel

log = logging.getLogger("emotrace.train")


@dataclass(frozen=True)
class DistillConfig:
    epochs: int = 10
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 2.0
    # Class-balanced sampling: a view is drawn with weight (frequency of its target's top class)^-balance.
    # The pool is mostly neutral and happy; 0.5 halves that skew without repeating the few rare views often.
    balance: float = 0.5
    seed: int = 0
    threads: int = 1


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``p^(1/T)`` renormalised: the teacher's distribution at temperature T (float32[N, K])."""
    logp = np.log(np.clip(probs, 1e-8, 1.0)) / temperature
    logp -= logp.max(axis=1, keepdims=True)
    q = np.exp(logp)
    return (q / q.sum(axis=1, keepdims=True)).astype(np.float32)


def epoch_order(target: np.ndarray, cfg: DistillConfig, epoch: int) -> np.ndarray:
    """Indices of one epoch's views (int64[N]): a permutation, or with ``cfg.balance`` > 0 a draw with
    replacement weighted towards the rare top classes of ``target`` (float32[N, K])."""
    rng = np.random.default_rng([cfg.seed, epoch])
    if cfg.balance <= 0:
        return rng.permutation(len(target))
    top = target.argmax(axis=1)
    freq = np.bincount(top, minlength=target.shape[1]).astype(np.float64)
    weight = freq[top] ** -cfg.balance
    return rng.choice(len(target), size=len(target), p=weight / weight.sum())


def _student_logits(model: FusedEmotionModel, head: nn.Linear, crops: torch.Tensor) -> torch.Tensor:
    x = crops.permute(0, 3, 1, 2).float() * model.face_scale + model.face_shift
    return head(model.face(x))


def _loss(logits: torch.Tensor, target: torch.Tensor, t: float) -> torch.Tensor:
    return -(target * torch.log_softmax(logits / t, dim=-1)).sum(dim=-1).mean() * t * t


@torch.no_grad()
def _eval_loss(
    model: FusedEmotionModel, head: nn.Linear, crops: np.ndarray, target: np.ndarray, t: float
) -> tuple[float, np.ndarray]:
    """(mean loss, student probabilities at T=1) over ``crops`` in eval mode."""
    model.face.eval()
    losses, probs = [], []
    for s in range(0, len(crops), 256):
        logits = _student_logits(model, head, torch.from_numpy(crops[s : s + 256]))
        losses.append(_loss(logits, torch.from_numpy(target[s : s + 256]), t).item() * len(logits))
        probs.append(torch.softmax(logits, dim=-1).numpy())
    return float(np.sum(losses) / max(len(crops), 1)), np.concatenate(probs) if probs else np.zeros((0, 7))


@torch.no_grad()
def precise_batchnorm(model: FusedEmotionModel, crops: np.ndarray, batch: int = 256) -> None:
    """Exact BatchNorm statistics of the face CNN over ``crops`` (uint8[N, S, S, 3])."""
    bns = [m for m in model.face.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.face.train()
    for s in range(0, len(crops), batch):
        x = torch.from_numpy(crops[s : s + batch]).permute(0, 3, 1, 2).float()
        model.face(x * model.face_scale + model.face_shift)
    for bn in bns:
        bn.momentum = 0.1
    model.face.eval()


def distill_face(
    model: FusedEmotionModel,
    crops: np.ndarray,
    target: np.ndarray,
    dev_crops: np.ndarray,
    dev_target: np.ndarray,
    cfg: DistillConfig,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``model.face`` (in place) to reproduce ``target`` (float32[N, 7], already at the
    temperature) from ``crops`` (uint8[N, S, S, 3]). Returns a summary (best epoch, dev loss, seconds)."""
    torch.set_num_threads(cfg.threads)
    started = time.monotonic()
    torch.manual_seed(cfg.seed)
    head = nn.Linear(model.cfg.face_dim, target.shape[1])
    params = list(model.face.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(crops) / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=max(steps, 1), pct_start=0.15)
    best: dict[str, Any] = {"dev_loss": math.inf, "epoch": 0}
    best_state = None
    for epoch in range(cfg.epochs):
        t0 = time.monotonic()
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        order = epoch_order(target, cfg, epoch)
        model.face.train()
        losses = []
        for s in range(0, len(order), cfg.batch):
            idx = np.sort(order[s : s + cfg.batch])
            logits = _student_logits(model, head, torch.from_numpy(crops[idx]))
            loss = _loss(logits, torch.from_numpy(target[idx]), cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        # Exact BN statistics for the dev check from a fixed sample (all crops once, at the end).
        sample = np.random.default_rng([cfg.seed, 7]).permutation(len(crops))[:4000]
        precise_batchnorm(model, crops[np.sort(sample)])
        dev_loss, _ = _eval_loss(model, head, dev_crops, dev_target, cfg.temperature)
        row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "dev_loss": dev_loss}
        row["seconds"] = time.monotonic() - t0
        if progress:
            progress(row)
        if dev_loss < best["dev_loss"]:
            best = {"dev_loss": dev_loss, "epoch": epoch + 1}
            best_state = (
                {k: v.detach().clone() for k, v in model.face.state_dict().items()},
                {k: v.detach().clone() for k, v in head.state_dict().items()},
            )
    if best_state is not None:
        model.face.load_state_dict(best_state[0])
        head.load_state_dict(best_state[1])
    precise_batchnorm(model, crops)
    _, dev_probs = _eval_loss(model, head, dev_crops, dev_target, cfg.temperature)
    return {**best, "seconds": round(time.monotonic() - started, 1), "head": head, "dev_probs": dev_probs}


@torch.no_grad()
def face_embeddings(model: FusedEmotionModel, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """float32[N, face_dim]: the (frozen, eval-mode) face branch's embeddings of uint8 crops."""
    model.face.eval()
    out = np.zeros((len(crops), model.cfg.face_dim), np.float32)
    for s in range(0, len(crops), batch):
        x = torch.from_numpy(crops[s : s + batch]).permute(0, 3, 1, 2).float()
        out[s : s + batch] = model.face(x * model.face_scale + model.face_shift).numpy()
    return out
