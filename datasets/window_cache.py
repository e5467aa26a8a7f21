"""Training/evaluation features: the analyze pipeline's own windows, cached per video.

No train/serve skew: a video is probed and decoded with ``emotrace.media`` and cut into windows by
``features.windows.iter_step_windows``, exactly as ``transforms/extract.py`` does in ``analyze``; the
only difference is that the windows are stacked and saved instead of sent to ``RunInference``.

Cache: ``<cache_dir>/<key>.npz``, ``key`` = sha256 of the media bytes (video, and the separate audio
file if any) and of everything that shapes the windows (the ``AnalyzeConfig``, crop size, the
descriptor names, the source of ``emotrace.media`` and ``emotrace.features``, and ``EXTRACT_VERSION``).
Re-training on the same files never re-extracts; changing a byte of a video, a config field or the
feature code does. Pure core: no Beam import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np

from emotrace.datasets.labels import LabelledVideo
from emotrace.model.config import ModelConfig
from emotrace.model.data import WindowArrays, stack_windows
from emotrace.schemas.config import AnalyzeConfig, FaceConfig, GridConfig

EXTRACT_VERSION = 1  # bump when window extraction changes in a way the config does not capture
log = logging.getLogger("emotrace.train")
# One detector per process and face config: an onnxruntime session is expensive and not picklable.
_DETECTORS: dict[object, object] = {}


def analyze_config_for(model_cfg: ModelConfig) -> AnalyzeConfig:
    """The pipeline config whose windows this model consumes (the product's defaults otherwise)."""
    cfg = AnalyzeConfig()
    return dataclasses.replace(
        cfg,
        grid=GridConfig(step_s=model_cfg.step_s, window_steps=model_cfg.window_steps),
        faces=dataclasses.replace(FaceConfig(), crop_size_px=model_cfg.crop_size_px),
    )


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the decoding and feature code (``emotrace.media``, ``emotrace.features`` sources): an
    edit there may change windows without changing any config field, so it invalidates the cache."""
    import emotrace.features
    import emotrace.media

    h = hashlib.sha256()
    for pkg in (emotrace.media, emotrace.features):
        folder = os.path.dirname(os.path.abspath(pkg.__file__ or ""))
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                h.update(name.encode())
                h.update(file_sha256(os.path.join(folder, name)).encode())
    return h.hexdigest()


def config_digest(cfg: AnalyzeConfig, crop_px: int) -> str:
    from emotrace.features.acoustics import AUDIO_FEATURE_NAMES

    payload = {
        "cfg": cfg.to_dict(),
        "crop_px": crop_px,
        "features": list(AUDIO_FEATURE_NAMES),
        "extract_version": EXTRACT_VERSION,
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_key(
    video_path: str, audio_path: str | None, cfg: AnalyzeConfig, crop_px: int, kind: str = "video"
) -> str:
    parts = [
        file_sha256(video_path),
        file_sha256(audio_path) if audio_path else "",
        config_digest(cfg, crop_px),
    ]
    if kind == "image":  # a still goes through datasets.stills, not the decoder: its code is in the key
        import emotrace.datasets.stills as stills

        parts.append("still:" + file_sha256(stills.__file__ or ""))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _detector(cfg: AnalyzeConfig) -> object:
    """This process's detector for ``cfg.faces``, built as ``ExtractWindows.setup`` builds it."""
    from emotrace.features.acoustics import warm_up
    from emotrace.features.faces import detector_for

    f = cfg.faces
    detector = _DETECTORS.get(f)
    if detector is None:
        weights = None
        if f.weights_uri is not None:  # local files only here (the Beam layer also reads gs://)
            with open(f.weights_uri, "rb") as fh:
                weights = fh.read()
        warm_up()
        detector = _DETECTORS[f] = detector_for(f, weights)  # the same construction as analyze's workers
    return detector


def extract_windows(
    video_path: str, cfg: AnalyzeConfig, crop_px: int, audio_path: str | None = None, kind: str = "video"
) -> WindowArrays:
    """All windows of one video (video index 0, no gold), through the analyze pipeline's core.

    ``audio_path``: a separate soundtrack decoded in place of the video's audio (RECOLA ships WAVs);
    its timeline starts at the video's t = 0. ``kind`` "image": ``video_path`` is a still picture
    (``datasets.stills``: its largest face, held for a few steps, no audio); "audio" and "video" both
    decode the file (an audio file simply has no frames).
    """
    from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
    from emotrace.features.step_grid import StepGrid, iter_step_windows
    from emotrace.media.decode import open_streams
    from emotrace.media.probe import probe
    from emotrace.schemas.records import VideoRef

    detector = _detector(cfg)
    if kind == "image":
        from emotrace.datasets.stills import still_face, still_windows

        face = still_face(video_path, cfg, crop_px, detector)  # type: ignore[arg-type]
        crop = None if face is None else face.crop
        return still_windows(crop, cfg, crop_px, len(AUDIO_FEATURE_NAMES), os.path.basename(video_path))
    info = probe(video_path, cfg.decode.format_whitelist)
    soundtrack = None
    if audio_path is not None:
        soundtrack = (audio_path, probe(audio_path, cfg.decode.format_whitelist))
        info = dataclasses.replace(info, has_audio=soundtrack[1].has_audio)
    ref = VideoRef(video_uri=video_path, post_id=os.path.basename(video_path))
    grid = StepGrid(ref, info, detector, cfg, crop_px)  # type: ignore[arg-type]
    windows = list(
        iter_step_windows(grid, *open_streams(video_path, info, cfg.decode, soundtrack=soundtrack))
    )
    return stack_windows(windows, crop_px, len(AUDIO_FEATURE_NAMES), cfg.grid.window_steps)


def _save(path: str, arrays: WindowArrays) -> None:
    # Write then rename: an interrupted run never leaves a truncated file that a later run would trust.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz.tmp")
    os.close(fd)
    with open(tmp, "wb") as f:
        np.savez(f, **{k.name: getattr(arrays, k.name) for k in dataclasses.fields(arrays)})
    os.replace(tmp, path)


def _load(path: str) -> WindowArrays:
    with np.load(path) as z:
        return WindowArrays(**{k.name: z[k.name] for k in dataclasses.fields(WindowArrays)})


def cached_windows(
    video: LabelledVideo, cfg: AnalyzeConfig, crop_px: int, cache_dir: str
) -> tuple[WindowArrays, bool]:
    """The video's windows from the cache, or extracted and cached. Returns (windows, was_cached)."""
    os.makedirs(cache_dir, exist_ok=True)
    key = cache_key(video.video_path, video.audio_path, cfg, crop_px, video.kind)
    path = os.path.join(cache_dir, key + ".npz")
    if os.path.exists(path):
        return _load(path), True
    arrays = extract_windows(video.video_path, cfg, crop_px, video.audio_path, video.kind)
    _save(path, arrays)
    return arrays, False


def _job(args: tuple[LabelledVideo, AnalyzeConfig, int, str]) -> tuple[WindowArrays, bool]:
    return cached_windows(*args)


def load_corpus(
    videos: Sequence[LabelledVideo], cfg: AnalyzeConfig, crop_px: int, cache_dir: str, workers: int = 1
) -> list[WindowArrays]:
    """Windows of each video with gold labels attached (``video`` = its index in ``videos``).

    Labels are averaged onto the grid (``to_grid``) per step; extraction runs in ``workers`` processes.
    """
    jobs = [(v, cfg, crop_px, cache_dir) for v in videos]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            results = list(pool.map(_job, jobs))
    else:
        results = [_job(j) for j in jobs]
    n_cached = sum(cached for _, cached in results)
    log.info(
        "features: %d videos (%d from cache, %d extracted)", len(videos), n_cached, len(videos) - n_cached
    )
    out = []
    for i, (video, (arrays, _)) in enumerate(zip(videos, results, strict=True)):
        n_steps = int(arrays.start_step.max()) + arrays.window_steps if len(arrays) else 0
        labels = video.grid_labels(cfg.grid.step_s, n_steps)
        out.append(arrays.with_video_index(0).with_gold([labels]).with_video_index(i))
    return out
