"""A per-clip manifest: one labelled clip, soundtrack or picture per row.

CSV columns:

* the media, one of: ``video_uri`` (a video; with ``audio_uri`` too, a separate soundtrack decoded in
  its place), ``audio_uri`` alone (a soundtrack: the face is missing by construction) or ``image_uri``
  (a still picture: the voice is missing; ``datasets.stills``);
* the label, either ``valence`` and ``arousal`` in [-1, 1] (both), or a ``category`` mapped through the
  project's single table (``datasets.categories``), with an optional ``intensity`` (normal / strong);
* optional: ``post_id`` (default: the file's stem), ``split`` (train / dev / test, default train) and
  ``group`` (who is in it: a speaker or identity, so that reports can keep people apart).

The label applies to every step of the clip (``LabelledVideo.clip_label``). Relative paths are relative
to the manifest. Pure core: no Beam import.
"""

from __future__ import annotations

import csv
import math
import os

from emotrace.datasets.categories import category_point
from emotrace.datasets.labels import LabelledVideo, relative_to

MEDIA_COLUMNS = ("video_uri", "audio_uri", "image_uri")
SPLITS = ("train", "dev", "test")


def is_clip_manifest(columns: set[str]) -> bool:
    """A header of this format: a media column and either a category or both dimensions, and no
    ``labels_uri`` (that is the continuous-label manifest of ``datasets.labels``)."""
    has_media = any(c in columns for c in MEDIA_COLUMNS)
    has_label = "category" in columns or {"valence", "arousal"} <= columns
    return has_media and has_label and "labels_uri" not in columns


def _label(row: dict[str, str], where: str) -> tuple[tuple[float, float], str | None]:
    """((arousal, valence), category) of one row."""
    category = (row.get("category") or "").strip()
    a_txt, v_txt = (row.get("arousal") or "").strip(), (row.get("valence") or "").strip()
    if a_txt or v_txt:
        try:
            a, v = float(a_txt), float(v_txt)
        except ValueError:
            raise ValueError(
                f"{where}: arousal and valence must both be numbers, got {a_txt!r}, {v_txt!r}"
            ) from None
        if not all(math.isfinite(x) and -1.0 <= x <= 1.0 for x in (a, v)):
            raise ValueError(f"{where}: arousal and valence must lie in [-1, 1], got {a}, {v}")
        return (a, v), category or None
    if not category:
        raise ValueError(f"{where}: give valence and arousal, or a category")
    intensity = (row.get("intensity") or "").strip().lower() or None
    try:
        return category_point(category, intensity), category.lower()
    except (KeyError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from e


def _media(row: dict[str, str], where: str) -> tuple[str, str | None, str]:
    """(path, separate audio path, kind) of one row, paths as written."""
    video, audio, image = ((row.get(c) or "").strip() for c in MEDIA_COLUMNS)
    if image and (video or audio):
        raise ValueError(f"{where}: image_uri cannot be combined with video_uri or audio_uri")
    if image:
        return image, None, "image"
    if video:
        return video, audio or None, "video"
    if audio:
        return audio, None, "audio"
    raise ValueError(f"{where}: one of {', '.join(MEDIA_COLUMNS)} must be set")


def read_clip_manifest(path: str) -> list[LabelledVideo]:
    """The rows of a per-clip manifest (see the module docstring) as labelled items."""
    resolve = relative_to(path)
    out: list[LabelledVideo] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = {c.strip() for c in reader.fieldnames or []}
        if not is_clip_manifest(columns):
            raise ValueError(
                f"{path}: a per-clip manifest needs one of {', '.join(MEDIA_COLUMNS)} and either valence and "
                f"arousal or category; has {sorted(columns)}"
            )
        for lineno, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "") for k, v in raw.items()}
            where = f"{path}:{lineno}"
            media, audio, kind = _media(row, where)
            label, category = _label(row, where)
            split = (row.get("split") or "").strip() or "train"
            if split not in SPLITS:
                raise ValueError(f"{where}: split must be one of {SPLITS}, got {split!r}")
            stem = os.path.splitext(os.path.basename(media))[0]
            out.append(
                LabelledVideo(
                    post_id=(row.get("post_id") or "").strip() or stem,
                    video_path=resolve(media),
                    split=split,
                    label_paths=(),
                    audio_path=resolve(audio) if audio else None,
                    clip_label=label,
                    category=category,
                    kind=kind,
                    group=(row.get("group") or "").strip() or None,
                )
            )
    return out
