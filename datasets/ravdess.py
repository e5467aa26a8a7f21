"""RAVDESS (Livingstone & Russo 2018, PLoS ONE 13(5): e0196391; CC BY-NC-SA 4.0) as labelled items.

File names carry the labels: ``MM-VV-EE-II-SS-RR-AA.ext`` with MM modality (01 audio-visual, 02 video
only, 03 audio only), VV vocal channel (01 speech, 02 song), EE emotion (01 neutral, 02 calm, 03 happy,
04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), II intensity (01 normal, 02 strong), SS
statement, RR repetition, AA actor (odd: male). Files are found anywhere under the folder (the
distribution nests them in ``Actor_NN/``; ``../shared/realdata/speech/ravdess`` is flat, 16 kHz FLAC).

Each file is one clip with one label: its emotion's point on the arousal-valence plane
(``datasets.categories``, the project's single table), scaled towards neutral for the "normal" intensity.
Audio-only files are items whose face is missing by construction; the audio-visual files (for users who
have them) are videos with face and voice; video-only files are faces without a voice. The same
performance may ship in several modalities: it is kept once, the richest version first (audio-visual,
then audio-only, then video-only), so the same recording is never counted twice.

Splits keep an actor on one side: ``test_actors`` and ``dev_actors`` (defaults: actors 21-24 and 17-20,
two women and two men each), everyone else trains. Pure core: no Beam import.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emotrace.datasets.categories import category_point
from emotrace.datasets.labels import LabelledVideo

EMOTIONS = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
MODALITIES = {1: "video", 2: "video", 3: "audio"}  # LabelledVideo.kind
_PREFERENCE = {1: 0, 3: 1, 2: 2}  # audio-visual first, then audio only, then video only
DEFAULT_TEST_ACTORS = (21, 22, 23, 24)
DEFAULT_DEV_ACTORS = (17, 18, 19, 20)
_NAME = re.compile(
    r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.(wav|flac|mp4|mov|mkv|avi|ogg|mp3|m4a)$", re.I
)
LICENCE = "CC BY-NC-SA 4.0"
CITATION = "Livingstone & Russo (2018), PLoS ONE 13(5): e0196391, doi:10.1371/journal.pone.0196391"


@dataclass(frozen=True)
class RavdessName:
    """The fields of one file name."""

    modality: int
    channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def performance(self) -> tuple[int, ...]:
        """Everything but the modality: one take of one actor."""
        return (self.channel, self.emotion, self.intensity, self.statement, self.repetition, self.actor)

    @property
    def emotion_name(self) -> str:
        return EMOTIONS[self.emotion]

    @property
    def intensity_name(self) -> str:
        return "strong" if self.intensity == 2 else "normal"

    @property
    def male(self) -> bool:
        return self.actor % 2 == 1


def parse_name(filename: str) -> RavdessName | None:
    """The fields of a RAVDESS file name, or None if ``filename`` does not follow the scheme (or names
    an unknown modality, channel, emotion or intensity)."""
    m = _NAME.match(os.path.basename(filename))
    if not m:
        return None
    n = RavdessName(*(int(g) for g in m.groups()[:7]))
    if n.modality not in MODALITIES or n.channel not in (1, 2) or n.emotion not in EMOTIONS:
        return None
    if n.intensity not in (1, 2) or not 1 <= n.actor <= 99:
        return None
    return n


def find_files(folder: str) -> list[tuple[str, RavdessName]]:
    """Every RAVDESS-named file under ``folder`` (sorted by path), with its parsed name."""
    out = []
    for root, _, files in os.walk(folder):
        for f in files:
            name = parse_name(f)
            if name is not None:
                out.append((os.path.join(root, f), name))
    return sorted(out)


def is_ravdess_layout(folder: str, min_files: int = 2) -> bool:
    """At least ``min_files`` files named by the RAVDESS scheme under ``folder``."""
    count = 0
    for _, _, files in os.walk(folder):
        count += sum(parse_name(f) is not None for f in files)
        if count >= min_files:
            return True
    return False


def split_of(actor: int, test_actors: Iterable[int], dev_actors: Iterable[int]) -> str:
    if actor in set(test_actors):
        return "test"
    return "dev" if actor in set(dev_actors) else "train"


def load_ravdess(
    folder: str,
    test_actors: Sequence[int] = DEFAULT_TEST_ACTORS,
    dev_actors: Sequence[int] = DEFAULT_DEV_ACTORS,
    channels: Sequence[int] = (1, 2),
) -> list[LabelledVideo]:
    """One labelled item per performance under ``folder`` (see the module docstring)."""
    best: dict[tuple[int, ...], tuple[str, RavdessName]] = {}
    for path, name in find_files(folder):
        if name.channel not in channels:
            continue
        kept = best.get(name.performance)
        if kept is None or _PREFERENCE[name.modality] < _PREFERENCE[kept[1].modality]:
            best[name.performance] = (path, name)
    items = []
    for path, name in sorted(best.values()):
        items.append(
            LabelledVideo(
                post_id=os.path.splitext(os.path.basename(path))[0],
                video_path=path,
                split=split_of(name.actor, test_actors, dev_actors),
                label_paths=(),
                clip_label=category_point(name.emotion_name, name.intensity_name),
                category=name.emotion_name,
                kind=MODALITIES[name.modality],
                group=f"ravdess-actor-{name.actor:02d}",
            )
        )
    return items
