"""Probe an animated WebP from its RIFF chunks (pure: reads a binary stream, decodes nothing).

PyAV's bundled libav (FFmpeg 8.1) has no animated-WebP demuxer, while the ffmpeg that decodes (9.x) has
``webp_anim``; so the probe reads the container itself. The format (Google's "WebP Container
Specification") is chunks of ``fourcc, little-endian uint32 size, payload`` padded to even sizes: ``VP8X``
holds the canvas size, each ``ANMF`` one frame with its display time in milliseconds. Frame times below
10 ms count as 100 ms, as ffmpeg's demuxer (``min_delay``/``default_delay``) and browsers do.
"""

from __future__ import annotations

import struct
from typing import IO

from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import MediaInfo

MIN_DELAY_MS, DEFAULT_DELAY_MS = 10, 100
_HEADER = struct.Struct("<4sI4s")
_CHUNK = struct.Struct("<4sI")


def is_webp(head: bytes) -> bool:
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _u24(b: bytes) -> int:
    return int.from_bytes(b[:3], "little")


def webp_info(stream: IO[bytes]) -> MediaInfo:
    """Duration and canvas size of an animated WebP. Raises EmotraceError(PROBE_FAILED) for a still
    image or a broken container."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size or not is_webp(head):
        raise EmotraceError(ErrorCode.PROBE_FAILED, "not a WebP file")
    width = height = frames = 0
    total_ms = 0
    animated = False
    while chunk := stream.read(_CHUNK.size):
        if len(chunk) < _CHUNK.size:
            break  # a truncated tail: keep the frames read so far
        fourcc, size = _CHUNK.unpack(chunk)
        if fourcc == b"VP8X":
            payload = stream.read(size)
            animated = bool(payload[:1] and payload[0] & 0x02)
            width, height = _u24(payload[4:7]) + 1, _u24(payload[7:10]) + 1
        elif fourcc == b"ANMF":
            payload = stream.read(16)
            delay = _u24(payload[12:15]) if len(payload) == 16 else 0
            total_ms += delay if delay >= MIN_DELAY_MS else DEFAULT_DELAY_MS
            frames += 1
            stream.seek(size - len(payload), 1)
        else:
            stream.seek(size, 1)
        if size % 2:
            stream.seek(1, 1)
    if not animated or frames == 0:
        raise EmotraceError(ErrorCode.PROBE_FAILED, "a still WebP image, not an animation")
    if width <= 0 or height <= 0:
        raise EmotraceError(ErrorCode.PROBE_FAILED, "WebP without a canvas size")
    return MediaInfo(
        duration_s=total_ms / 1000.0,
        has_video=True,
        has_audio=False,
        width=width,
        height=height,
        fps=frames * 1000.0 / total_ms if total_ms else None,
        video_codec="webp",
    )
