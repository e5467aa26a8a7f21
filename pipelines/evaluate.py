"""``emotrace evaluate``: CCC per dimension for each modality condition, as a table and JSON.

    emotrace evaluate [--model BUNDLE] --data DIR_OR_MANIFEST [--split test] [--json FILE]

Without ``--model`` the default bundle (the one ``analyze`` uses) is evaluated. The JSON is
``{"both": {"arousal": .., "valence": ..}, "audio_only": {..}, "face_only": {..},
"face_missing_50": {..}}``; conditions are defined in ``emotrace.model.evaluate``.
"""

from __future__ import annotations

import argparse
import json
import os

from emotrace.datasets.corpus import open_corpus
from emotrace.datasets.window_cache import load_corpus
from emotrace.model.bundle import ModelBundle, load_bundle
from emotrace.model.data import concat
from emotrace.model.evaluate import CONDITIONS, evaluate_conditions, format_table
from emotrace.pipelines.train import analyze_config_for


def default_bundle() -> ModelBundle:
    """The bundle ``analyze`` uses without ``--model`` (imported lazily: it lives in the Beam layer)."""
    from emotrace.transforms.inference import default_bundle as beam_default

    return beam_default()


def evaluate_bundle(
    bundle: ModelBundle, data: str, split: str | None, cache_dir: str, workers: int = 1, seed: int = 0
) -> dict[str, dict[str, float]]:
    """CCC per condition of ``bundle`` on the ``split`` videos of ``data`` (None: every labelled video)."""
    corpus = open_corpus(data)
    videos = corpus.split(split) if split else list(corpus.videos)
    if not videos:
        have = sorted({v.split for v in corpus.videos})
        raise SystemExit(f"{data}: no video in split {split!r} (splits present: {have}); pass --split")
    model_cfg = bundle.model_config
    windows = load_corpus(videos, analyze_config_for(model_cfg), model_cfg.crop_size_px, cache_dir, workers)
    return evaluate_conditions(bundle.build_model(), concat(windows), CONDITIONS, seed)


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="emotrace evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="bundle file (default: the default bundle)")
    p.add_argument("--data", required=True, help="RECOLA folder, synthetic corpus folder, or manifest .csv")
    p.add_argument(
        "--split", default=None, help="partition to score (default: test if present, else dev, else all)"
    )
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--cache-dir", default=None, help="feature cache (default: <data>/.emotrace-cache)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--seed", type=int, default=0, help="seed of the face_missing_50 draw")
    args = p.parse_args(argv)
    bundle = load_bundle(args.model) if args.model else default_bundle()
    split = args.split
    if split is None:
        present = {v.split for v in open_corpus(args.data).videos}
        split = next((s for s in ("test", "dev") if s in present), None)
    data_dir = args.data if os.path.isdir(args.data) else os.path.dirname(os.path.abspath(args.data))
    cache_dir = args.cache_dir or os.path.join(data_dir, ".emotrace-cache")
    results = evaluate_bundle(bundle, args.data, split, cache_dir, args.workers, args.seed)
    step_s = bundle.model_config.step_s
    print(f"model {bundle.version} on {args.data} (split: {split or 'all'}); CCC on the {step_s} s grid")
    print(format_table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0
