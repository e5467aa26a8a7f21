"""Input policy applied before any decoding: which URIs and which media a run accepts."""

from __future__ import annotations

import re
from collections.abc import Callable

from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode, SkipInput
from emotrace.schemas.records import MediaInfo
from emotrace.schemas.uris import uri_scheme


def check_scheme(uri: str, cfg: DecodeConfig) -> None:
    """Refuse schemes the user did not allow (http:// inputs would make workers fetch arbitrary URLs)."""
    scheme = uri_scheme(uri)
    if scheme not in cfg.allowed_schemes:
        allowed = ",".join(cfg.allowed_schemes)
        raise EmotraceError(
            ErrorCode.SCHEME_NOT_ALLOWED, f"scheme {scheme!r} not allowed (allowed: {allowed})"
        )


def check_limits(info: MediaInfo, cfg: DecodeConfig) -> None:
    """Skip media past the run's limits before spending decode time on it."""
    if info.duration_s > cfg.max_duration_s:
        raise SkipInput(ErrorCode.TOO_LONG, f"{info.duration_s:.0f} s > limit {cfg.max_duration_s:.0f} s")
    if info.width * info.height > cfg.max_pixels:
        raise SkipInput(
            ErrorCode.TOO_LARGE, f"{info.width}x{info.height} > limit of {cfg.max_pixels} pixels per frame"
        )


# -- limits on what is actually decoded (a header may lie: issue 15) -------------------------------------

# libavutil's words when a decoder refuses a frame past ``-max_pixels`` (av_image_check_size2).
_PIXELS_REFUSED = re.compile(rb"Picture size (\d+)x(\d+) exceeds specified max pixel count")
AUDIO_SLACK_S = 0.25  # decoded audio may run this far past the limit (codec padding) before it counts


def decode_span_s(cfg: DecodeConfig, start_s: float, margin_s: float) -> float:
    """How many seconds ffmpeg may emit from ``start_s`` (its ``-t``): up to ``--max-duration`` plus a
    margin, so that a stream running past the limit shows itself without being decoded to its end."""
    return max(cfg.max_duration_s - start_s, 0.0) + margin_s


def ran_past_limit(info: MediaInfo, cfg: DecodeConfig, t_s: float) -> SkipInput:
    """The stream still had media at ``t_s`` seconds, past ``--max-duration``."""
    return SkipInput(
        ErrorCode.TOO_LONG,
        f"decoding reached {t_s:.1f} s, past the limit of {cfg.max_duration_s:g} s (the header said "
        f"{info.duration_s:.1f} s): traces stop at the limit",
    )


def watch_max_pixels(cfg: DecodeConfig) -> Callable[[bytes], SkipInput | None]:
    """A stderr watch (media.runner) that turns the decoder's ``-max_pixels`` refusal into TOO_LARGE."""

    def watch(stderr: bytes) -> SkipInput | None:
        m = _PIXELS_REFUSED.search(stderr)
        if m is None:
            return None
        w, h = int(m[1]), int(m[2])
        return SkipInput(
            ErrorCode.TOO_LARGE,
            f"a {w}x{h} frame mid-stream exceeds the limit of {cfg.max_pixels} pixels per frame: "
            "decoding stopped there",
        )

    return watch
