"""Pure builders of ffmpeg argv lists (built with ffmpeg-python, run by :mod:`emotrace.media.runner`).

Every argv is ``[exe, *GLOBAL_ARGS, ...]`` and every input carries ``-protocol_whitelist file,pipe``;
the runner refuses anything else. Local paths are passed as ``file:/abs/path`` so that a file named like
``concat:a|b`` or ``subfile,,...`` is never parsed as a protocol.
"""

from __future__ import annotations

import os
from fractions import Fraction

import ffmpeg

from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.limits import decode_span_s
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.records import MediaInfo

# -nostdin: ffmpeg must never wait on (or eat) our stdin; quiet logs keep stderr to real errors.
GLOBAL_ARGS: tuple[str, ...] = ("-nostdin", "-hide_banner", "-loglevel", "error")
# Inputs may only be opened through these protocols (no http, tcp, concat, ... from crafted files).
PROTOCOL_WHITELIST = "file,pipe"


def input_url(path: str) -> str:
    """``file:`` URL of a local path (absolute), or ``path`` itself if it already is ``pipe:...``."""
    if path.startswith("pipe:"):
        return path
    return "file:" + os.path.abspath(path)


def _with_exe(args: list[str], exe: str | None, *extra_global: str) -> list[str]:
    return [exe or ffmpeg_exe(), *GLOBAL_ARGS, *extra_global, *args]


