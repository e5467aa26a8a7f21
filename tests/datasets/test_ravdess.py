"""RAVDESS naming: audio-only files (as in ../shared/realdata) and the audio-visual layout, on fake trees."""

from __future__ import annotations

import pytest

from emotrace.datasets.categories import category_point
from emotrace.datasets.corpus import open_corpus
from emotrace.datasets.ravdess import load_ravdess, parse_name
from tests.realdata import require_realdata


def _touch(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_parse_name():
    n = parse_name("03-01-05-02-01-02-13.flac")
    assert n is not None
    assert (n.modality, n.emotion_name, n.intensity_name, n.actor, n.male) == (3, "angry", "strong", 13, True)
    assert parse_name("03-01-09-01-01-01-01.wav") is None  # no emotion 09
    assert parse_name("04-01-01-01-01-01-01.wav") is None  # no modality 04
    assert parse_name("notes.txt") is None


def test_audio_visual_tree_keeps_one_version_of_each_performance(tmp_path):
    root = tmp_path / "ravdess"
    # The distribution's nesting: Actor_NN/ folders; one take in all three modalities, one audio only.
    _touch(root / "Actor_01" / "01-01-03-02-01-01-01.mp4")  # audio-visual
    _touch(root / "Actor_01" / "02-01-03-02-01-01-01.mp4")  # video only, same take
    _touch(root / "audio" / "Actor_01" / "03-01-03-02-01-01-01.wav")  # audio only, same take
    _touch(root / "audio" / "Actor_22" / "03-01-04-01-02-01-22.wav")
    _touch(root / "Actor_18" / "02-02-01-01-01-02-18.mp4")  # song, video only
    items = {v.post_id: v for v in load_ravdess(str(root))}
    assert set(items) == {"01-01-03-02-01-01-01", "03-01-04-01-02-01-22", "02-02-01-01-01-02-18"}
    av = items["01-01-03-02-01-01-01"]
    assert (av.kind, av.split, av.category, av.group) == ("video", "train", "happy", "ravdess-actor-01")
    assert av.clip_label == category_point("happy", "strong")
    sad = items["03-01-04-01-02-01-22"]
    assert (sad.kind, sad.split, sad.clip_label) == ("audio", "test", category_point("sad", "normal"))
    assert items["02-02-01-01-01-02-18"].split == "dev"
    assert [v.post_id for v in load_ravdess(str(root), channels=(1,))] == [
        "01-01-03-02-01-01-01",
        "03-01-04-01-02-01-22",
    ]
    corpus = open_corpus(str(root))
    assert (corpus.name, corpus.kind, len(corpus.videos)) == ("ravdess", "ravdess", 3)


def test_the_shared_copy():
    folder = require_realdata("speech", "ravdess")
    items = load_ravdess(str(folder))
    assert len(items) == 1424 and all(v.kind == "audio" for v in items)
    actors = {v.group for v in items}
    assert len(actors) == 24
    test_actors = {v.group for v in items if v.split == "test"}
    train_actors = {v.group for v in items if v.split == "train"}
    assert len(test_actors) == 4 and not test_actors & train_actors


@pytest.mark.parametrize("bad", ["03-01-05-03-01-01-01.wav", "03-03-05-01-01-01-01.wav"])
def test_unknown_fields_are_not_ravdess(bad):
    assert parse_name(bad) is None
