"""Pure tests of the argv builders and the runner's argv policy (no ffmpeg runs here)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emotrace.media.argv import (
    GLOBAL_ARGS,
    PROTOCOL_WHITELIST,
    audio_argv,
    encode_argv,
    frame_size,
    output_size,
    rotate_remux_argv,
    video_frames_argv,
)
from emotrace.media.runner import check_argv
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.records import MediaInfo

INFO = MediaInfo(duration_s=10.0, has_video=True, has_audio=True, width=1920, height=1080, fps=30.0)


def _value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((1920, 1080), 640, (640, 360)),
        ((1080, 1920), 640, (360, 640)),  # portrait: the longer side is the height
        ((320, 240), 640, (320, 240)),  # never upscale
        ((641, 361), 1000, (640, 360)),  # odd sides round down to even, even without scaling
        ((1280, 720), 641, (640, 360)),  # an odd limit still gives even sides
        ((3, 1), 640, (2, 2)),  # degenerate sizes keep at least 2 pixels
    ],
)
def test_output_size_examples(size: tuple[int, int], max_side: int, expected: tuple[int, int]) -> None:
    assert output_size(*size, max_side) == expected


@given(
    w=st.integers(2, 8000),
    h=st.integers(2, 8000),
    max_side=st.integers(16, 4000),
)
def test_output_size_invariants(w: int, h: int, max_side: int) -> None:
    out_w, out_h = output_size(w, h, max_side)
    assert out_w % 2 == 0 and out_h % 2 == 0
    assert max(out_w, out_h) <= max_side
    assert out_w <= max(w, 2) and out_h <= max(h, 2)  # no upscaling (beyond the 2-pixel floor)
    if min(out_w, out_h) >= 20:  # aspect ratio kept to within rounding
        assert abs(out_w / out_h - w / h) / (w / h) < 0.1


@pytest.mark.parametrize(
    ("size", "want"),
    [
        ((1280, 720), (854, 480)),  # 720p at 2/3
        ((1920, 1080), (1280, 720)),  # 1080p at 2/3, which is also the cap
        ((3840, 2160), (1280, 720)),  # 4K: capped at 1280
        ((1080, 1920), (720, 1280)),  # portrait 1080p
        ((854, 480), (640, 360)),  # 2/3 would be below 640 px: 640
        ((640, 360), (640, 360)),  # never up
        ((320, 240), (320, 240)),
    ],
)
def test_the_default_decode_size_is_two_thirds_within_640_and_1280(
    size: tuple[int, int], want: tuple[int, int]
) -> None:
    d = DecodeConfig()
    assert output_size(*size, d.max_side_px, d.scale, d.min_side_px) == want


@pytest.mark.parametrize("bad", [(0, 10, 640), (10, -1, 640), (10, 10, 1)])
def test_output_size_rejects_nonsense(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError):
        output_size(*bad)


def test_video_argv_decodes_first_real_video_stream_to_rgb_at_the_grid() -> None:
    cfg = DecodeConfig(frame_rate_hz=5.0, max_side_px=640)
    argv = video_frames_argv("videos/a b.mp4", INFO, cfg, exe="ffmpeg")
    assert argv[: 1 + len(GLOBAL_ARGS)] == ["ffmpeg", *GLOBAL_ARGS]
    assert _value_after(argv, "-protocol_whitelist") == PROTOCOL_WHITELIST
    assert argv.index("-protocol_whitelist") < argv.index("-i")
    url = _value_after(argv, "-i")
    assert url.startswith("file:/") and url.endswith("/videos/a b.mp4")  # absolute, never a protocol
    assert _value_after(argv, "-map") == "0:V:0"
    assert _value_after(argv, "-f") == "rawvideo" and _value_after(argv, "-pix_fmt") == "yuv420p"
    vf = _value_after(argv, "-vf")
    assert vf.startswith("fps=fps=5:start_time=0:round=up,") and "scale=w=640:h=360" in vf
    assert "-an" in argv and argv[-1] == "pipe:"
    assert frame_size(INFO, cfg) == (640, 360)
    check_argv(argv)


def test_video_argv_keeps_fractional_rates_exact() -> None:
    argv = video_frames_argv("a.mp4", INFO, DecodeConfig(frame_rate_hz=1 / 3), exe="ffmpeg")
    assert "fps=fps=1/3:" in _value_after(argv, "-vf")


def test_audio_argv_is_mono_f32_at_the_configured_rate() -> None:
    argv = audio_argv("a.mp4", DecodeConfig(sample_rate_hz=16_000), exe="ffmpeg")
    assert _value_after(argv, "-map") == "0:a:0"
    assert _value_after(argv, "-ac") == "1" and _value_after(argv, "-ar") == "16000"
    assert _value_after(argv, "-f") == "f32le" and "-vn" in argv
    assert "first_pts=0" in _value_after(argv, "-af")
    check_argv(argv)


def test_encode_and_remux_argvs_whitelist_every_input() -> None:
    enc = encode_argv("o.mp4", 64, 48, 25.0, "a.wav", exe="ffmpeg")
    assert enc.count("-i") == 2 and enc.count("-protocol_whitelist") == 2
    assert _value_after(enc, "-s") == "64x48" and _value_after(enc, "-vcodec") == "libx264"
    check_argv(enc)
    remux = rotate_remux_argv("a.mp4", "b.mp4", 90, exe="ffmpeg")
    assert _value_after(remux, "-display_rotation") == "90" and _value_after(remux, "-c") == "copy"
    check_argv(remux)


def test_check_argv_refuses_shell_strings_and_unguarded_inputs() -> None:
    with pytest.raises(TypeError):
        check_argv("ffmpeg -i a.mp4 out.wav")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must start with"):
        check_argv(["ffmpeg", "-i", "a.mp4", "out.wav"])
    with pytest.raises(ValueError, match="lacks -protocol_whitelist"):
        check_argv(["ffmpeg", *GLOBAL_ARGS, "-i", "a.mp4", "pipe:"])
    # The first input's whitelist does not cover a second input.
    second = ["-protocol_whitelist", PROTOCOL_WHITELIST, "-i", "a.mp4", "-i", "http://x/b.mp4", "pipe:"]
    with pytest.raises(ValueError, match=re.escape("http://x/b.mp4")):
        check_argv(["ffmpeg", *GLOBAL_ARGS, *second])
    # A whitelist naming other protocols does not count.
    with pytest.raises(ValueError):
        check_argv(["ffmpeg", *GLOBAL_ARGS, "-protocol_whitelist", "file,http", "-i", "a.mp4", "pipe:"])
