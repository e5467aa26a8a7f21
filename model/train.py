"""Training loop: missing-modality CCC loss, modality dropout, early stopping on dev CCC, resumable.

Determinism: the model is initialised under ``torch.manual_seed(seed)``, and every epoch re-seeds its
own streams from ``(seed, epoch)`` (batch order, modality dropout, torch dropout), so an epoch does
the same thing whether the run started at epoch 0 or resumed from a checkpoint: resuming gives
bit-identical weights (tested). Threads are fixed (``threads``) because CPU kernels may reduce in a
different order with a different thread count.

Checkpoint (``torch.save`` of builtins and tensors, written then renamed after every epoch): the
model and optimizer states, the epoch, the best dev state so far and the history. Pure torch + numpy;
no Beam import.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from emotrace.model.config import ModelConfig
from emotrace.model.data import ModalityDropout, WindowArrays, audio_stats, iter_batches, to_tensors
from emotrace.model.evaluate import condition_masks, predict_arrays, score
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.loss import MissingModalityCCCLoss

log = logging.getLogger("emotrace.train")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. ``unimodal_weight`` is the loss's lambda; ``modality_dropout`` None turns
    dropout off. The ablation (``ablation()``) has neither: the plain fused 1 - CCC loss."""

    epochs: int = 30
    batch_windows: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10  # epochs without a better dev CCC before stopping
    seed: int = 0
    unimodal_weight: float = 0.5
    modality_dropout: ModalityDropout | None = field(default_factory=ModalityDropout)
    threads: int = 1
    grad_clip: float = 5.0

    def ablation(self) -> TrainConfig:
        return dataclasses.replace(self, unimodal_weight=0.0, modality_dropout=None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """``state_dict``: the best epoch's weights (by dev CCC, else the last); ``history``: one dict per
    epoch (loss, train/dev CCC, seconds)."""

    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, Any]]
    best_epoch: int
    best_dev: dict[str, float]
    seconds: float


def _seed_epoch(seed: int, epoch: int) -> np.random.Generator:
    torch.manual_seed(seed * 100_003 + epoch)
    return np.random.default_rng([seed, epoch])


def _dev_score(model: FusedEmotionModel, dev: WindowArrays) -> dict[str, float]:
    """Dev CCC per dimension as shown (``arousal``, ``valence``) and with the face removed on half the
    steps (``missing50_arousal``, ``missing50_valence``)."""
    model.eval()
    pred, _ = predict_arrays(model, dev)
    out = score(dev, pred)
    fm, am = condition_masks(dev, "face_missing_50", seed=0)
    pred, _ = predict_arrays(model, dev, fm, am)
    out.update({f"missing50_{k}": v for k, v in score(dev, pred).items()})
    return out


def _objective(c: dict[str, float]) -> float:
    """Mean of the dev CCCs (both dimensions, with all faces and with half of them missing): the model
    kept is the one that is good and robust to a missing face. NaN counts as 0 (a constant prediction)."""
    return float(np.mean([0.0 if math.isnan(v) else v for v in c.values()]))


