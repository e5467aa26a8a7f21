"""Streaming decode of real files: frame grid, sizes, rotation, chunking, audio, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import MediaInfo
from tests.media.conftest import CLIP_FPS, CLIP_S, TONE_HZ, TONE_OFF_S, TONE_ON_S

pytestmark = pytest.mark.media


def _all_frames(path: str, cfg: DecodeConfig) -> tuple[np.ndarray, np.ndarray, list[int]]:
    chunks = list(iter_frames(path, probe(path), cfg))
    t_s = np.concatenate([c.t_s for c in chunks])
    frames = np.concatenate([c.frames for c in chunks])
    return t_s, frames, [len(c.frames) for c in chunks]


def test_frames_sit_on_the_grid_and_chunks_are_bounded(sample_posts: dict[str, str]) -> None:
    cfg = DecodeConfig(frame_rate_hz=5.0, chunk_frames=7)
    t_s, frames, sizes = _all_frames(sample_posts["talking_head"], cfg)
    assert len(frames) == 40  # 8 s x 5 Hz
    assert frames.shape[1:] == (360, 640, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(t_s, np.arange(40) / 5.0)
    assert sizes == [7] * 5 + [5]
    assert frames.std() > 20  # a picture, not a blank frame


def test_chunks_are_bounded_in_bytes_too(sample_posts: dict[str, str]) -> None:
    # Frames decoded large (1280 px by default) come fewer per chunk: memory per chunk stays bounded.
    cfg = DecodeConfig(frame_rate_hz=5.0, chunk_frames=7, chunk_max_bytes=3 * 640 * 360 * 3 + 100)
    _, frames, sizes = _all_frames(sample_posts["talking_head"], cfg)
    assert len(frames) == 40 and sizes == [3] * 13 + [1]


def test_reused_frame_buffer_gives_the_same_frames(sample_posts: dict[str, str]) -> None:
    cfg = DecodeConfig(frame_rate_hz=5.0, chunk_frames=7)
    path = sample_posts["talking_head"]
    _, want, _ = _all_frames(path, cfg)
    chunks = iter_frames(path, probe(path), cfg, reuse_buffer=True)
    got = np.concatenate([c.frames.copy() for c in chunks])  # each copied before the next is decoded
    np.testing.assert_array_equal(got, want)


def test_each_frame_is_the_source_frame_on_screen_at_its_time(index_clip: str) -> None:
    # Source frame k has grey level 4k; at 10 Hz, output frame i is source frame 2.5 i, rounded down.
    rate = 10.0
    t_s, frames, _ = _all_frames(index_clip, DecodeConfig(frame_rate_hz=rate))
    assert len(frames) == int(CLIP_S * rate)
    source_index = np.rint(frames.reshape(len(frames), -1).mean(axis=1) / 4.0)
    np.testing.assert_array_equal(source_index, np.floor(t_s * CLIP_FPS + 1e-9))


def test_frames_are_scaled_down_never_up(clip: str) -> None:
    _, small, _ = _all_frames(clip, DecodeConfig(max_side_px=160))
    _, same, _ = _all_frames(clip, DecodeConfig(max_side_px=4096))
    assert small.shape[1:3] == (120, 160)
    assert same.shape[1:3] == (240, 320)


def test_rotated_video_decodes_to_displayed_portrait_frames(rotated_clip: str) -> None:
    _, frames, _ = _all_frames(rotated_clip, DecodeConfig())
    assert frames.shape[1:] == (320, 240, 3)
    # Source red grows left->right; turned 90 degrees counter-clockwise it grows bottom->top.
    red = frames[0, :, :, 0].astype(float)
    assert red[:10].mean() > 240 and red[-10:].mean() < 15
    assert abs(red[:, :10].mean() - red[:, -10:].mean()) < 10  # constant along rows: really rotated


def test_audio_chunks_are_contiguous_mono_and_in_range(sample_posts: dict[str, str]) -> None:
    path = sample_posts["talking_head"]
    cfg = DecodeConfig(sample_rate_hz=16_000, audio_chunk_s=3.0)
    chunks = list(iter_audio(path, probe(path), cfg))
    sizes = [len(c.samples) for c in chunks]
    assert sizes[:-1] == [48_000, 48_000] and 0 < sizes[-1] <= 48_000
    assert [c.t0_s for c in chunks] == [0.0, 3.0, 6.0]
    assert all(c.sample_rate_hz == 16_000 and c.samples.dtype == np.float32 for c in chunks)
    samples = np.concatenate([c.samples for c in chunks])
    assert len(samples) == pytest.approx(8.0 * 16_000, rel=0.02)
    assert np.abs(samples).max() <= 1.0 and np.sqrt(np.mean(samples**2)) > 0.01


def test_audio_timing_and_pitch_survive_resampling(clip: str) -> None:
    cfg = DecodeConfig(sample_rate_hz=16_000)
    samples = np.concatenate([c.samples for c in iter_audio(clip, probe(clip), cfg)])
    loud = np.flatnonzero(np.abs(samples) > 0.1) / 16_000
    assert loud[0] == pytest.approx(TONE_ON_S, abs=0.01)  # AAC priming delay is compensated
    assert loud[-1] == pytest.approx(TONE_OFF_S, abs=0.01)
    tone = samples[int(0.6 * 16_000) : int(1.4 * 16_000)]
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    peak_hz = np.fft.rfftfreq(len(tone), 1 / 16_000)[spectrum.argmax()]
    assert peak_hz == pytest.approx(TONE_HZ, abs=3.0)


def test_missing_streams_yield_nothing(sample_posts: dict[str, str]) -> None:
    path = sample_posts["silent_face"]
    info = probe(path)
    assert list(iter_audio(path, info, DecodeConfig())) == []
    no_video = MediaInfo(duration_s=8.0, has_video=False, has_audio=False)
    assert list(iter_frames(path, no_video, DecodeConfig())) == []


def test_decode_timeout(sample_posts: dict[str, str]) -> None:
    path = sample_posts["talking_head"]
    with pytest.raises(EmotraceError) as err:
        list(iter_frames(path, probe(path), DecodeConfig(timeout_s=1e-3)))
    assert err.value.code == ErrorCode.DECODE_TIMEOUT
    with pytest.raises(EmotraceError) as err:
        list(iter_audio(path, probe(path), DecodeConfig(timeout_s=1e-3)))
    assert err.value.code == ErrorCode.DECODE_TIMEOUT


def test_undecodable_file_raises_decode_failed(tmp_path: Path) -> None:
    path = str(tmp_path / "junk.mp4")
    with open(path, "wb") as f:
        f.write(np.random.default_rng(0).bytes(20_000))  # seeded: urandom sometimes sniffs as a format
    # As if probing had been fooled: ffmpeg itself must fail loudly, not yield nothing.
    info = MediaInfo(duration_s=1.0, has_video=True, has_audio=True, width=64, height=48)
    for reader in (iter_frames, iter_audio):
        with pytest.raises(EmotraceError) as err:
            list(reader(path, info, DecodeConfig()))
        assert err.value.code == ErrorCode.DECODE_FAILED
        assert "junk.mp4" in err.value.message and "Invalid data" in err.value.message


def test_frames_are_writable(clip: str) -> None:
    chunk = next(iter_frames(clip, probe(clip), DecodeConfig()))
    chunk.frames[0, 0, 0] = 0  # downstream code may draw on or normalise frames in place
    assert chunk.frames[0, 0, 0].tolist() == [0, 0, 0]
