"""Turn the user's ``--input`` (a manifest, a folder, a glob or one video) into inputs.

Pure: file-system access is injected (:class:`InputSource`), so the same code serves local paths and
gs:// through Beam's FileSystems in the transforms layer, and plain ``os``/``glob`` in a notebook.
:func:`iter_inputs` streams: a manifest is read row by row and never held whole (the pipeline runs it
inside the job, ``transforms/inputs.py``); :func:`has_inputs` is the launcher's cheap check that there
is at least one, reading no further than the first input.

Manifest parsing is per row and total (:func:`parse_manifest`): any bytes in any row give either a
``VideoRef`` or an :class:`InvalidRow` naming the physical line the row starts on; nothing raises, so
one bad row never ends the run. Lines are split on ``\\n`` only (``str.splitlines`` would also split a
JSON string holding U+2028), each row is decoded on its own (one row's invalid UTF-8 spoils no other),
and a line longer than :data:`MAX_LINE_BYTES` is refused without being held in memory.
"""

from __future__ import annotations

import csv
import json
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from emotrace.schemas.records import VideoRef
from emotrace.schemas.uris import canonical_uri

VIDEO_EXTENSIONS = (
    ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp", ".flv", ".ts", ".mpg", ".mpeg", ".gif", ".webp",
)  # fmt: skip
MANIFEST_EXTENSIONS = (".csv", ".jsonl")
COLUMNS = ("video_uri", "post_id", "user_id", "posted_at")  # matched ignoring case and surrounding spaces
MAX_LINE_BYTES = 1 << 20  # a manifest line longer than 1 MiB is an invalid row (and is never held whole)
_BOM = b"\xef\xbb\xbf"

MatchFn = Callable[[str], Iterable[str]]  # glob pattern -> matching file URIs (lazily where it can)
ListFn = Callable[[str], Iterable[str]]  # folder -> URIs of every entry (files, folders, broken links)
OpenFn = Callable[[str], IO[bytes]]  # URI -> a binary stream


@dataclass(frozen=True)
class InputSource:
    """The file-system operations input expansion needs."""

    match: MatchFn
    list_folder: ListFn
    open: OpenFn


@dataclass(frozen=True)
class InvalidRow:
    """A manifest row that names no usable video; it still gets a ``videos`` row (nothing is lost)."""

    source: str  # "manifest.csv:7": the manifest and the physical line the row starts on
    reason: str


class InputEntry(NamedTuple):
    """One input of a run, in ``--input`` order."""

    ordinal: int  # 0-based position among the run's inputs: the first of identical inputs is processed
    source: str  # "manifest.csv:7", or the video's URI for folder, glob and single-video inputs
    item: VideoRef | InvalidRow


class Line(NamedTuple):
    number: int  # 1-based physical line
    data: bytes  # without the trailing newline; empty when ``too_long``
    too_long: bool = False


