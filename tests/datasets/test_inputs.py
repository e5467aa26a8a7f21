"""Input expansion: manifests, folders and globs -> VideoRef (pure; file system injected)."""

import glob
import json
import os

import pytest

from emotrace.datasets.inputs import InvalidRow, expand_inputs, parse_manifest, resolve_uri
from emotrace.schemas.records import VideoRef


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_csv_manifest_defaults_and_extra_columns():
    text = "video_uri,user_id,extra\nclips/a.mp4,u1,x\n/abs/b.mov,,y\n"
    refs = list(parse_manifest(text, "/data/m.csv"))
    assert refs == [
        VideoRef("/data/clips/a.mp4", "a", "u1", None),
        VideoRef("/abs/b.mov", "b", None, None),
    ]


def test_jsonl_manifest_all_fields_and_bad_lines():
    lines = [
        json.dumps(
            {"video_uri": "gs://b/v/1.mp4", "post_id": "p1", "user_id": "u", "posted_at": "2026-01-02"}
        ),
        "",
        "{not json",
        json.dumps({"post_id": "p3"}),
        json.dumps([1, 2]),
    ]
    out = list(parse_manifest("\n".join(lines), "gs://b/m.jsonl"))
    assert out[0] == VideoRef("gs://b/v/1.mp4", "p1", "u", "2026-01-02")
    assert [type(o) for o in out[1:]] == [InvalidRow, InvalidRow, InvalidRow]
    assert out[1].source == "m.jsonl:3"
    assert "video_uri" in out[2].reason


def test_csv_without_video_uri_column_is_an_error():
    with pytest.raises(ValueError, match="video_uri"):
        list(parse_manifest("path\na.mp4\n", "m.csv"))


def test_relative_uris_resolve_against_remote_manifest():
    assert resolve_uri("x/y.mp4", "gs://bucket/dir/m.csv") == "gs://bucket/dir/x/y.mp4"
    assert resolve_uri("gs://o/z.mp4", "gs://bucket/dir/m.csv") == "gs://o/z.mp4"


def test_folder_lists_only_videos_and_glob_takes_all(tmp_path):
    for name in ["b.mp4", "a.MOV", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    refs = expand_inputs(str(tmp_path), glob.glob, _read)
    assert [r.post_id for r in refs] == ["a", "b"]
    everything = expand_inputs(os.path.join(str(tmp_path), "*"), glob.glob, _read)
    assert len(everything) == 3


def test_one_video_path_is_one_input_even_when_missing(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert expand_inputs(str(tmp_path / "clip.mp4"), glob.glob, _read) == [
        VideoRef(video_uri=str(tmp_path / "clip.mp4"), post_id="clip")
    ]
    # Not silently dropped: the pipeline gives it a videos row with INPUT_NOT_FOUND.
    assert [r.post_id for r in expand_inputs(str(tmp_path / "gone.webm"), glob.glob, _read)] == ["gone"]
