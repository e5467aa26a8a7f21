"""Probe a local media file with PyAV (the bundled ffmpeg has no ffprobe).

:func:`probe` opens the file and collects :class:`StreamFacts`; :func:`build_media_info` is the pure
rule turning them into a :class:`MediaInfo` (and is what the unit tests exercise).
"""

from __future__ import annotations

import io
import logging
import os
import stat
from fractions import Fraction
from typing import NamedTuple

import av

from emotrace.media.argv import input_url
from emotrace.media.webp import is_webp, webp_info
from emotrace.schemas.config import ALLOWED_CONTAINER_FORMATS
from emotrace.schemas.errors import EmotraceError, ErrorCode
from emotrace.schemas.records import MediaInfo

log = logging.getLogger("emotrace.media")

# Bounds the work spent looking for the first decodable video frame (to read its rotation).
_MAX_PACKETS_FOR_ROTATION = 256


class StreamFacts(NamedTuple):
    """What one stream's headers say. Sizes are *coded* (before rotation), in pixels."""

    codec: str | None
    duration_s: float | None = None
    width: int = 0
    height: int = 0
    fps: float | None = None
    rotation_deg: float = 0.0  # counter-clockwise, as FFmpeg's display matrix (PyAV frame.rotation)
    sample_rate_hz: int | None = None
    channels: int | None = None


def normalize_rotation(rotation_deg: float) -> int:
    """Nearest multiple of 90 degrees, in [0, 360). ffmpeg auto-rotates only by quarter turns."""
    return round(rotation_deg / 90.0) % 4 * 90


def build_media_info(
    container_duration_s: float | None,
    video: StreamFacts | None,
    audio: StreamFacts | None,
) -> MediaInfo:
    """Pure: combine container and stream facts into a :class:`MediaInfo`.

    Duration: the container's, else the longest stream's. Width/height are as displayed: a 90 or 270
    degree rotation swaps them.

    Raises EmotraceError(NO_MEDIA_STREAMS) without video and audio, EmotraceError(PROBE_FAILED) when no
    positive duration is known or the video stream has no frame size.
    """
    if video is None and audio is None:
        raise EmotraceError(ErrorCode.NO_MEDIA_STREAMS, "the file has neither a video nor an audio stream")
    streams_s = max((s.duration_s or 0.0 for s in (video, audio) if s is not None), default=0.0)
    duration_s = container_duration_s if container_duration_s and container_duration_s > 0 else streams_s
    if not duration_s > 0:
        raise EmotraceError(ErrorCode.PROBE_FAILED, "no duration in the container or its streams")

    width = height = rotation = 0
    if video is not None:
        if video.width <= 0 or video.height <= 0:
            raise EmotraceError(ErrorCode.PROBE_FAILED, f"video stream without a frame size ({video.codec})")
        rotation = normalize_rotation(video.rotation_deg)
        width, height = (video.height, video.width) if rotation % 180 == 90 else (video.width, video.height)
    return MediaInfo(
        duration_s=float(duration_s),
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=video.fps if video is not None else None,
        rotation_deg=rotation,
        video_codec=video.codec if video is not None else None,
        audio_codec=audio.codec if audio is not None else None,
        audio_sample_rate_hz=audio.sample_rate_hz if audio is not None else None,
        audio_channels=audio.channels if audio is not None else None,
    )


WEBP_DEMUXER = "webp_anim"  # ffmpeg's animated-WebP demuxer (probed here from the RIFF chunks)


def probe(
    path: str, format_whitelist: str = ALLOWED_CONTAINER_FORMATS, max_pixels: int | None = None
) -> MediaInfo:
    """Probe the local file ``path``. In-process and uninterruptible: a pipeline probes through
    :mod:`emotrace.media.probe_worker`, which runs this in a child process under a deadline.

    ``max_pixels``: a first frame larger than this is not decoded (its rotation is taken as 0): the
    limit check that follows skips the video, and the probe must not allocate what the limit refuses.
    Raises EmotraceError with INPUT_NOT_FOUND (nothing there, a broken link), INPUT_UNREADABLE (a folder,
    a FIFO or device, a link loop, no permission), FORMAT_NOT_ALLOWED (a container outside
    ``format_whitelist``, e.g. a concat or HLS playlist), PROBE_FAILED (not parsable media),
    NO_MEDIA_STREAMS (no audio or video).
    """
    _check_readable_file(path)
    # The protocol whitelist stops network access; the format whitelist stops demuxers that open other
    # files (concat, hls, image2): with only the first, an ffconcat file named .mp4 reads a local video.
    options = {"protocol_whitelist": "file", "format_whitelist": format_whitelist}
    try:
        with open(path, "rb") as f:
            if is_webp(f.read(12)):
                return _probe_webp(f, path, format_whitelist)
        with av.open(input_url(path), options=options) as container:
            return _probe_container(container, max_pixels)
    except EmotraceError:
        raise
    except av.ArgumentError as exc:  # EINVAL from avformat_open_input: the detected demuxer is refused
        raise EmotraceError(
            ErrorCode.FORMAT_NOT_ALLOWED, f"{path}: container format not whitelisted ({format_whitelist})"
        ) from exc
    except FileNotFoundError as exc:  # av.error.* also derive from the builtin OSErrors
        raise EmotraceError(ErrorCode.INPUT_NOT_FOUND, f"{path}: {_reason(exc)}") from exc
    except (PermissionError, IsADirectoryError) as exc:
        raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"{path}: {_reason(exc)}") from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise EmotraceError(ErrorCode.PROBE_FAILED, f"{path}: not parsable as media: {_reason(exc)}") from exc


