"""Shared media fixtures: small real files written once per session with the real ffmpeg."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from emotrace.datasets.sample_posts import write_rotated_copy, write_video

CLIP_W, CLIP_H, CLIP_FPS, CLIP_S = 320, 240, 25, 2.0


def gradient_frames(n: int, width: int, height: int) -> np.ndarray:
    """uint8[n, height, width, 3]: red grows left->right, green top->bottom, blue with time.

    The ramps make orientation checkable after decoding (where is the red edge?)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    frames = np.empty((n, height, width, 3), np.uint8)
    frames[..., 0] = np.broadcast_to(x, (height, width))
    frames[..., 1] = np.broadcast_to(y, (height, width))
    frames[..., 2] = (np.arange(n) * 255 // max(n - 1, 1)).astype(np.uint8)[:, None, None]
    return frames


@pytest.fixture(scope="session")
def sample_posts(sample_posts_dir: Path) -> dict[str, str]:
    """post_id -> absolute path of the three sample posts (built once per session by tests/conftest.py)."""
    with open(sample_posts_dir / "manifest.csv", newline="", encoding="utf-8") as f:
        return {row["post_id"]: str(sample_posts_dir / row["video_uri"]) for row in csv.DictReader(f)}


TONE_HZ, TONE_ON_S, TONE_OFF_S = 440.0, 0.5, 1.5


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2 s 320x240 25 fps gradient clip; stereo 48 kHz audio: a 440 Hz tone from 0.5 s to 1.5 s.

    The tone's onset checks audio timing; stereo input exercises the downmix to mono."""
    path = str(tmp_path_factory.mktemp("clip") / "clip.mp4")
    t = np.arange(int(CLIP_S * 48_000)) / 48_000
    gate = (t >= TONE_ON_S) & (t < TONE_OFF_S)
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t) * gate).astype(np.float32)
    frames = gradient_frames(int(CLIP_S * CLIP_FPS), CLIP_W, CLIP_H)
    write_video(path, frames, CLIP_FPS, np.c_[tone, tone], 48_000)
    return path


@pytest.fixture(scope="session")
def index_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """2 s of 64x48 grey frames at 25 fps whose level is 4 x the frame index: decoded frames tell
    which source frame they came from. No audio."""
    path = str(tmp_path_factory.mktemp("index") / "index.mp4")
    levels = (np.arange(int(CLIP_S * CLIP_FPS)) * 4).astype(np.uint8)
    frames = np.broadcast_to(levels[:, None, None, None], (len(levels), 48, 64, 3))
    write_video(path, frames, CLIP_FPS, crf=5)
    return path


@pytest.fixture(scope="session")
def rotated_clip(clip: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``clip`` remuxed with a 90-degree display matrix (a portrait phone video)."""
    path = os.path.join(str(tmp_path_factory.mktemp("rotated")), "rotated.mp4")
    write_rotated_copy(clip, path, 90)
    return path