def _run_epoch(
    model: FusedEmotionModel,
    train: WindowArrays,
    cfg: TrainConfig,
    rng: np.random.Generator,
    opt: torch.optim.Optimizer,
    loss_fn: MissingModalityCCCLoss,
) -> float:
    """One pass over ``train`` in ``rng``'s order, with modality dropout; returns the mean batch loss."""
    model.train()
    losses = []
    for idx in iter_batches(len(train), cfg.batch_windows, rng):
        batch = train.take(idx)
        fm, am = batch.face_mask, batch.audio_mask
        if cfg.modality_dropout is not None:
            fm, am = cfg.modality_dropout.apply(fm, am, rng)
        t = to_tensors(batch, fm, am)
        out = model(t["faces"], t["face_mask"], t["audio"], t["audio_mask"])
        loss = loss_fn(out, t["gold"], t["valid"], t["face_mask"], t["audio_mask"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def recalibrate_batchnorm(model: FusedEmotionModel, train: WindowArrays, crops_per_batch: int = 256) -> None:
    """Recompute the face CNN's BatchNorm running statistics as exact averages over every training crop
    ("precise BN", Wu & Johnson 2021), leaving the weights alone.

    Why: a training batch holds crops of a few windows only, and modality dropout can leave it a
    handful of crops; BN's exponential running average then follows those noisy batches, and eval-mode
    outputs jump from epoch to epoch. Exact statistics make eval mode match what training saw.
    """
    bns = [m for m in model.face.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    crops = train.faces[train.face_mask]  # uint8[N, S, S, 3]
    if len(crops) == 0:
        return
    was_training = model.training
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # None: a cumulative (equal-weight) average over the batches below
    model.face.train()
    for start in range(0, len(crops), crops_per_batch):
        x = torch.from_numpy(crops[start : start + crops_per_batch])
        x = x.permute(0, 3, 1, 2).float() * model.face_scale + model.face_shift
        model.face(x)
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m
    model.train(was_training)


def _save_checkpoint(path: str, payload: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train_model(
    model_cfg: ModelConfig,
    train: WindowArrays,
    dev: WindowArrays | None,
    cfg: TrainConfig,
    checkpoint_path: str | None = None,
    resume: bool = False,
    progress: Callable[[dict[str, Any]], None] | None = None,
    max_epochs_this_run: int | None = None,
) -> TrainResult:
    """Train a ``FusedEmotionModel`` on ``train`` windows (with gold), early-stopping on ``dev``.

    ``checkpoint_path``: written after every epoch; with ``resume`` an existing one is continued
    (its configs must match). ``max_epochs_this_run`` stops after that many epochs in this call (to
    test resuming). ``progress`` gets each epoch's history row.
    """
    torch.set_num_threads(cfg.threads)
    started = time.monotonic()
    run = _new_run(model_cfg, train, cfg)
    if resume and checkpoint_path and os.path.exists(checkpoint_path):
        _resume(run, checkpoint_path, cfg, model_cfg)
    first = run.state["epoch"] + 1
    for epochs_run, epoch in enumerate(range(first, cfg.epochs)):
        if run.state["bad_epochs"] >= cfg.patience or (
            max_epochs_this_run is not None and epochs_run >= max_epochs_this_run
        ):
            break
        row = _train_epoch(run, train, dev, cfg, epoch)
        if progress:
            progress(row)
        if checkpoint_path:
            _save_checkpoint(checkpoint_path, _checkpoint(run, cfg, model_cfg))
    state = run.state
    best = state["best_state"] or {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    return TrainResult(
        state_dict=best,
        history=state["history"],
        best_epoch=state["best_epoch"],
        best_dev=state["best_dev"],
        seconds=time.monotonic() - started,
    )


@dataclass
class _Run:
    """One training run's moving parts: what a checkpoint saves and a resume restores."""

    model: FusedEmotionModel
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    loss_fn: MissingModalityCCCLoss
    state: dict[str, Any]


def _new_run(model_cfg: ModelConfig, train: WindowArrays, cfg: TrainConfig) -> _Run:
    torch.manual_seed(cfg.seed)
    model = FusedEmotionModel(model_cfg)
    mean, std = audio_stats(train)
    model.set_audio_stats(torch.from_numpy(mean), torch.from_numpy(std))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # Cosine decay over the planned epochs: large steps early, small ones late, so the dev CCC of the
    # last epochs settles instead of jumping from batch noise.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(e, cfg.epochs) / cfg.epochs))
    )
    state: dict[str, Any] = {
        "epoch": -1,
        "best_score": -math.inf,
        "best_epoch": -1,
        "best_state": None,
        "best_dev": {},
        "history": [],
        "bad_epochs": 0,
    }
    return _Run(model, opt, sched, MissingModalityCCCLoss(cfg.unimodal_weight), state)


def _resume(run: _Run, checkpoint_path: str, cfg: TrainConfig, model_cfg: ModelConfig) -> None:
    ck = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    if ck["train_cfg"] != _plain(cfg.to_dict()) or ck["model_cfg"] != model_cfg.to_dict():
        raise ValueError(f"{checkpoint_path} was written with other settings; delete it or drop --resume")
    run.model.load_state_dict(ck["model"])
    run.opt.load_state_dict(ck["optimizer"])
    run.sched.load_state_dict(ck["scheduler"])
    run.state = ck["state"]
    log.info("resumed from %s after epoch %d", checkpoint_path, run.state["epoch"] + 1)


def _train_epoch(
    run: _Run, train: WindowArrays, dev: WindowArrays | None, cfg: TrainConfig, epoch: int
) -> dict[str, Any]:
    """One epoch, its dev score, and the best-so-far bookkeeping; returns its history row."""
    t0 = time.monotonic()
    mean_loss = _run_epoch(run.model, train, cfg, _seed_epoch(cfg.seed, epoch), run.opt, run.loss_fn)
    run.sched.step()
    recalibrate_batchnorm(run.model, train)
    row: dict[str, Any] = {"epoch": epoch + 1, "loss": mean_loss}
    if dev is not None and len(dev):
        dev_ccc = _dev_score(run.model, dev)
        row.update({f"dev_{k}": v for k, v in dev_ccc.items()})
        objective = _objective(dev_ccc)
    else:
        dev_ccc, objective = {}, -row["loss"]  # no dev split: keep the epoch with the lowest loss
    row["seconds"] = time.monotonic() - t0
    state = run.state
    if objective > state["best_score"]:
        state.update(
            best_score=objective,
            best_epoch=epoch + 1,
            best_dev=dev_ccc,
            bad_epochs=0,
            best_state={k: v.detach().clone() for k, v in run.model.state_dict().items()},
        )
    else:
        state["bad_epochs"] += 1
    state["history"].append(row)
    state["epoch"] = epoch
    return row


def _checkpoint(run: _Run, cfg: TrainConfig, model_cfg: ModelConfig) -> dict[str, Any]:
    return {
        "model": run.model.state_dict(),
        "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict(),
        "state": run.state,
        "train_cfg": _plain(cfg.to_dict()),
        "model_cfg": model_cfg.to_dict(),
    }


def _plain(d: Any) -> Any:
    """Tuples -> lists recursively, so a config compares equal after a ``torch.save`` round trip."""
    if isinstance(d, dict):
        return {k: _plain(v) for k, v in d.items()}
    if isinstance(d, list | tuple):
        return [_plain(v) for v in d]
    return d
