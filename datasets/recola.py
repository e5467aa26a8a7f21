"""RECOLA as distributed for AVEC 2016 (the layout users who hold a licence have on disk).

The AVEC 2016 package (Valstar et al., "AVEC 2016: Depression, Mood, and Emotion Recognition Workshop
and Challenge") holds 9 ``train`` and 9 ``dev`` recordings of 5 minutes (test labels were never
released), one file per recording and modality, named ``<partition>_<n>``::

    AVEC_2016/
      recordings_audio/train_1.wav ... dev_9.wav        (the audio lives apart from the video)
      recordings_video/train_1.mp4 ... dev_9.mp4        (.avi accepted too)
      ratings_gold_standard/arousal/train_1.arff ...    (gold standard every 40 ms, 7501 rows)
      ratings_gold_standard/valence/train_1.arff ...
      ratings_individual/ ... features_* / ...          (ignored here)

A gold-standard ARFF looks like::

    @relation GOLDSTANDARD
    @attribute Instance_name string
    @attribute frameTime numeric
    @attribute GoldStandard numeric
    @data
    'train_1',0.000000,-0.0195

CSV exports of the same files are accepted too (``ratings_gold_standard/arousal/train_1.csv``: a header
with a time column (``frameTime``, ``time`` or ``timestamp``) and a value column (``GoldStandard``, or the
last numeric column); ``,`` or ``;`` separated). Pure core: no Beam import.
"""

from __future__ import annotations

import csv
import os
import re

import numpy as np

from emotrace.datasets.labels import LabelledVideo, LabelTrack

PARTITIONS = ("train", "dev", "test")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov")
_TIME_NAMES = ("frametime", "time", "timestamp", "time_s")
_VALUE_NAMES = ("goldstandard", "gold_standard", "value", "rating")
_NAME = re.compile(r"^(train|dev|test)_(\d+)$")


def is_recola_layout(root: str) -> bool:
    return os.path.isdir(os.path.join(root, "ratings_gold_standard")) and os.path.isdir(
        os.path.join(root, "recordings_video")
    )


def read_dimension_file(path: str) -> LabelTrack:
    """One dimension's gold standard (ARFF or CSV) -> a ``LabelTrack`` with the values in column 0
    (column 1 NaN)."""
    if path.lower().endswith(".arff"):
        t, v = _read_arff(path)
    else:
        t, v = _read_csv(path)
    values = np.full((len(t), 2), np.nan, np.float32)
    values[:, 0] = v
    order = np.argsort(t, kind="stable")
    return LabelTrack(t[order], values[order])


def _read_arff(path: str) -> tuple[np.ndarray, np.ndarray]:
    attrs: list[tuple[str, str]] = []
    t, v = [], []
    in_data = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("%"):
                continue
            low = line.lower()
            if not in_data:
                if low.startswith("@attribute"):
                    parts = line.split(None, 2)
                    attrs.append((parts[1].strip("'\"").lower(), parts[2].lower() if len(parts) > 2 else ""))
                elif low.startswith("@data"):
                    in_data = True
                    i_time, i_value = _columns(path, attrs)
                continue
            cells = next(csv.reader([line], quotechar="'", skipinitialspace=True))
            t.append(float(cells[i_time]))
            v.append(_float(cells[i_value]))
    if not in_data:
        raise ValueError(f"{path}: no @data section; is it an ARFF gold-standard file?")
    return np.asarray(t, np.float64), np.asarray(v, np.float32)


def _columns(path: str, attrs: list[tuple[str, str]]) -> tuple[int, int]:
    names = [a for a, _ in attrs]
    i_time = next((names.index(n) for n in _TIME_NAMES if n in names), None)
    if i_time is None:
        raise ValueError(f"{path}: no time attribute (one of {_TIME_NAMES}) among {names}")
    i_value = next((names.index(n) for n in _VALUE_NAMES if n in names), None)
    if i_value is None:  # the last numeric attribute that is not the time
        numeric = [
            i for i, (_, kind) in enumerate(attrs) if kind.startswith(("numeric", "real")) and i != i_time
        ]
        if not numeric:
            raise ValueError(f"{path}: no numeric value attribute besides the time among {names}")
        i_value = numeric[-1]
    return i_time, i_value


def _read_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    head = text.split("\n", 1)[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header = [c.strip().strip("'\"").lower() for c in rows[0]]
    attrs = [(h, "numeric") for h in header]
    i_time, i_value = _columns(path, attrs)
    body = [r for r in rows[1:] if len(r) > max(i_time, i_value)]
    return (
        np.asarray([float(r[i_time]) for r in body], np.float64),
        np.asarray([_float(r[i_value]) for r in body], np.float32),
    )


def _float(cell: str) -> float:
    cell = cell.strip().strip("'\"")
    return float(cell) if cell not in ("", "?") else float("nan")


def _find(folder: str, stem: str, extensions: tuple[str, ...]) -> str | None:
    for ext in extensions:
        path = os.path.join(folder, stem + ext)
        if os.path.exists(path):
            return path
    return None


def load_recola(root: str, partitions: tuple[str, ...] = ("train", "dev")) -> list[LabelledVideo]:
    """The recordings of ``partitions`` that have a video and both gold-standard files, in
    (partition, number) order. A recording with a video but no labels (e.g. ``test``) is skipped; a
    labelled one without video is an error (the layout is incomplete)."""
    if not is_recola_layout(root):
        raise ValueError(
            f"{root} is not an AVEC 2016 RECOLA folder: expected recordings_video/ and ratings_gold_standard/"
        )
    gold = os.path.join(root, "ratings_gold_standard")
    stems = set()
    for name in os.listdir(os.path.join(gold, "arousal")):
        stem = os.path.splitext(name)[0]
        m = _NAME.match(stem)
        if m and m.group(1) in partitions:
            stems.add((PARTITIONS.index(m.group(1)), int(m.group(2)), stem))
    out = []
    for _, _, stem in sorted(stems):
        labels = tuple(_find(os.path.join(gold, d), stem, (".arff", ".csv")) for d in ("arousal", "valence"))
        if labels[1] is None or labels[0] is None:
            raise ValueError(f"{stem}: arousal and valence gold standards must both exist under {gold}")
        video = _find(os.path.join(root, "recordings_video"), stem, VIDEO_EXTENSIONS)
        if video is None:
            raise ValueError(
                f"{stem}: no video in {os.path.join(root, 'recordings_video')} ({VIDEO_EXTENSIONS})"
            )
        audio = _find(os.path.join(root, "recordings_audio"), stem, (".wav",))
        out.append(
            LabelledVideo(
                post_id=stem,
                video_path=video,
                split=stem.split("_", 1)[0],
                label_paths=(labels[0], labels[1]),
                audio_path=audio,
            )
        )
    return out
