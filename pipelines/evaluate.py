"""``emotrace evaluate``: CCC per dimension for each modality condition, as a table and JSON.

    emotrace evaluate [--model BUNDLE] --data DIR_OR_MANIFEST [--split test] [--json FILE]
    emotrace evaluate [--model BUNDLE] --real [--realdata DIR] [--json FILE]   # docs/model.md's real figures

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
    per_clip = all(v.clip_label is not None for v in videos)  # categorical corpora: clip-level CCC too
    arrays = concat([w.with_video_index(i) for i, w in enumerate(windows)])
    return evaluate_conditions(bundle.build_model(), arrays, CONDITIONS, seed, clip_level=per_clip)


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="emotrace evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="bundle file (default: the default bundle)")
    p.add_argument(
        "--data", default=None, help="RECOLA or RAVDESS folder, synthetic corpus folder, or manifest .csv"
    )
    p.add_argument(
        "--real", action="store_true", help="the held-out real-data report (datasets/real_eval.py)"
    )
    p.add_argument(
        "--realdata", default=None, help="--real: the realdata folder (default ../shared/realdata)"
    )
    p.add_argument(
        "--split", default=None, help="partition to score (default: test if present, else dev, else all)"
    )
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--cache-dir", default=None, help="feature cache (default: <data>/.emotrace-cache)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--seed", type=int, default=0, help="seed of the face_missing_50 draw")
    args = p.parse_args(argv)
    bundle = load_bundle(args.model) if args.model else default_bundle()
    if args.real:
        return _run_real(bundle, args)
    if not args.data:
        raise SystemExit("emotrace evaluate: --data is required (or --real)")
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


def real_report(bundle: ModelBundle, realdata: str, cache_dir: str, workers: int) -> dict[str, object]:
    """Every real-data figure of docs/model.md for ``bundle`` (``datasets.real_eval``)."""
    from emotrace.datasets import real_eval

    test = real_eval.ravdess_test_items(realdata)
    return {
        "model": bundle.version,
        "ravdess_test_actors": real_eval.ravdess(bundle, test, cache_dir, workers),
        "london_test_identities": real_eval.london(bundle, realdata, cache_dir, workers),
        "validation_only_expressions": real_eval.validation(bundle, realdata, cache_dir, workers),
        "paired_voice_and_face": real_eval.pairs(bundle, test, realdata, cache_dir, workers),
    }


def _run_real(bundle: ModelBundle, args: argparse.Namespace) -> int:
    from emotrace.pipelines.train_real import default_realdata

    realdata = os.path.abspath(args.realdata or default_realdata())
    if not os.path.isdir(realdata):
        raise SystemExit(f"emotrace evaluate --real: {realdata} not found; pass --realdata")
    cache_dir = args.cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "emotrace", "real", "cache")
    report = real_report(bundle, realdata, cache_dir, args.workers)
    print(json.dumps(report, indent=2, default=str))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2, default=str)
    return 0
