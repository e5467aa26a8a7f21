"""Probing: the pure MediaInfo rule, then real files (sample posts, rotated, broken inputs)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from emotrace.media.probe import StreamFacts, build_media_info, normalize_rotation, probe
from emotrace.schemas.errors import EmotraceError, ErrorCode

# Seeded: about 1 in 100 os.urandom(20_000) files sniff as LRC lyrics or raw H.261 instead.
JUNK = np.random.default_rng(0).bytes(20_000)
H264 = StreamFacts(codec="h264", duration_s=9.5, width=1920, height=1080, fps=30.0)
AAC = StreamFacts(codec="aac", duration_s=10.0, sample_rate_hz=44_100, channels=2)


@pytest.mark.parametrize(
    ("degrees", "expected"),
    [(0, 0), (90, 90), (-90, 270), (180, 180), (-180, 180), (270, 270), (360, 0), (89.6, 90), (-0.0, 0)],
)
def test_normalize_rotation(degrees: float, expected: int) -> None:
    assert normalize_rotation(degrees) == expected


@pytest.mark.parametrize(
    ("rotation", "size"), [(0, (1920, 1080)), (90, (1080, 1920)), (-90, (1080, 1920)), (180, (1920, 1080))]
)
def test_displayed_size_applies_rotation(rotation: float, size: tuple[int, int]) -> None:
    info = build_media_info(10.0, H264._replace(rotation_deg=rotation), AAC)
    assert (info.width, info.height) == size
    assert info.rotation_deg == normalize_rotation(rotation)


def test_fields_come_from_the_right_streams() -> None:
    info = build_media_info(10.0, H264, AAC)
    assert (info.has_video, info.has_audio, info.fps) == (True, True, 30.0)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.audio_sample_rate_hz, info.audio_channels) == (44_100, 2)
    audio_only = build_media_info(10.0, None, AAC)
    assert not audio_only.has_video and (audio_only.width, audio_only.height, audio_only.fps) == (0, 0, None)


def test_duration_prefers_the_container_then_the_longest_stream() -> None:
    assert build_media_info(12.5, H264, AAC).duration_s == 12.5
    assert build_media_info(None, H264, AAC).duration_s == 10.0
    assert build_media_info(0.0, H264, None).duration_s == 9.5


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((10.0, None, None), ErrorCode.NO_MEDIA_STREAMS),
        ((None, H264._replace(duration_s=None), None), ErrorCode.PROBE_FAILED),
        ((10.0, H264._replace(width=0), AAC), ErrorCode.PROBE_FAILED),
    ],
)
def test_build_media_info_failures(args: tuple[object, ...], code: ErrorCode) -> None:
    with pytest.raises(EmotraceError) as err:
        build_media_info(*args)  # type: ignore[arg-type]
    assert err.value.code == code


# -- real files -------------------------------------------------------------------------------------
@pytest.mark.media
@pytest.mark.parametrize(
    ("post_id", "has_audio"), [("talking_head", True), ("silent_face", False), ("no_face", True)]
)
def test_probe_sample_posts(sample_posts: dict[str, str], post_id: str, has_audio: bool) -> None:
    info = probe(sample_posts[post_id])
    assert info.duration_s == pytest.approx(8.0, abs=0.1)
    assert info.has_video and info.has_audio is has_audio
    assert (info.width, info.height, info.rotation_deg) == (640, 360, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.video_codec == "h264"
    if has_audio:
        assert (info.audio_codec, info.audio_sample_rate_hz, info.audio_channels) == ("aac", 44_100, 1)
    else:
        assert info.audio_codec is None and info.audio_sample_rate_hz is None


@pytest.mark.media
def test_probe_rotated_video_reports_displayed_size(clip: str, rotated_clip: str) -> None:
    plain, rotated = probe(clip), probe(rotated_clip)
    assert (plain.width, plain.height, plain.rotation_deg) == (320, 240, 0)
    assert (rotated.width, rotated.height, rotated.rotation_deg) == (240, 320, 90)
    assert (plain.audio_channels, plain.audio_sample_rate_hz) == (2, 48_000)


def _probe_code(path: str) -> ErrorCode:
    with pytest.raises(EmotraceError) as err:
        probe(path)
    return err.value.code


@pytest.mark.media
def test_probe_error_codes(tmp_path: os.PathLike[str]) -> None:
    base = str(tmp_path)
    random_bytes, empty, fifo, subtitles = (
        os.path.join(base, n) for n in ("r.mp4", "e.mp4", "f.mp4", "s.srt")
    )
    with open(random_bytes, "wb") as f:
        f.write(JUNK)
    open(empty, "wb").close()
    os.mkfifo(fifo)  # PyAV would block on it forever
    with open(subtitles, "w") as f:
        f.write("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,500 --> 00:00:02,000\nbye\n")

    assert _probe_code(os.path.join(base, "missing.mp4")) == ErrorCode.INPUT_NOT_FOUND
    assert _probe_code(base) == ErrorCode.INPUT_UNREADABLE
    assert _probe_code(fifo) == ErrorCode.INPUT_UNREADABLE
    assert _probe_code(random_bytes) == ErrorCode.PROBE_FAILED
    with pytest.raises(EmotraceError, match="Invalid data found"):  # FFmpeg's reason reaches the row
        probe(random_bytes)
    assert _probe_code(empty) == ErrorCode.PROBE_FAILED
    assert _probe_code(subtitles) == ErrorCode.FORMAT_NOT_ALLOWED  # srt is not a video container
    with pytest.raises(EmotraceError) as err:  # allowed, it parses, but holds only a subtitle stream
        probe(subtitles, format_whitelist="srt")
    assert err.value.code == ErrorCode.NO_MEDIA_STREAMS


@pytest.mark.media
@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_probe_unreadable_file(clip: str, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(str(tmp_path), "locked.mp4")
    with open(clip, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    os.chmod(path, 0)
    assert _probe_code(path) == ErrorCode.INPUT_UNREADABLE
