"""Input policy applied before any decoding: which URIs and which media a run accepts."""

from __future__ import annotations

from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.errors import EmotraceError, ErrorCode, SkipInput
from emotrace.schemas.records import MediaInfo


def uri_scheme(uri: str) -> str:
    """``gs`` for ``gs://b/x.mp4``; ``file`` for local paths and ``file://`` URIs."""
    return uri.split("://", 1)[0].lower() if "://" in uri else "file"


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
