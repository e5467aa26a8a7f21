"""Limits on what is decoded, not on what the header says (issue 15, class 5), and animated GIF and WebP
posts (class 13): media tier, real ffmpeg on generated files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import ErrorCode, SkipInput
from tests.pipelines.bad_inputs import _make_more, _video

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("limits")
    _video(work / "clip.mp4", 3.0, "160x120", 25)
    for kind, name in [
        ("resolution_change", "change.ts"),
        ("animated_gif", "a.gif"),
        ("animated_webp", "a.webp"),
    ]:
        _make_more(kind, work / name, work)
    return work


def test_frames_stop_at_max_duration_when_the_header_says_less(work):
    path = str(work / "clip.mp4")
    lying = dataclasses.replace(probe(path), duration_s=1.0)  # the header claims 1 s of a 3 s stream
    cfg = DecodeConfig(max_duration_s=1.5)
    t_s: list[float] = []
    with pytest.raises(SkipInput) as err:
        for chunk in iter_frames(path, lying, cfg):
            t_s += chunk.t_s.tolist()
    assert err.value.code == ErrorCode.TOO_LONG and err.value.status == "skipped"
    assert t_s == pytest.approx(np.arange(0, 1.5, 0.2).tolist())  # everything before the limit, nothing after
    audio: list[np.ndarray] = []
    with pytest.raises(SkipInput):
        audio += [c.samples for c in iter_audio(path, lying, cfg)]
    assert sum(len(a) for a in audio) <= 1.5 * cfg.sample_rate_hz


def test_a_truthful_stream_at_the_limit_is_not_cut(work):
    path = str(work / "clip.mp4")
    cfg = DecodeConfig(max_duration_s=3.0)
    frames = sum(len(c.t_s) for c in iter_frames(path, probe(path), cfg))
    samples = sum(len(c.samples) for c in iter_audio(path, probe(path), cfg))
    assert frames == 15 and samples == pytest.approx(3.0 * cfg.sample_rate_hz, rel=0.02)


def test_frames_past_max_pixels_are_refused_even_after_a_resolution_change(work):
    path = str(work / "change.ts")
    info = probe(path)
    assert (info.width, info.height) == (160, 120)  # the first header: within the limit
    frames = []
    with pytest.raises(SkipInput) as err:
        for chunk in iter_frames(path, info, DecodeConfig(max_pixels=3840 * 2160)):
            frames.append(chunk.frames.shape)
    assert err.value.code == ErrorCode.TOO_LARGE and "4096x2304" in err.value.message
    assert sum(s[0] for s in frames) >= 25 and all(s[1:] == (120, 160, 3) for s in frames)


@pytest.mark.parametrize("name", ["a.gif", "a.webp"])
def test_animated_gif_and_webp_probe_and_decode(work, name):
    path = str(work / name)
    info = probe(path)
    assert (info.duration_s, info.width, info.height, info.has_audio) == (3.0, 160, 120, False)
    chunks = list(iter_frames(path, info, DecodeConfig()))
    frames = np.concatenate([c.frames for c in chunks])
    assert len(frames) == 15 and frames.std() > 10  # 3 s at 5 fps, real pictures (not blank)
