"""Stable error codes for the ``videos`` table.

A code, once released, keeps its meaning: analysts filter on it. Add new codes at the end; never
rename one. docs/reliability.md lists them with the stage that raises each.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INPUT_NOT_FOUND = "INPUT_NOT_FOUND"  # the URI names nothing readable
    INPUT_UNREADABLE = "INPUT_UNREADABLE"  # exists, but cannot be opened (permissions, a folder)
    PROBE_FAILED = "PROBE_FAILED"  # not a media file ffmpeg/PyAV can parse
    NO_MEDIA_STREAMS = "NO_MEDIA_STREAMS"  # parses, but has neither video nor audio
    DECODE_FAILED = "DECODE_FAILED"  # ffmpeg exited non-zero while decoding
    DECODE_TIMEOUT = "DECODE_TIMEOUT"  # ffmpeg ran past the per-video timeout
    FACE_STAGE_FAILED = "FACE_STAGE_FAILED"  # face detection, tracking or alignment raised on this video
    AUDIO_STAGE_FAILED = "AUDIO_STAGE_FAILED"  # the acoustic descriptors or speech activity raised
    INFERENCE_FAILED = "INFERENCE_FAILED"  # RunInference raised on a batch holding this video
    INTERNAL_ERROR = "INTERNAL_ERROR"  # a bug: anything not classified above
    MANIFEST_ROW_INVALID = "MANIFEST_ROW_INVALID"  # a manifest row without a usable video_uri
    TOO_LONG = "TOO_LONG"  # longer than DecodeConfig.max_duration_s (status skipped)
    TOO_LARGE = "TOO_LARGE"  # frame larger than DecodeConfig.max_pixels (status skipped)
    FORMAT_NOT_ALLOWED = "FORMAT_NOT_ALLOWED"  # a container outside the whitelist (playlists, concat, ...)
    SCHEME_NOT_ALLOWED = "SCHEME_NOT_ALLOWED"  # a URI scheme the user did not allow (e.g. http://)
    EMPTY_MEDIA = "EMPTY_MEDIA"  # streams exist but not one frame or sample decodes (zero duration)
    DUPLICATE_INPUT = "DUPLICATE_INPUT"  # the same input again in one run: processed once (status skipped)
    INPUT_TIMEOUT = "INPUT_TIMEOUT"  # reading the input (probe, or copying a remote file) ran past --timeout
    FILESYSTEM_UNAVAILABLE = "FILESYSTEM_UNAVAILABLE"  # an allowed scheme with no filesystem installed


class Status(StrEnum):
    """A ``videos`` row's outcome. ``ok``: traces written (``partial`` says if only some); ``failed``:
    bad input or a failed stage (``error_code``); ``skipped``: a valid input this run left out (limits,
    a duplicate row)."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class EmotraceError(Exception):
    """An expected failure of one video, carrying a stable code and a human message."""

    status = Status.FAILED

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SkipInput(EmotraceError):
    """A valid input the run's limits exclude (too long, too large): status ``skipped``, not ``failed``."""

    status = Status.SKIPPED
