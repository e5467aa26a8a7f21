"""``emotrace train``: labelled videos -> a model bundle (weights, audio stats, fingerprint, metrics).

    emotrace train --data DIR_OR_MANIFEST --output bundle.pt [--epochs N] [--seed S] [--resume] ...
    emotrace train --demo            # synthetic corpus -> emotrace/assets/demo_bundle.pt, deterministic
    emotrace train --real            # ../shared/realdata -> emotrace/assets/real_bundle.pt (the default)

Features come from the analyze pipeline's own core (``datasets.window_cache``), cached per video, so
re-training never re-extracts. A plain local process, not a Beam pipeline: training needs all windows
in one place, and the per-video extraction is spread over ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from emotrace.datasets.corpus import Corpus, open_corpus
from emotrace.datasets.labels import LabelledVideo
from emotrace.datasets.window_cache import analyze_config_for, cache_key, file_sha256, load_corpus
from emotrace.model.bundle import ModelBundle, save_bundle, state_dict_digest
from emotrace.model.config import ModelConfig
from emotrace.model.data import WindowArrays, concat
from emotrace.model.evaluate import evaluate_conditions
from emotrace.model.train import TrainConfig, train_model
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.preprocessing import Preprocessing

log = logging.getLogger("emotrace.train")
DEMO_SEED = 0
DEMO_POSTS = 72  # 48 train, 12 dev, 12 test (split_of)
DEMO_EPOCHS = 15  # twice the posts of the first demo bundle at half the epochs: the same training time


def demo_bundle_path() -> str:
    """``emotrace/assets/demo_bundle.pt`` inside the installed package (shipped as package data)."""
    import emotrace

    return os.path.join(os.path.dirname(os.path.abspath(emotrace.__file__)), "assets", "demo_bundle.pt")


def fingerprint(
    corpus: Corpus,
    used: list[LabelledVideo],
    cfg: AnalyzeConfig,
    crop_px: int,
    train_cfg: TrainConfig,
    model_cfg: ModelConfig,
) -> str:
    """sha256 over what determines the weights: each video's media + feature config (its cache key),
    its label files' bytes and split, and the training and model configs."""
    items = [
        {
            "post_id": v.post_id,
            "split": v.split,
            "windows": cache_key(v.video_path, v.audio_path, cfg, crop_px, v.kind),
            "labels": [file_sha256(p) for p in v.label_paths] or [list(v.clip_label or ())],
        }
        for v in used
    ]
    payload = {
        "corpus": corpus.kind,
        "items": items,
        "train": train_cfg.to_dict(),
        "model": model_cfg.to_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _arrays(parts: list[WindowArrays]) -> WindowArrays | None:
    """One split's windows, its videos renumbered 0.. in order (as ``emotrace evaluate`` numbers them,
    so the seeded ``face_missing_50`` draw is the same in both)."""
    return concat([p.with_video_index(i) for i, p in enumerate(parts)]) if parts else None


def _splits(
    used: list[Any], windows: list[WindowArrays]
) -> tuple[WindowArrays | None, WindowArrays | None, WindowArrays | None]:
    """The train, dev and test windows (None for an empty split), each video in its own split."""
    by_split = {s: [w for v, w in zip(used, windows, strict=True) if v.split == s] for s in SPLITS}
    return _arrays(by_split["train"]), _arrays(by_split["dev"]), _arrays(by_split["test"])


def _epoch_logger(epochs: int) -> Callable[[dict[str, Any]], None]:
    def progress(row: dict[str, Any]) -> None:
        dev_txt = (
            f" dev CCC arousal {row['dev_arousal']:.3f} valence {row['dev_valence']:.3f}"
            if "dev_arousal" in row
            else ""
        )
        log.info(
            "epoch %d/%d: loss %.4f%s (%.1f s)", row["epoch"], epochs, row["loss"], dev_txt, row["seconds"]
        )

    return progress


SPLITS = ("train", "dev", "test")


def train_bundle(
    corpus: Corpus,
    train_cfg: TrainConfig,
    cache_dir: str,
    workers: int = 2,
    checkpoint: str | None = None,
    resume: bool = False,
    name: str | None = None,
) -> ModelBundle:
    """Extract (or load cached) windows, train, evaluate on the test split if any, build the bundle."""
    from emotrace.features.acoustics import AUDIO_FEATURE_NAMES

    model_cfg = ModelConfig(n_audio_features=len(AUDIO_FEATURE_NAMES))
    cfg = analyze_config_for(model_cfg)
    crop_px = model_cfg.crop_size_px
    used = [v for v in corpus.videos if v.split in ("train", "dev", "test")]
    if not any(v.split == "train" for v in used):
        raise SystemExit(f"{corpus.name}: no video in the train split; set a split column (train/dev/test)")
    t0 = time.monotonic()
    train, dev, test = _splits(used, load_corpus(used, cfg, crop_px, cache_dir, workers))
    t_features = time.monotonic() - t0
    log.info(
        "features in %.1f s: train %d windows, dev %d, test %d",
        t_features,
        len(train) if train else 0,
        len(dev) if dev else 0,
        len(test) if test else 0,
    )
    assert train is not None
    result = train_model(
        model_cfg, train, dev, train_cfg, checkpoint, resume, _epoch_logger(train_cfg.epochs)
    )
    metrics: dict[str, Any] = {
        "grid_step_s": model_cfg.step_s,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "train_seconds": round(result.seconds, 1),
        "features_seconds": round(t_features, 1),
        "dev": result.best_dev,
    }
    version_name = name or corpus.name
    bundle = ModelBundle(
        version=f"{version_name}-{state_dict_digest(result.state_dict)[:10]}",
        config=model_cfg.to_dict(),
        state_dict=result.state_dict,
        audio_feature_names=tuple(AUDIO_FEATURE_NAMES),
        preprocessing=Preprocessing.of(cfg),
        training_fingerprint=fingerprint(corpus, used, cfg, crop_px, train_cfg, model_cfg),
        metrics=metrics,
    )
    if test is not None:
        metrics["test"] = evaluate_conditions(bundle.build_model(), test)
    return bundle


def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="emotrace train", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="RECOLA (AVEC 2016) folder, synthetic corpus folder, or manifest .csv")
    p.add_argument("--output", help="bundle file to write (default with --demo: the packaged demo bundle)")
    p.add_argument("--demo", action="store_true", help="build the synthetic corpus and train the demo bundle")
    p.add_argument("--real", action="store_true", help="train the default bundle from ../shared/realdata")
    p.add_argument(
        "--realdata", default=None, help="--real: the realdata folder (default ../shared/realdata)"
    )
    p.add_argument("--work", default=None, help="--demo/--real: folder for corpora, augmented copies, caches")
    p.add_argument("--cache-dir", default=None, help="feature cache (default: <data>/.emotrace-cache)")
    p.add_argument("--epochs", type=int, default=None, help=f"default {d.epochs}; {DEMO_EPOCHS} with --demo")
    p.add_argument("--batch", type=int, default=d.batch_windows, help="windows per batch")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--patience", type=int, default=d.patience, help="epochs without dev improvement")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--ablation", action="store_true", help="no unimodal loss terms, no modality dropout")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: <output>.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint if it exists")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="extraction processes")
    p.add_argument("--name", default=None, help="version prefix (default: the corpus name)")
    return p


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    if args.real:
        return _run_real(args, started)
    if args.demo:
        from emotrace.datasets.synth import build_corpus

        work = os.path.abspath(
            args.work or os.path.join(os.path.expanduser("~"), ".cache", "emotrace", "demo")
        )
        data = os.path.join(work, "corpus")
        if not os.path.exists(os.path.join(data, "synth.json")):
            t0 = time.monotonic()
            build_corpus(data, n_posts=DEMO_POSTS, seed=DEMO_SEED, workers=args.workers)
            log.info("synthetic corpus: %d posts in %.1f s", DEMO_POSTS, time.monotonic() - t0)
        output = args.output or demo_bundle_path()
        cache_dir = args.cache_dir or os.path.join(work, "cache")
    else:
        if not args.data or not args.output:
            raise SystemExit("emotrace train: --data and --output are required (or use --demo)")
        data, output = args.data, args.output
        cache_dir = args.cache_dir or os.path.join(
            data if os.path.isdir(data) else os.path.dirname(os.path.abspath(data)), ".emotrace-cache"
        )
    train_cfg = TrainConfig(
        epochs=args.epochs or (DEMO_EPOCHS if args.demo else TrainConfig().epochs),
        batch_windows=args.batch,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        threads=args.threads,
    )
    name = args.name
    if args.ablation:
        train_cfg = train_cfg.ablation()
    corpus = open_corpus(data)
    if args.ablation and name is None:
        name = corpus.name + "-ablation"
    bundle = train_bundle(
        corpus, train_cfg, cache_dir, args.workers, args.checkpoint or output + ".ckpt", args.resume, name
    )
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    save_bundle(bundle, output)
    print(f"wrote {output}: {bundle.version} ({os.path.getsize(output) / 1e6:.1f} MB)")
    print(json.dumps(bundle.metrics, indent=2))
    print(f"total {time.monotonic() - started:.1f} s")
    return 0


def _run_real(args: argparse.Namespace, started: float) -> int:
    from emotrace.pipelines import train_real

    realdata = os.path.abspath(args.realdata or train_real.default_realdata())
    if not os.path.isdir(realdata):
        raise SystemExit(f"emotrace train --real: {realdata} not found; pass --realdata")
    work = os.path.abspath(args.work or os.path.join(os.path.expanduser("~"), ".cache", "emotrace", "real"))
    rc = train_real.RealConfig(seed=args.seed, workers=args.workers, threads=args.threads)
    if args.epochs:
        rc = replace(rc, fusion=replace(rc.fusion, epochs=args.epochs))
    bundle = train_real.train_real_bundle(realdata, work, rc)
    output = args.output or train_real.real_bundle_path()
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    save_bundle(bundle, output)
    print(f"wrote {output}: {bundle.version} ({os.path.getsize(output) / 1e6:.1f} MB)")
    print(json.dumps(bundle.metrics, indent=2, default=str))
    print(f"total {time.monotonic() - started:.1f} s")
    return 0
