"""``--data`` -> labelled videos: an AVEC 2016 RECOLA folder, RAVDESS, a synthetic corpus, or a manifest.

* a folder with ``recordings_video/`` and ``ratings_gold_standard/``: RECOLA (``datasets.recola``);
* a folder of RAVDESS-named files (``datasets.ravdess``; split by actor);
* a folder with ``manifest.csv`` (e.g. ``emotrace synth`` output, which also has ``synth.json``);
* a ``.csv`` manifest of ``video_uri,labels_uri[,post_id,split,audio_uri]`` (continuous labels), or a
  per-clip manifest of ``video_uri|audio_uri|image_uri`` with ``valence,arousal`` or ``category``
  (``datasets.clip_manifest``).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from emotrace.datasets.clip_manifest import is_clip_manifest, read_clip_manifest
from emotrace.datasets.labels import LabelledVideo, read_labelled_manifest
from emotrace.datasets.ravdess import is_ravdess_layout, load_ravdess
from emotrace.datasets.recola import is_recola_layout, load_recola


@dataclass(frozen=True)
class Corpus:
    """``name`` prefixes model versions (``synthetic-demo``, ``recola``, or the folder's name)."""

    name: str
    kind: str  # recola | ravdess | synthetic | manifest
    videos: tuple[LabelledVideo, ...]

    def split(self, name: str) -> list[LabelledVideo]:
        return [v for v in self.videos if v.split == name]


def open_corpus(path: str) -> Corpus:
    path = os.path.abspath(path)
    if os.path.isdir(path) and is_recola_layout(path):
        return Corpus("recola", "recola", tuple(load_recola(path)))
    has_manifest = os.path.exists(os.path.join(path, "manifest.csv"))
    if os.path.isdir(path) and not has_manifest and is_ravdess_layout(path):
        return Corpus("ravdess", "ravdess", tuple(load_ravdess(path)))
    if os.path.isdir(path):
        manifest = os.path.join(path, "manifest.csv")
        if not os.path.exists(manifest):
            raise ValueError(
                f"{path}: neither a RECOLA folder (recordings_video/, ratings_gold_standard/), RAVDESS "
                "files, nor a folder with manifest.csv; pass a manifest .csv (video_uri,labels_uri, or "
                "per clip: video_uri|audio_uri|image_uri with valence,arousal or category)"
            )
        if os.path.exists(os.path.join(path, "synth.json")):
            return Corpus("synthetic-demo", "synthetic", tuple(read_labelled_manifest(manifest)))
        return Corpus(_slug(os.path.basename(path)), "manifest", tuple(read_manifest(manifest)))
    if path.lower().endswith(".csv"):
        stem = os.path.splitext(os.path.basename(path))[0]
        name = os.path.basename(os.path.dirname(path)) if stem == "manifest" else stem
        return Corpus(_slug(name), "manifest", tuple(read_manifest(path)))
    raise ValueError(f"{path}: --data must be a folder or a .csv manifest")


def read_manifest(path: str) -> list[LabelledVideo]:
    """A continuous-label manifest (``labels_uri``) or a per-clip one, told apart by its header."""
    with open(path, newline="", encoding="utf-8") as f:
        header = {c.strip() for c in next(csv.reader(f), [])}
    return read_clip_manifest(path) if is_clip_manifest(header) else read_labelled_manifest(path)


def _slug(name: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return out or "corpus"