def output_size(
    width: int, height: int, max_side_px: int, scale: float = 1.0, min_side_px: int = 0
) -> tuple[int, int]:
    """Frame size after scaling (width, height) by ``scale``, but to no less than ``min_side_px`` and
    no more than ``max_side_px`` on the longer side.

    Never upscales; both sides are rounded down to even numbers (>= 2) because many pixel formats and
    encoders need even dimensions, and doing it here means the reader knows the exact frame size.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if max_side_px < 2:
        raise ValueError(f"max_side_px must be >= 2, got {max_side_px}")
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    longer = max(width, height)
    s = min(1.0, max_side_px / longer, max(scale, min_side_px / longer))
    out_w = round(width * s)
    out_h = round(height * s)
    return max(2, out_w - out_w % 2), max(2, out_h - out_h % 2)


def frame_size(info: MediaInfo, cfg: DecodeConfig) -> tuple[int, int]:
    """(width, height) of the frames :func:`video_frames_argv` makes ffmpeg emit, in pixels: the
    displayed size times ``cfg.scale``, at least ``cfg.min_side_px`` and at most ``cfg.max_side_px``
    on the longer side (``output_size``).

    Uses the *displayed* size from probing: ffmpeg auto-rotates (its default), so a 1920x1080 file with
    a 90-degree display matrix decodes to portrait frames.
    """
    return output_size(info.width, info.height, cfg.max_side_px, cfg.scale, cfg.min_side_px)


def _rate(rate_hz: float) -> str:
    # A fraction keeps the frame grid exact for rates like 1/3 Hz that ``%g`` would round.
    return str(Fraction(rate_hz).limit_denominator(1_000_000))


def _input(path: str, cfg: DecodeConfig, start_s: float, **options: object) -> ffmpeg.nodes.FilterableStream:
    """The input node; ``start_s`` > 0 seeks there first (an input option: ffmpeg jumps to the keyframe
    before it and decodes, without output, up to ``start_s``, which becomes time 0 of the output)."""
    if start_s < 0:
        raise ValueError(f"start_s must be >= 0, got {start_s}")
    seek = {"ss": f"{start_s:.6f}"} if start_s > 0 else {}
    return ffmpeg.input(
        input_url(path),
        protocol_whitelist=PROTOCOL_WHITELIST,
        format_whitelist=cfg.format_whitelist,
        **seek,
        **options,
    )


def frames_margin_s(cfg: DecodeConfig) -> float:
    """Two analysis frames: what the frame decoder may emit past ``--max-duration`` (media.limits)."""
    return 2.0 / cfg.frame_rate_hz


AUDIO_MARGIN_S = 0.5  # what the audio decoder may emit past --max-duration (media.limits)


def video_frames_argv(
    path: str, info: MediaInfo, cfg: DecodeConfig, *, start_s: float = 0.0, exe: str | None = None
) -> list[str]:
    """argv decoding the first video stream to raw YUV 4:2:0 frames (I420) on stdout.

    Output: frames of ``H * W * 3 / 2`` bytes back to back (the Y plane, then U and V at half size;
    :mod:`emotrace.media.decode` turns them into RGB), (W, H) = :func:`frame_size` (even), at
    ``cfg.frame_rate_hz``. YUV rather than RGB: ffmpeg then only scales (a 720p video at the default
    1280 px not even that), half the bytes cross the pipe, and OpenCV's conversion costs a third of
    swscale's (720p talking heads: ~6 ms less ffmpeg CPU per media second, ~2 ms more in Python).
    Output frame ``i`` is the source frame on screen at ``t = i / rate`` seconds
    of the file's presentation timeline, i.e. the latest one with pts <= t: ``round=up`` gives that
    (the default ``near`` shows the last frame before t + 0.5 / rate, up to half a step late), and
    ``start_time=0`` starts the grid at 0 (a late first frame is repeated back to 0). ``0:V:0``
    (capital V) skips cover-art pictures, which are "video" streams of one image. With ``start_s``
    the same holds on the timeline shifted by ``start_s`` (output frame ``i`` at ``start_s + i / rate``).
    """
    width, height = frame_size(info, cfg)
    fps = f"fps=fps={_rate(cfg.frame_rate_hz)}:start_time=0:round=up"
    vf = f"{fps},scale=w={width}:h={height}:flags=area"
    # Limits on what is decoded, not on what the header says: the decoder refuses frames past
    # max_pixels (even after a mid-stream size change), and output stops shortly past max_duration.
    stream = _input(path, cfg, start_s, max_pixels=cfg.max_pixels).output(
        "pipe:",
        map="0:V:0",
        vf=vf,
        f="rawvideo",
        pix_fmt="yuv420p",
        t=f"{decode_span_s(cfg, start_s, frames_margin_s(cfg)):.6f}",
        an=None,
        sn=None,
        dn=None,
    )
    return _with_exe(stream.get_args(), exe)


def audio_argv(path: str, cfg: DecodeConfig, *, start_s: float = 0.0, exe: str | None = None) -> list[str]:
    """argv decoding the first audio stream to mono float32 little-endian samples on stdout.

    Output: ``float32[N]`` at ``cfg.sample_rate_hz``. ``aresample=async=1:first_pts=0`` pads a late
    start with silence and fills gaps, so sample ``n`` sits at ``t = n / sr`` on the same timeline as
    the frames (sample counts alone drift between ffmpeg builds). With ``start_s``, sample ``n`` sits
    at ``start_s + n / sr``.
    """
    stream = _input(path, cfg, start_s).output(
        "pipe:",
        map="0:a:0",
        af="aresample=async=1:first_pts=0",
        ac=1,
        ar=int(cfg.sample_rate_hz),
        f="f32le",
        acodec="pcm_f32le",
        t=f"{decode_span_s(cfg, start_s, AUDIO_MARGIN_S):.6f}",
        vn=None,
        sn=None,
        dn=None,
    )
    return _with_exe(stream.get_args(), exe)


def encode_argv(
    out_path: str,
    width: int,
    height: int,
    fps: float,
    wav_path: str | None = None,
    *,
    crf: int = 28,
    preset: str = "medium",
    audio_bitrate: str = "64k",
    exe: str | None = None,
) -> list[str]:
    """argv encoding raw RGB24 frames from stdin (plus an optional WAV) to an H.264/AAC MP4.

    stdin: ``uint8[H, W, 3]`` frames back to back at ``fps``. The output is yuv420p (what phones and
    platforms publish) with ``+faststart``; metadata is dropped and muxing is bitexact so the same
    frames and audio give the same bytes.
    """
    video = ffmpeg.input(
        "pipe:0",
        f="rawvideo",
        pix_fmt="rgb24",
        s=f"{width}x{height}",
        framerate=_rate(fps),
        protocol_whitelist=PROTOCOL_WHITELIST,
    )
    out_kwargs: dict[str, object] = {
        "vcodec": "libx264",
        "preset": preset,
        "crf": crf,
        "pix_fmt": "yuv420p",
        "movflags": "+faststart",
        "map_metadata": -1,
        "fflags": "+bitexact",
    }
    if wav_path is None:
        stream = ffmpeg.output(video, "file:" + os.path.abspath(out_path), **out_kwargs)
    else:
        audio = ffmpeg.input(input_url(wav_path), protocol_whitelist=PROTOCOL_WHITELIST)
        out_kwargs.update(acodec="aac", audio_bitrate=audio_bitrate)
        stream = ffmpeg.output(video.video, audio.audio, "file:" + os.path.abspath(out_path), **out_kwargs)
    return _with_exe(stream.get_args(), exe, "-y")


def rotate_remux_argv(src: str, dst: str, rotation_deg: int, *, exe: str | None = None) -> list[str]:
    """argv copying ``src`` to ``dst`` (no re-encode) with a display matrix of ``rotation_deg``.

    Makes the rotated phone videos that decoding must auto-rotate (degrees counter-clockwise, as
    ffmpeg's ``-display_rotation``; needs ffmpeg >= 6.1).
    """
    stream = ffmpeg.input(
        input_url(src), protocol_whitelist=PROTOCOL_WHITELIST, display_rotation=rotation_deg
    ).output("file:" + os.path.abspath(dst), c="copy")
    return _with_exe(stream.get_args(), exe, "-y")