def _probe_webp(f: io.BufferedReader, path: str, format_whitelist: str) -> MediaInfo:
    if WEBP_DEMUXER not in format_whitelist.split(","):
        raise EmotraceError(ErrorCode.FORMAT_NOT_ALLOWED, f"{path}: WebP is not in {format_whitelist}")
    f.seek(0)
    return webp_info(f)


def _reason(exc: Exception) -> str:
    # FFmpeg's own words ("Invalid data found when processing input") without the repeated file name.
    return getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"


def _check_readable_file(path: str) -> None:
    """Reject what PyAV would mis-handle: a FIFO would block it forever, a folder gives odd errors."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        what = "a broken symbolic link" if os.path.islink(path) else "no such file"
        raise EmotraceError(ErrorCode.INPUT_NOT_FOUND, f"{what}: {path}") from exc
    except OSError as exc:  # permission on a parent folder, a name too long, ...
        raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"cannot stat {path}: {exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"{path} is {kind}")
    if not os.access(path, os.R_OK):
        raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"no read permission on {path}")


def _probe_container(container: av.container.InputContainer, max_pixels: int | None) -> MediaInfo:
    video_stream = next((s for s in container.streams.video if not _is_cover_art(s)), None)
    audio_stream = next(iter(container.streams.audio), None)
    video = _video_facts(container, video_stream, max_pixels) if video_stream is not None else None
    audio = _audio_facts(audio_stream) if audio_stream is not None else None
    # libavformat already estimates a missing container duration (from the last timestamps or the
    # bitrate), e.g. for WebM written to a pipe without a duration header.
    container_s = container.duration / av.time_base if container.duration else None
    return build_media_info(container_s, video, audio)


def _is_cover_art(stream: av.video.stream.VideoStream) -> bool:
    # ffmpeg's ``-map 0:V`` skips these too, so probe and decode agree on "the first video stream".
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _stream_duration_s(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _as_float(rate: Fraction | None) -> float | None:
    return float(rate) if rate else None


def _video_facts(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, max_pixels: int | None
) -> StreamFacts:
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    too_large = max_pixels is not None and width * height > max_pixels
    return StreamFacts(
        codec=ctx.name,
        duration_s=_stream_duration_s(stream),
        width=width,
        height=height,
        fps=_as_float(stream.average_rate) or _as_float(stream.guessed_rate),
        rotation_deg=0.0 if too_large else _first_frame_rotation(container, stream),
    )


def _audio_facts(stream: av.audio.stream.AudioStream) -> StreamFacts:
    ctx = stream.codec_context
    return StreamFacts(
        codec=ctx.name,
        duration_s=_stream_duration_s(stream),
        sample_rate_hz=int(ctx.sample_rate) if ctx.sample_rate else None,
        channels=int(ctx.layout.nb_channels) if ctx.layout is not None else None,
    )


def _first_frame_rotation(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    """Display-matrix rotation, read from the first decoded frame.

    PyAV 18 exposes the display matrix only on frames (``frame.rotation``; the stream has a setter but no
    getter), so one frame is decoded. A stream that does not decode here reports 0: decoding proper will
    fail later with a clearer error.
    """
    try:
        for n, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                return float(frame.rotation)
            if n >= _MAX_PACKETS_FOR_ROTATION:
                break
    except (av.FFmpegError, ValueError) as err:
        # Not an error of its own: the decode that follows fails on the same stream with a code and a row.
        log.debug("rotation unreadable (taken as 0): %s", err)
    return 0.0
