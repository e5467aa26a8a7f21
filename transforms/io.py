"""Beam FileSystems adapters: the core takes callables and local paths; these supply them for any
scheme Beam knows (local, gs://, s3:// with the right extras)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from emotrace.schemas.errors import EmotraceError, ErrorCode

_COPY_BLOCK = 8 << 20


def match(pattern: str) -> list[str]:
    """URIs of the files matching ``pattern`` (a glob or a plain path)."""
    result = FileSystems.match([pattern])[0]
    return [m.path for m in result.metadata_list]


def read_text(uri: str) -> str:
    with FileSystems.open(uri) as f:
        return f.read().decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


@contextlib.contextmanager
def localized(uri: str) -> Iterator[str]:
    """A local path holding the video: the path itself when local, else a streamed temp copy.

    ffmpeg reads only local files (its protocol whitelist allows file and pipe), so remote objects
    are copied in bounded blocks first and removed afterwards.
    """
    if is_local(uri):
        path = uri.removeprefix("file://")
        if not os.path.lexists(path):
            raise EmotraceError(ErrorCode.INPUT_NOT_FOUND, f"no such file: {path}")
        if os.path.isdir(path):
            raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"is a folder, not a video: {path}")
        yield path
        return
    suffix = os.path.splitext(uri)[1][:16]
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="emotrace-") as tmp:
        try:
            with FileSystems.open(uri, compression_type="uncompressed") as src:
                shutil.copyfileobj(src, tmp, _COPY_BLOCK)
        except FileNotFoundError as err:
            raise EmotraceError(ErrorCode.INPUT_NOT_FOUND, f"{uri}: {err}") from err
        except OSError as err:
            raise EmotraceError(ErrorCode.INPUT_UNREADABLE, f"{uri}: {err}") from err
        tmp.flush()
        yield tmp.name
