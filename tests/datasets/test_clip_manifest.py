"""The per-clip manifest: video, audio-only or still rows with valence/arousal or a category."""

from __future__ import annotations

import pytest

from emotrace.datasets.categories import category_point
from emotrace.datasets.corpus import open_corpus


def _write(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_rows_of_each_kind(tmp_path):
    m = _write(
        tmp_path / "clips.csv",
        "video_uri,audio_uri,image_uri,valence,arousal,category,intensity,split,group\n"
        "v/a.mp4,,,0.5,-0.25,,,train,p1\n"
        ",s/b.wav,,,,anger,normal,test,p2\n"
        ",,i/c.jpg,,,happiness,,dev,\n"
        "v/d.mp4,s/d.wav,,,,neutral,,,\n",
    )
    corpus = open_corpus(m)
    assert corpus.name == "clips" and corpus.kind == "manifest"
    a, b, c, d = corpus.videos
    assert (a.kind, a.clip_label, a.split, a.group) == ("video", (-0.25, 0.5), "train", "p1")
    assert a.video_path == str(tmp_path / "v" / "a.mp4")
    angry = category_point("angry", "normal")
    assert (b.kind, b.clip_label, b.category, b.split) == ("audio", angry, "anger", "test")
    assert (c.kind, c.clip_label, c.post_id) == ("image", category_point("happy"), "c")
    assert (d.kind, d.audio_path, d.split) == ("video", str(tmp_path / "s" / "d.wav"), "train")
    grid = b.grid_labels(0.2, 4)
    assert grid.shape == (4, 2) and (grid == grid[0]).all()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.mp4,,,2.0,0.1,", r"\[-1, 1\]"),
        ("a.mp4,,,0.1,,", "numbers"),
        ("a.mp4,,,,,contempt", "contempt"),
        (",,,0.1,0.1,", "must be set"),
        ("a.mp4,,b.jpg,0.1,0.1,", "cannot be combined"),
    ],
)
def test_bad_rows_say_where(tmp_path, row, message):
    m = _write(tmp_path / "m.csv", "video_uri,audio_uri,image_uri,valence,arousal,category\n" + row + "\n")
    with pytest.raises(ValueError, match=message) as err:
        open_corpus(m)
    assert "m.csv:2" in str(err.value)
