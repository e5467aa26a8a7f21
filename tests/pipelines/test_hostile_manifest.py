"""Hostile manifests through real runs (issue 15, classes 1, 4, 6, 10, 14): every row ends as exactly
one videos row, the run reconciles and commits. The parser itself is property-tested over hundreds of
manifests in tests/datasets/test_manifest_property.py; here a hand-made CSV and a few generated
manifests go all the way through the pipeline."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from emotrace.pipelines import analyze
from tests.pipelines.bad_inputs import _video

pytestmark = [pytest.mark.pipeline, pytest.mark.media]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("hostile manifest")
    _video(work / "clip.mp4", 1.0, "160x120", 25)
    return work


COLUMNS = ("video_uri", "post_id", "user_id", "posted_at")


def _videos(out: Path) -> list[dict]:
    return ds.dataset(str(out / "videos"), format="parquet").to_table().to_pylist()


def test_a_hostile_csv_gives_one_row_per_row(work: Path):
    clip = work / "clip.mp4"
    rows = [
        b" Video_URI ,Post_ID,user_id, POSTED_AT ,caption",  # 1: the header, in odd case and spacing
        b"clip.mp4,first,u,2024-05-01T10:00:00Z,fine",  # 2
        b"clip\xff.mp4,bad_utf8,u,,invalid UTF-8 in a used cell",  # 3
        b'clip.mp4,long_caption,u,,"' + b"x" * 140_000 + b'"',  # 4: past the csv field limit
        b"clip.mp4,first,u,2024-05-01T10:00:00Z,the same input again",  # 5
        b"clip.mp4,far_future,u,9999-12-31T23:30:00-01:00,UTC day past year 9999",  # 6
        b'clip.mp4,two_lines,u,,"a caption',  # 7
        b'on two lines"',  # 8
        b"FILE://" + str(clip).encode() + b",upper_scheme,u,,",  # 9
        b",no_uri,u,,",  # 10
        b"clip\x00.mp4,nul,u,,",  # 11
    ]
    manifest = work / "hostile.csv"
    manifest.write_bytes(b"\r\n".join(rows) + b"\r\n")
    out = work / "out-csv"
    summary = analyze.run(["--input", str(manifest), "--output", str(out)])
    assert summary.reconciled and summary.n_inputs == 9
    got = sorted((r["post_id"], r["status"], r["error_code"] or "") for r in _videos(out))
    assert got == [
        ("far_future", "ok", ""),
        ("first", "ok", ""),
        ("first", "skipped", "DUPLICATE_INPUT"),  # line 5: processed once, on line 2
        ("hostile.csv:10", "failed", "MANIFEST_ROW_INVALID"),
        ("hostile.csv:11", "failed", "MANIFEST_ROW_INVALID"),
        ("hostile.csv:3", "failed", "MANIFEST_ROW_INVALID"),
        ("hostile.csv:4", "failed", "MANIFEST_ROW_INVALID"),
        ("two_lines", "ok", ""),
        ("upper_scheme", "ok", ""),
    ]
    assert {r["video_uri"] for r in _videos(out) if r["status"] == "ok"} == {str(clip)}


CELL = st.one_of(st.text(max_size=6), st.sampled_from(["clip.mp4", "missing.mp4", "", "\u2028", "\x00"]))


# A few examples only (each is a pipeline run), and no shrinking: a failure reports its example as drawn.
@settings(max_examples=3, deadline=None, phases=[Phase.generate], database=None)
@given(rows=st.lists(st.lists(CELL, min_size=4, max_size=4), min_size=1, max_size=5), jsonl=st.booleans())
def test_generated_manifests_end_as_one_row_per_input(work: Path, rows, jsonl):
    from emotrace.datasets.inputs import InvalidRow, iter_lines, parse_manifest

    folder = Path(tempfile.mkdtemp(dir=work))
    (folder / "clip.mp4").symlink_to(work / "clip.mp4")
    name = f"gen.{'jsonl' if jsonl else 'csv'}"
    if jsonl:
        data = "\n".join(json.dumps(dict(zip(COLUMNS, r, strict=True))) for r in rows)
    else:
        buf = io.StringIO()
        csv.writer(buf).writerows([list(COLUMNS), *rows])
        data = buf.getvalue()
    manifest = folder / name
    manifest.write_text(data, encoding="utf-8")
    parsed = list(parse_manifest(iter_lines(io.BytesIO(data.encode("utf-8"))), str(manifest)))
    out = folder / "out"
    summary = analyze.run(["--input", str(manifest), "--output", str(out)])
    videos = _videos(out)
    assert summary.reconciled and len(videos) == len(parsed) == summary.n_inputs
    invalid = {f"{name}:{line}" for line, item in parsed if isinstance(item, InvalidRow)}
    assert {r["post_id"] for r in videos if r["error_code"] == "MANIFEST_ROW_INVALID"} == invalid
