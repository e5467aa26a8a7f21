"""Continuous emotion labels: read them, and average them onto the model's step grid.

A ``LabelTrack`` is what annotation files give: times (seconds) and (arousal, valence) values, usually
every 40 ms (RECOLA / AVEC). The model predicts per grid step of ``step_s`` (0.2 s), so training and
evaluation use ``to_grid``: the mean of the labels whose time falls in each step
``[k * step_s, (k + 1) * step_s)`` (NaN where a step has no label). Pure numpy; no Beam import.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DIMENSIONS = ("arousal", "valence")


@dataclass(frozen=True)
class LabelTrack:
    """``t_s``: float64[T] seconds, increasing; ``values``: float32[T, 2] as (arousal, valence), NaN
    where a dimension is unknown."""

    t_s: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.t_s), 2):
            raise ValueError(f"values must be [T, 2] for T={len(self.t_s)}; got {self.values.shape}")


def read_label_csv(path: str) -> LabelTrack:
    """A CSV with a header holding ``time``, ``arousal`` and ``valence`` (other columns ignored;
    ``;`` or ``,`` separated). Empty or non-numeric cells become NaN."""
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    fields = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in ("time", *DIMENSIONS) if c not in fields]
    if missing:
        raise ValueError(f"{path}: label CSV needs columns time, arousal, valence; missing {missing}")
    t, vals = [], []
    for row in reader:
        row = {k.strip().lower(): v for k, v in row.items() if k is not None}
        t.append(_num(row["time"]))
        vals.append([_num(row["arousal"]), _num(row["valence"])])
    return _sorted_track(np.asarray(t, np.float64), np.asarray(vals, np.float32).reshape(-1, 2))


def _num(cell: str | None) -> float:
    try:
        return float(cell) if cell not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


def _sorted_track(t_s: np.ndarray, values: np.ndarray) -> LabelTrack:
    keep = np.isfinite(t_s)
    order = np.argsort(t_s[keep], kind="stable")
    return LabelTrack(t_s[keep][order], values[keep][order])


def merge_dimensions(arousal: LabelTrack, valence: LabelTrack) -> LabelTrack:
    """One track from a per-dimension pair (as RECOLA ships them: one file per dimension), each
    given as a track whose column 0 holds its values. Times are the union; a time missing from one
    file is NaN in that dimension."""
    t = np.union1d(arousal.t_s, valence.t_s)
    out = np.full((len(t), 2), np.nan, np.float32)
    for d, track in enumerate((arousal, valence)):
        idx = np.searchsorted(t, track.t_s)
        out[idx, d] = track.values[:, 0]
    return LabelTrack(t, out)


def to_grid(track: LabelTrack, step_s: float, n_steps: int) -> np.ndarray:
    """float32[n_steps, 2]: the mean label of each step ``[k * step_s, (k + 1) * step_s)``, NaN where
    the step holds no (non-NaN) label. Times are binned with a 1e-6 tolerance so that a label at
    exactly 0.2 s lands in step 1 despite float error."""
    out = np.full((n_steps, 2), np.nan, np.float32)
    if len(track.t_s) == 0 or n_steps <= 0:
        return out
    step = np.floor(track.t_s / step_s + 1e-6).astype(np.int64)
    inside = (step >= 0) & (step < n_steps)
    for d in range(2):
        ok = inside & ~np.isnan(track.values[:, d])
        sums = np.bincount(step[ok], weights=track.values[ok, d], minlength=n_steps)
        counts = np.bincount(step[ok], minlength=n_steps)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, d] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


MEDIA_KINDS = ("video", "audio", "image")


@dataclass(frozen=True)
class LabelledVideo:
    """One training/evaluation item: a video (or an audio clip, or a still image), its labels and its
    partition.

    ``label_paths``: one CSV of ``time,arousal,valence``, or two per-dimension files (arousal, valence)
    as RECOLA ships them (ARFF or CSV; see ``emotrace.datasets.recola``); empty for per-clip labels.
    ``audio_path``: a separate soundtrack (RECOLA's audio is a WAV next to the video), else the video's
    own audio stream. ``clip_label``: one (arousal, valence) for the whole item (categorical corpora,
    ``datasets.categories``), applied to each of its steps; ``category`` the category it came from.
    ``kind``: ``video``; ``audio`` (a soundtrack alone: its face is missing by construction) or ``image``
    (a still: its voice is missing, see ``datasets.stills``); ``video_path`` holds the file either way.
    ``group``: who is in it (speaker, identity), for splits that keep a person on one side.
    """

    post_id: str
    video_path: str
    split: str
    label_paths: tuple[str, ...]
    audio_path: str | None = None
    clip_label: tuple[float, float] | None = None
    category: str | None = None
    kind: str = "video"
    group: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"{self.post_id}: kind must be one of {MEDIA_KINDS}, got {self.kind!r}")
        if self.clip_label is None and not self.label_paths:
            raise ValueError(f"{self.post_id}: needs label files or a clip label")

    def grid_labels(self, step_s: float, n_steps: int) -> np.ndarray:
        """float32[n_steps, 2] as (arousal, valence) on the step grid: a per-clip label on every step,
        else the label files averaged per step (``to_grid``)."""
        if self.clip_label is not None:
            return np.tile(np.asarray(self.clip_label, np.float32), (max(n_steps, 0), 1))
        return to_grid(self.load_labels(), step_s, n_steps)

    def load_labels(self) -> LabelTrack:
        if len(self.label_paths) == 1:
            return read_label_csv(self.label_paths[0])
        if len(self.label_paths) == 2:
            from emotrace.datasets.recola import read_dimension_file  # per-dimension files are RECOLA's

            return merge_dimensions(*(read_dimension_file(p) for p in self.label_paths))
        raise ValueError(f"{self.post_id}: label_paths must hold 1 or 2 files, got {len(self.label_paths)}")


def relative_to(manifest: str) -> Callable[[str], str]:
    """A function resolving a manifest's paths: absolute ones as they are, relative ones against the
    manifest's folder."""
    import os

    base = os.path.dirname(os.path.abspath(manifest))
    return lambda p: p if os.path.isabs(p) else os.path.join(base, p)


def read_labelled_manifest(path: str) -> list[LabelledVideo]:
    """A CSV manifest with ``video_uri`` and ``labels_uri`` (a ``time,arousal,valence`` CSV) per row;
    optional ``post_id`` (default: the video's file stem), ``split`` (train/dev/test; default train)
    and ``audio_uri``. Relative paths are relative to the manifest's folder."""
    import os

    resolve = relative_to(path)
    out: list[LabelledVideo] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or [])
        if not {"video_uri", "labels_uri"} <= cols:
            raise ValueError(
                f"{path}: a training manifest needs video_uri and labels_uri columns; has {cols}"
            )
        for lineno, row in enumerate(reader, start=2):
            video = (row.get("video_uri") or "").strip()
            labels = (row.get("labels_uri") or "").strip()
            if not video or not labels:
                raise ValueError(f"{path}:{lineno}: video_uri and labels_uri must both be set")
            split = (row.get("split") or "train").strip() or "train"
            if split not in ("train", "dev", "test"):
                raise ValueError(f"{path}:{lineno}: split must be train, dev or test, got {split!r}")
            audio = (row.get("audio_uri") or "").strip()
            out.append(
                LabelledVideo(
                    post_id=(row.get("post_id") or "").strip()
                    or os.path.splitext(os.path.basename(video))[0],
                    video_path=resolve(video),
                    split=split,
                    label_paths=(resolve(labels),),
                    audio_path=resolve(audio) if audio else None,
                )
            )
    return out
