"""Turn the user's ``--input`` (a manifest, a folder or a glob) into ``VideoRef`` records.

Pure: file-system access is injected (``match`` and ``read_text``), so the same code serves local
paths and gs:// through Beam's FileSystems in the transforms layer, and plain ``glob`` in a notebook.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from emotrace.schemas.records import VideoRef

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp", ".flv", ".ts", ".mpg", ".mpeg")
MANIFEST_EXTENSIONS = (".csv", ".jsonl")

MatchFn = Callable[[str], list[str]]  # pattern -> matching file URIs
ReadTextFn = Callable[[str], str]


@dataclass(frozen=True)
class InvalidRow:
    """A manifest row that names no video; it still gets a ``videos`` row (nothing is lost silently)."""

    source: str  # "manifest.csv:7"
    reason: str


def _has_scheme(uri: str) -> bool:
    return "://" in uri


def _stem(uri: str) -> str:
    name = posixpath.basename(uri.rstrip("/"))
    return name.rsplit(".", 1)[0] if "." in name else name


def resolve_uri(uri: str, manifest_uri: str) -> str:
    """Relative ``video_uri`` values are relative to the manifest's folder (local or gs://)."""
    if _has_scheme(uri) or uri.startswith("/"):
        return uri
    return posixpath.join(posixpath.dirname(manifest_uri), uri)


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def row_to_ref(row: dict[str, object], manifest_uri: str, source: str) -> VideoRef | InvalidRow:
    """One manifest row -> VideoRef. ``post_id`` defaults to the video file's stem; extra keys ignored."""
    uri = _clean(row.get("video_uri"))
    if uri is None:
        return InvalidRow(source=source, reason="row has no video_uri")
    uri = resolve_uri(uri, manifest_uri)
    return VideoRef(
        video_uri=uri,
        post_id=_clean(row.get("post_id")) or _stem(uri),
        user_id=_clean(row.get("user_id")),
        posted_at=_clean(row.get("posted_at")),
    )


def parse_manifest(text: str, manifest_uri: str) -> Iterator[VideoRef | InvalidRow]:
    """Rows of a ``.csv`` (header required) or ``.jsonl`` manifest, in file order."""
    name = posixpath.basename(manifest_uri)
    if manifest_uri.lower().endswith(".jsonl"):
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            source = f"{name}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield InvalidRow(source=source, reason=f"not JSON: {err.msg}")
                continue
            if not isinstance(row, dict):
                yield InvalidRow(source=source, reason="a JSON line must be an object")
                continue
            yield row_to_ref(row, manifest_uri, source)
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "video_uri" not in [f.strip() for f in reader.fieldnames]:
        raise ValueError(f"{manifest_uri}: a CSV manifest needs a header with a video_uri column")
    for lineno, row in enumerate(reader, start=2):
        yield row_to_ref(
            {k.strip(): v for k, v in row.items() if k is not None}, manifest_uri, f"{name}:{lineno}"
        )


def is_manifest(uri: str) -> bool:
    return uri.lower().endswith(MANIFEST_EXTENSIONS)


def expand_inputs(spec: str, match: MatchFn, read_text: ReadTextFn) -> list[VideoRef | InvalidRow]:
    """``--input`` -> inputs. A manifest is parsed; a path with a video extension is that one video
    (a missing one still becomes an input, whose row says INPUT_NOT_FOUND); a folder lists its video
    files (not recursive); anything else is a glob whose every match is taken as a video (the user
    chose the pattern)."""
    if is_manifest(spec):
        return list(parse_manifest(read_text(spec), spec))
    if not any(ch in spec for ch in "*?[") and spec.lower().endswith(VIDEO_EXTENSIONS):
        return [VideoRef(video_uri=spec, post_id=_stem(spec))]
    if any(ch in spec for ch in "*?["):
        uris = sorted(match(spec))
    else:
        folder = spec.rstrip("/")
        uris = sorted(u for u in match(folder + "/*") if u.lower().endswith(VIDEO_EXTENSIONS))
    return [VideoRef(video_uri=u, post_id=_stem(u)) for u in uris]
