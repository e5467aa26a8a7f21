"""Input policy: schemes, limits and the container whitelist in every decode argv (pure)."""

import pytest

from emotrace.media.argv import audio_argv, video_frames_argv
from emotrace.media.limits import check_limits, check_scheme, uri_scheme
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode, SkipInput
from emotrace.schemas.records import MediaInfo


def test_schemes():
    cfg = DecodeConfig()
    assert uri_scheme("/a/b.mp4") == "file" and uri_scheme("GS://b/x.mp4") == "gs"
    check_scheme("gs://bucket/x.mp4", cfg)
    check_scheme("relative/x.mp4", cfg)
    with pytest.raises(EmotraceError) as err:
        check_scheme("http://127.0.0.1/x.mp4", cfg)
    assert err.value.code == ErrorCode.SCHEME_NOT_ALLOWED and err.value.status == "failed"


def test_limits_skip_rather_than_fail():
    cfg = DecodeConfig(max_duration_s=10, max_pixels=100 * 100)
    check_limits(MediaInfo(10.0, True, True, 100, 100), cfg)
    with pytest.raises(SkipInput) as long:
        check_limits(MediaInfo(10.5, True, True, 10, 10), cfg)
    with pytest.raises(SkipInput) as big:
        check_limits(MediaInfo(1.0, True, False, 101, 100), cfg)
    assert (long.value.code, big.value.code) == (ErrorCode.TOO_LONG, ErrorCode.TOO_LARGE)
    assert long.value.status == "skipped"


def test_decode_argv_carries_the_format_whitelist():
    cfg = DecodeConfig(format_whitelist="mov,matroska")
    info = MediaInfo(1.0, True, True, 320, 240)
    for argv in (
        video_frames_argv("/x.mp4", info, cfg, exe="ffmpeg"),
        audio_argv("/x.mp4", cfg, exe="ffmpeg"),
    ):
        i = argv.index("-format_whitelist")
        assert argv[i + 1] == "mov,matroska" and i < argv.index("-i")
