"""Manifest parsing is per row and total (issue 15, class 6), as a Hypothesis property over >= 500
generated manifests: every row gives a valid input or an InvalidRow naming the line it starts on, and
nothing raises. Pure tier: the pipeline side (one videos row per input) is checked on real runs in
tests/pipelines/test_hostile_manifest.py."""

from __future__ import annotations

import csv
import io
import json
import posixpath
from typing import NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emotrace.datasets.inputs import COLUMNS, InvalidRow, iter_lines, parse_manifest
from emotrace.schemas.records import VideoRef
from emotrace.schemas.uris import canonical_uri

BASE = "/data/posts"
BAD = "\ue000"  # a private-use character standing for bytes that are not UTF-8 (replaced after encoding)
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["clip.mp4", " a b.mp4 ", "", "  ", "x\u2028y.mp4", "\x00.mp4", "c\nd.mp4", BAD, "\ufeff"]
    ),
    st.just("q" * 140_000),  # past the csv module's 131,072-character field limit
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse(data: bytes, name: str) -> list[tuple[int, VideoRef | InvalidRow]]:
    return list(parse_manifest(iter_lines(io.BytesIO(data)), f"{BASE}/{name}"))


def _expected(values: dict[str, str | None], bad_bytes: bool = True) -> VideoRef | None:
    """What a row with these known cells must become (None: an InvalidRow). ``bad_bytes``: BAD stands
    for bytes that are not UTF-8 (False: it was written as a JSON escape, an ordinary character)."""
    cleaned = {c: (v.strip() or None) if v is not None else None for c, v in values.items()}
    if bad_bytes and any(v is not None and BAD in v for v in cleaned.values()):
        return None
    uri = cleaned.get("video_uri")
    if uri is None or "\x00" in uri or "\n" in uri or "\r" in uri:
        return None
    uri = canonical_uri(uri, BASE)
    stem = posixpath.basename(uri.rstrip("/"))
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return VideoRef(uri, cleaned.get("post_id") or stem, cleaned.get("user_id"), cleaned.get("posted_at"))


class Either(NamedTuple):
    """A row the csv module itself may not read back (a bare CR its writer left unquoted): either this
    input or an InvalidRow at its line."""

    ref: VideoRef


def _check(got: list[tuple[int, VideoRef | InvalidRow]], expected: list[tuple[int, object]], name: str):
    assert [line for line, _ in got] == [line for line, _ in expected]
    for (line, item), (_, want) in zip(got, expected, strict=True):
        if isinstance(item, InvalidRow):
            assert want is None or isinstance(want, Either), (item, want)
            assert item.source == f"{name}:{line}" and item.reason
        else:
            assert item == (want.ref if isinstance(want, Either) else want)


@SETTINGS
@given(
    rows=st.lists(st.lists(CELL, min_size=5, max_size=5), max_size=8),
    crlf=st.booleans(),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    header_case=st.sampled_from([str, str.upper, str.title, lambda c: f"  {c} "]),
)
def test_csv_every_row_is_an_input_or_an_invalid_row_at_its_line(rows, crlf, quoting, header_case):
    header = [header_case(c) for c in COLUMNS] + ["caption"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n", quoting=quoting)
    writer.writerow(header)
    starts, expected = [], []
    for cells in rows:
        starts.append(buf.getvalue().count("\n") + 1)
        writer.writerow(cells)
        values = dict(zip(COLUMNS, cells[:4], strict=True))
        long_field = any(len(c) > 131_072 for c in cells)
        want = None if long_field else _expected(values)
        bare_cr = quoting == csv.QUOTE_MINIMAL and any("\r" in c for c in cells)
        expected.append(Either(want) if bare_cr and want is not None else want)
    data = buf.getvalue().encode("utf-8").replace(BAD.encode("utf-8"), b"\xff\xfe")
    _check(_parse(data, "m.csv"), list(zip(starts, expected, strict=True)), "m.csv")


JSON_VALUE = st.one_of(
    CELL,
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


def _json_expected(row: dict[str, object], bad_bytes: bool) -> VideoRef | None:
    values: dict[str, str | None] = {}
    for column, value in row.items():
        if isinstance(value, (bool, float, list)):
            return None
        if isinstance(value, int):
            if column not in ("post_id", "user_id"):
                return None
            value = str(value)
        values[column] = value  # type: ignore[assignment]
    return _expected(values, bad_bytes)


@SETTINGS
@given(
    rows=st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from(COLUMNS), JSON_VALUE, max_size=4),
            st.sampled_from(["", "   ", "{not json", "[1, 2]", '{"video_uri": ' + "7" * 5000 + "}", "\xff"]),
        ),
        max_size=8,
    ),
    ascii_only=st.booleans(),
)
def test_jsonl_every_line_is_an_input_or_an_invalid_row_at_its_line(rows, ascii_only):
    lines, expected = [], []
    for n, row in enumerate(rows, start=1):
        if isinstance(row, str):
            lines.append(row.encode("utf-8") if row != "\xff" else b"\xff")
            if row.strip():
                expected.append((n, None))
            continue
        text = json.dumps(row, ensure_ascii=ascii_only)
        lines.append(text.encode("utf-8").replace(BAD.encode("utf-8"), b"\xff\xfe"))
        expected.append((n, _json_expected(row, bad_bytes=BAD in text)))
    _check(_parse(b"\n".join(lines), "m.jsonl"), expected, "m.jsonl")


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=600), name=st.sampled_from(["m.csv", "m.jsonl"]))
def test_any_bytes_parse_without_raising_into_rows_in_line_order(data, name):
    got = _parse(data, name)
    n_lines = data.count(b"\n") + 1
    lines = [line for line, _ in got]
    assert lines == sorted(set(lines)) and all(1 <= line <= n_lines for line in lines)
    for line, item in got:
        if isinstance(item, InvalidRow):
            assert item.source == f"{name}:{line}" and item.reason
        else:
            assert item.video_uri.startswith("/") and "\x00" not in item.video_uri and item.post_id
            item.video_uri.encode("utf-8")  # every cell can be written to Parquet
            assert all(v is None or v.encode("utf-8") for v in (item.user_id, item.posted_at))
    if name == "m.jsonl":  # every non-blank line is a row
        physical = data.split(b"\n")
        physical[0] = physical[0].removeprefix(b"\xef\xbb\xbf")

        def blank(raw: bytes) -> bool:
            try:
                return not raw.decode("utf-8").lstrip("\ufeff").strip()
            except UnicodeDecodeError:
                return False

        assert lines == [i for i, raw in enumerate(physical, start=1) if not blank(raw)]
