"""The AVEC 2016 RECOLA loader on a small fake corpus laid out exactly like the real one."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from emotrace.datasets.corpus import open_corpus
from emotrace.datasets.labels import to_grid
from emotrace.datasets.recola import is_recola_layout, load_recola, read_dimension_file

N_FRAMES = 126  # 5 s at 40 ms, plus the row at 5.00 s (RECOLA: 7501 rows for 300 s)


def _arff(stem: str, values: np.ndarray) -> str:
    head = (
        "@relation GOLDSTANDARD\n\n"
        "@attribute Instance_name string\n@attribute frameTime numeric\n"
        "@attribute GoldStandard numeric\n\n@data\n\n"
    )
    rows = "".join(f"'{stem}',{i * 0.04:.6f},{v:.6f}\n" for i, v in enumerate(values))
    return head + rows


def _values(stem: str, dim: str) -> np.ndarray:
    k = 1 + ["train_1", "train_2", "dev_1"].index(stem) + (10 if dim == "valence" else 0)
    return np.round(np.sin(np.arange(N_FRAMES) * 0.05 * k) * 0.5, 6)


@pytest.fixture(scope="module")
def fake_recola(tmp_path_factory: pytest.TempPathFactory) -> str:
    """AVEC_2016/{recordings_audio,recordings_video,ratings_gold_standard/{arousal,valence},
    ratings_individual}; train_1, train_2, dev_1 labelled; test_1 with media only (as released)."""
    from emotrace.datasets.sample_posts import write_video

    root = tmp_path_factory.mktemp("AVEC_2016")
    for d in (
        "recordings_audio",
        "recordings_video",
        "ratings_gold_standard/arousal",
        "ratings_gold_standard/valence",
        "ratings_individual/arousal",
    ):
        os.makedirs(root / d)
    rng = np.random.default_rng(0)
    frames = np.full((10, 64, 96, 3), 90, np.uint8)  # 2 s at 5 fps; no face, no audio stream
    t = np.arange(2 * 16000) / 16000
    for stem in ("train_1", "train_2", "dev_1", "test_1"):
        write_video(str(root / "recordings_video" / f"{stem}.mp4"), frames, 5.0, None)
        tone = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        sf.write(root / "recordings_audio" / f"{stem}.wav", tone, 16000)
        if stem == "test_1":
            continue  # AVEC never released test labels
        for dim in ("arousal", "valence"):
            (root / "ratings_gold_standard" / dim / f"{stem}.arff").write_text(
                _arff(stem, _values(stem, dim))
            )
    (root / "ratings_individual" / "arousal" / "train_1.csv").write_text("time;FM1\n0.0;0.1\n")
    return str(root)


def test_layout_is_recognised_and_partitions_follow_the_names(fake_recola):
    assert is_recola_layout(fake_recola)
    videos = load_recola(fake_recola)
    assert [v.post_id for v in videos] == ["train_1", "train_2", "dev_1"]
    assert [v.split for v in videos] == ["train", "train", "dev"]
    for v in videos:
        assert v.video_path.endswith(f"recordings_video/{v.post_id}.mp4")
        assert v.audio_path is not None and v.audio_path.endswith(f"recordings_audio/{v.post_id}.wav")
        assert v.label_paths[0].endswith(f"ratings_gold_standard/arousal/{v.post_id}.arff")
        assert v.label_paths[1].endswith(f"ratings_gold_standard/valence/{v.post_id}.arff")
    assert [v.post_id for v in load_recola(fake_recola, ("dev",))] == ["dev_1"]


def test_gold_standard_arff_values_and_grid_average(fake_recola):
    video = load_recola(fake_recola)[1]
    track = video.load_labels()
    assert np.allclose(track.t_s, np.arange(N_FRAMES) * 0.04)
    assert np.allclose(track.values[:, 0], _values("train_2", "arousal"), atol=1e-6)
    assert np.allclose(track.values[:, 1], _values("train_2", "valence"), atol=1e-6)
    grid = to_grid(track, 0.2, 26)
    # Step k holds the 40 ms labels at 0.2k, 0.2k + 0.04, ..., 0.2k + 0.16: five of them.
    assert np.allclose(grid[3], track.values[15:20].mean(axis=0), atol=1e-6)
    assert np.allclose(grid[25], track.values[125])  # the lone row at 5.00 s
    assert np.isnan(to_grid(track, 0.2, 27)[26]).all()


def test_csv_gold_standard_export_is_read_too(tmp_path):
    p = tmp_path / "train_1.csv"
    p.write_text("Instance_name;frameTime;GoldStandard\ntrain_1;0.00;0.25\ntrain_1;0.04;-0.5\n")
    track = read_dimension_file(str(p))
    assert track.t_s.tolist() == [0.0, 0.04]
    assert track.values[:, 0].tolist() == [0.25, -0.5]


def test_missing_video_is_an_error(fake_recola, tmp_path):
    import shutil

    broken = tmp_path / "AVEC_2016"
    shutil.copytree(fake_recola, broken)
    os.remove(broken / "recordings_video" / "dev_1.mp4")
    with pytest.raises(ValueError, match="dev_1: no video"):
        load_recola(str(broken))


@pytest.mark.media
def test_windows_take_audio_from_the_separate_wav(fake_recola, tmp_path):
    from emotrace.datasets.window_cache import load_corpus
    from emotrace.schemas.config import AnalyzeConfig

    corpus = open_corpus(fake_recola)
    assert corpus.kind == "recola" and corpus.name == "recola"
    (arrays,) = load_corpus(corpus.split("dev"), AnalyzeConfig(), 64, str(tmp_path / "cache"))
    # The mp4 has no audio stream: every audio step comes from recordings_audio/dev_1.wav.
    assert arrays.audio_mask[arrays.valid].all() and arrays.valid.sum() == 10
    assert not arrays.face_mask.any()
    expected = to_grid(load_recola(fake_recola, ("dev",))[0].load_labels(), 0.2, 25)
    assert np.allclose(arrays.gold[0], expected, equal_nan=True)