def iter_lines(stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Physical lines of ``stream`` split on ``\\n`` only, each at most ``max_bytes`` in memory.

    A leading UTF-8 byte-order mark is dropped. A longer line is skipped to its end and reported as
    ``too_long``."""
    number = 0
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        number += 1
        if number == 1 and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        if len(chunk) > max_bytes and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # skip the rest of the line, bounded reads
                chunk = stream.readline(max_bytes + 1)
            yield Line(number, b"", too_long=True)
            continue
        yield Line(number, chunk[:-1] if chunk.endswith(b"\n") else chunk)


def _stem(uri: str) -> str:
    name = posixpath.basename(uri.rstrip("/"))
    return name.rsplit(".", 1)[0] if "." in name else name


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def _bad_text(column: str, value: str) -> str | None:
    """Why ``value`` cannot go into a table cell (or a file name), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # CSV bytes that are not UTF-8, or a lone surrogate from a JSON escape
        return f"{column} is not valid UTF-8 text"
    if column == "video_uri":
        if "\x00" in value:
            return "video_uri contains a NUL character"
        if "\n" in value or "\r" in value:
            return "video_uri spans several lines (an unclosed quote?)"
    return None


def row_to_ref(values: dict[str, str | None], base: str, source: str) -> VideoRef | InvalidRow:
    """One row's known columns -> VideoRef. ``post_id`` defaults to the video file's stem; ``video_uri``
    becomes canonical (relative to ``base``, the manifest's folder)."""
    cleaned = {c: _clean(values.get(c)) for c in COLUMNS}
    for column, value in cleaned.items():
        reason = _bad_text(column, value) if value is not None else None
        if reason:
            return InvalidRow(source, reason)
    uri = cleaned["video_uri"]
    if uri is None:
        return InvalidRow(source, "row has no video_uri")
    uri = canonical_uri(uri, base)
    return VideoRef(
        video_uri=uri,
        post_id=cleaned["post_id"] or _stem(uri),
        user_id=cleaned["user_id"],
        posted_at=cleaned["posted_at"],
    )


def _known_columns(names: Iterable[object]) -> tuple[dict[str, int], str | None]:
    """Known column -> position (names compared stripped and lower-cased), and why the set is unusable."""
    found: dict[str, int] = {}
    for i, name in enumerate(names):
        key = str(name).strip().lower()
        if key in COLUMNS:
            if key in found:
                return found, f"two columns read as {key} ({found[key] + 1} and {i + 1})"
            found[key] = i
    return found, None


# -- JSONL ---------------------------------------------------------------------------------------------


def _json_value(column: str, value: object) -> tuple[str | None, str | None]:
    """A JSON value of a known column -> (text, why it is refused)."""
    if value is None or isinstance(value, str):
        return value, None
    if column in ("post_id", "user_id") and isinstance(value, int) and not isinstance(value, bool):
        return str(value), None  # numeric ids are common in platform exports, and exact in JSON ints
    return None, f"{column} must be a string, not {type(value).__name__}"


def _jsonl_row(line: Line, base: str, name: str) -> VideoRef | InvalidRow | None:
    source = f"{name}:{line.number}"
    if line.too_long:
        return InvalidRow(source, f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as err:
        return InvalidRow(source, f"not valid UTF-8 (byte {err.start})")
    text = text.lstrip("\ufeff").strip()
    if not text:
        return None
    try:
        row = json.loads(text)
    except (ValueError, RecursionError) as err:  # ValueError: bad JSON, or an int past 4300 digits
        return InvalidRow(source, f"not JSON: {str(err)[:200]}")
    if not isinstance(row, dict):
        return InvalidRow(source, "a JSON line must be an object")
    positions, problem = _known_columns(row)
    if problem:
        return InvalidRow(source, problem)
    keys = list(row)
    values: dict[str, str | None] = {}
    for column, i in positions.items():
        values[column], problem = _json_value(column, row[keys[i]])
        if problem:
            return InvalidRow(source, problem)
    return row_to_ref(values, base, source)


def _parse_jsonl(lines: Iterable[Line], base: str, name: str) -> Iterator[tuple[int, VideoRef | InvalidRow]]:
    for line in lines:
        item = _jsonl_row(line, base, name)
        if item is not None:
            yield line.number, item


# -- CSV -----------------------------------------------------------------------------------------------


class _CsvRecords:
    """CSV records over physical lines, each with the line it starts on; errors become strings.

    ``csv.reader`` pulls lines one at a time from :meth:`_feed`, so the line a record starts on is one
    past the last line pulled before it. A record with a line too long, or a ``csv.Error`` (a field past
    the csv module's 131,072-character limit, a bare CR), is reported and parsing goes on with the next
    record; after an error inside a quoted field the rest of that field's lines are skipped.
    """

    def __init__(self, lines: Iterable[Line]) -> None:
        self._lines = iter(lines)
        self._pulled = 0
        self._too_long: int | None = None
        self._quotes = 0  # '"' characters in the current record's lines: odd inside a quoted field

    def _feed(self) -> Iterator[str]:
        for line in self._lines:
            self._pulled = line.number
            if line.too_long:
                self._too_long = self._too_long or line.number
                yield "\n"
                continue
            self._quotes += line.data.count(b'"')
            yield line.data.decode("utf-8", "surrogateescape") + "\n"

    def __iter__(self) -> Iterator[tuple[int, list[str] | str]]:
        reader = csv.reader(self._feed())
        while True:
            start, self._too_long, self._quotes = self._pulled + 1, None, 0
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                self._skip_rest_of_field()
                yield start, f"not CSV: {err}"
                continue
            if self._too_long is not None:
                yield start, f"line {self._too_long} is longer than {MAX_LINE_BYTES} bytes"
            elif fields:  # [] is a blank line
                yield start, fields

    def _skip_rest_of_field(self) -> None:
        while self._quotes % 2:
            line = next(self._lines, None)
            if line is None:
                return
            self._pulled = line.number
            self._quotes += line.data.count(b'"')


def _parse_csv(lines: Iterable[Line], base: str, name: str) -> Iterator[tuple[int, VideoRef | InvalidRow]]:
    header: dict[str, int] | None = None
    problem: str | None = None
    for start, record in _CsvRecords(lines):
        source = f"{name}:{start}"
        if header is None:  # the first record is the header, whatever it holds
            header, problem = _known_columns(record) if isinstance(record, list) else ({}, record)
            if problem is None and "video_uri" not in header:
                problem = "the header has no video_uri column"
            problem = f"unusable header on line {start}: {problem}" if problem else None
            continue
        if problem is not None:
            yield start, InvalidRow(source, problem)
        elif isinstance(record, str):
            yield start, InvalidRow(source, record)
        else:
            values = {c: record[i] if i < len(record) else None for c, i in header.items()}
            yield start, row_to_ref(values, base, source)


def parse_manifest(lines: Iterable[Line], manifest_uri: str) -> Iterator[tuple[int, VideoRef | InvalidRow]]:
    """(line the row starts on, VideoRef or InvalidRow) for every row of a ``.csv`` (header required,
    matched ignoring case and spaces) or ``.jsonl`` manifest, in file order. Never raises on content."""
    manifest = canonical_uri(manifest_uri)
    base, name = posixpath.dirname(manifest), posixpath.basename(manifest)
    parse = _parse_jsonl if manifest.lower().endswith(".jsonl") else _parse_csv
    yield from parse(lines, base, name)


def is_manifest(uri: str) -> bool:
    return uri.lower().endswith(MANIFEST_EXTENSIONS)


def _has_glob(spec: str) -> bool:
    return any(ch in spec for ch in "*?[")


def iter_inputs(spec: str, fs: InputSource) -> Iterator[InputEntry]:
    """``--input`` -> inputs, in order. A manifest is parsed row by row, streamed; a path with a video
    extension is that one video (a missing one still becomes an input, whose row says INPUT_NOT_FOUND);
    a folder gives every entry named like a video (files, but also folders and broken links, which then
    get a row with a code): not recursive; anything else is a glob whose every match is taken as a
    video. Folder and glob entries are sorted by URI, so their order (and which of two identical
    inputs is processed) does not depend on the file system's listing order."""
    canonical = canonical_uri(spec)
    if is_manifest(spec):
        name = posixpath.basename(canonical)
        with fs.open(canonical) as stream:
            for i, (line, item) in enumerate(parse_manifest(iter_lines(stream), canonical)):
                yield InputEntry(i, f"{name}:{line}", item)
        return
    for i, uri in enumerate(sorted(_video_uris(spec, canonical, fs))):
        yield InputEntry(i, uri, VideoRef(video_uri=uri, post_id=_stem(uri)))


def _video_uris(spec: str, canonical: str, fs: InputSource) -> Iterator[str]:
    """The canonical URIs a folder, glob or single-video ``--input`` names, lazily, unsorted."""
    if not _has_glob(spec) and spec.lower().endswith(VIDEO_EXTENSIONS):
        yield canonical
    elif _has_glob(spec):
        yield from (canonical_uri(u) for u in fs.match(canonical))
    else:
        listed = fs.list_folder(canonical)
        yield from (canonical_uri(u) for u in listed if u.lower().endswith(VIDEO_EXTENSIONS))


def has_inputs(spec: str, fs: InputSource) -> bool:
    """Whether ``--input`` gives at least one input (a manifest row, valid or not; a folder entry named
    like a video; a glob match). Reads only as far as the first: O(1) in the manifest's size, and in a
    folder's or glob's where the file system lists lazily (local disks)."""
    canonical = canonical_uri(spec)
    if is_manifest(spec):
        with fs.open(canonical) as stream:
            return next(parse_manifest(iter_lines(stream), canonical), None) is not None
    return next(_video_uris(spec, canonical, fs), None) is not None


def expand_inputs(spec: str, fs: InputSource) -> list[InputEntry]:
    """Every input of ``--input`` as a list (notebooks, tests); the pipeline streams :func:`iter_inputs`."""
    return list(iter_inputs(spec, fs))
