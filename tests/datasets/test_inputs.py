"""Input expansion: manifests, folders and globs -> inputs (pure; file system injected)."""

import glob
import io
import json
import os

from emotrace.datasets.inputs import (
    MAX_LINE_BYTES,
    InputSource,
    InvalidRow,
    expand_inputs,
    iter_lines,
    parse_manifest,
)
from emotrace.schemas.records import VideoRef
from emotrace.schemas.uris import canonical_uri


def _list(folder: str) -> list[str]:
    return [os.path.join(folder, n) for n in os.listdir(folder)]


FS = InputSource(match=glob.glob, list_folder=_list, open=lambda p: open(p, "rb"))  # noqa: SIM115


def _parse(data: bytes | str, uri: str) -> list[tuple[int, VideoRef | InvalidRow]]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return list(parse_manifest(iter_lines(io.BytesIO(raw)), uri))


def _items(data: bytes | str, uri: str) -> list[VideoRef | InvalidRow]:
    return [item for _, item in _parse(data, uri)]


def test_csv_manifest_defaults_and_extra_columns():
    text = "video_uri,user_id,extra\nclips/a.mp4,u1,x\n/abs/b.mov,,y\n"
    assert _items(text, "/data/m.csv") == [
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
    out = _parse("\n".join(lines), "gs://b/m.jsonl")
    assert out[0] == (1, VideoRef("gs://b/v/1.mp4", "p1", "u", "2026-01-02"))
    assert [type(o) for _, o in out[1:]] == [InvalidRow, InvalidRow, InvalidRow]
    assert [line for line, _ in out] == [1, 3, 4, 5]
    assert out[1][1].source == "m.jsonl:3"
    assert "video_uri" in out[2][1].reason


def test_csv_without_video_uri_column_makes_every_row_invalid_not_the_run():
    out = _parse("path\na.mp4\nb.mp4\n", "/d/m.csv")
    assert [(line, type(item)) for line, item in out] == [(2, InvalidRow), (3, InvalidRow)]
    assert all("no video_uri column" in item.reason for _, item in out)


def test_relative_uris_resolve_against_remote_manifest():
    assert _items("video_uri\nx/y.mp4\ngs://o/z.mp4\n", "gs://bucket/dir/m.csv") == [
        VideoRef("gs://bucket/dir/x/y.mp4", "y"),
        VideoRef("gs://o/z.mp4", "z"),
    ]


def test_header_matching_ignores_case_and_spaces():
    """Issue 15, class 14: ` Video_URI ` is the video_uri column; so are the other known columns."""
    text = "\ufeff Video_URI ,POST_ID,  User_Id,Posted_At \nclip.mp4,p1,u1,2024-05-01\n"
    assert _items(text, "/d/m.csv") == [VideoRef("/d/clip.mp4", "p1", "u1", "2024-05-01")]
    row = json.dumps({" VIDEO_URI": "clip.mp4", "Post_Id": 123})
    assert _items(row, "/d/m.jsonl") == [VideoRef("/d/clip.mp4", "123")]
    two = _items("video_uri,VIDEO_URI\na.mp4,b.mp4\n", "/d/m.csv")
    assert isinstance(two[0], InvalidRow) and "two columns" in two[0].reason


def test_one_bad_row_is_one_invalid_row_with_its_true_line():
    """Issue 15, class 6: each case once aborted the whole run."""
    csv_bytes = (
        b"video_uri,post_id,caption\n"
        b"a.mp4,a,fine\n"
        b"b\xff\xfe.mp4,b,bad utf-8 in a used cell\n"
        b"c.mp4,c," + b"x" * 140_000 + b"\n"  # an ignored column past the csv module's field limit
        b'd.mp4,d,"a quoted\ncaption on two lines"\n'
        b"e.mp4,e,after\n"
    )
    out = _parse(csv_bytes, "/d/m.csv")
    assert [line for line, _ in out] == [2, 3, 4, 5, 7]
    kinds = [isinstance(item, VideoRef) for _, item in out]
    assert kinds == [True, False, False, True, True]
    assert "UTF-8" in out[1][1].reason and "field limit" in out[2][1].reason
    jsonl = (
        "\n".join(
            [
                json.dumps({"video_uri": "a.mp4", "post_id": "a"}),
                '{"video_uri": "b.mp4", "post_id": ' + "9" * 5000 + "}",  # int past Python's 4300 digits
                json.dumps({"video_uri": "c.mp4", "post_id": "c\u2028still c"}, ensure_ascii=False),
                json.dumps({"video_uri": "d.mp4", "post_id": 1.5}),
                '{"video_uri": "e\\ud800.mp4"}',  # a lone surrogate cannot be written to Parquet
            ]
        ).encode("utf-8")
        + b"\n\xff\xfe\n"
    )
    out = _parse(jsonl, "/d/m.jsonl")
    assert [line for line, _ in out] == [1, 2, 3, 4, 5, 6]
    assert [isinstance(item, VideoRef) for _, item in out] == [True, False, True, False, False, False]
    assert out[2][1].post_id == "c\u2028still c"  # U+2028 did not split the row


def test_an_overlong_line_is_refused_without_holding_it():
    data = b'{"video_uri": "a.mp4"}\n' + b"x" * (MAX_LINE_BYTES + 10) + b'\n{"video_uri": "b.mp4"}\n'
    out = _parse(data, "/d/m.jsonl")
    assert [(line, isinstance(item, VideoRef)) for line, item in out] == [(1, True), (2, False), (3, True)]


def test_crlf_bom_and_nul_cells():
    out = _items(b"\xef\xbb\xbfvideo_uri,post_id\r\na.mp4,a\r\nb\x00.mp4,b\r\n", "/d/m.csv")
    assert out[0] == VideoRef("/d/a.mp4", "a") and "NUL" in out[1].reason


def test_canonical_identity_of_a_manifest_given_relatively_or_absolutely(tmp_path, monkeypatch):
    """Issue 15, class 7: the same manifest, by a relative then an absolute path, is the same inputs."""
    (tmp_path / "m.csv").write_text("video_uri\nclips/../a.mp4\nFILE://" + str(tmp_path) + "/b.mp4\n")
    monkeypatch.chdir(tmp_path)
    rel = [e.item for e in expand_inputs("m.csv", FS)]
    absolute = [e.item for e in expand_inputs(str(tmp_path / "m.csv"), FS)]
    assert rel == absolute == [VideoRef(str(tmp_path / "a.mp4"), "a"), VideoRef(str(tmp_path / "b.mp4"), "b")]
    assert canonical_uri("GS://b/X.mp4") == "gs://b/X.mp4"


def test_folder_lists_every_entry_named_like_a_video_and_glob_takes_all(tmp_path):
    for name in ["b.mp4", "a.MOV", "notes.txt", "anim.gif", "anim.webp"]:
        (tmp_path / name).write_bytes(b"")
    os.symlink(tmp_path / "gone.mp4", tmp_path / "dangling.mp4")
    os.symlink(tmp_path / "loop.mp4", tmp_path / "loop.mp4")
    (tmp_path / "sub.mp4").mkdir()
    entries = expand_inputs(str(tmp_path), FS)
    assert [e.item.post_id for e in entries] == ["a", "anim", "anim", "b", "dangling", "loop", "sub"]
    assert [e.ordinal for e in entries] == list(range(7))
    everything = expand_inputs(os.path.join(str(tmp_path), "*"), FS)
    assert len(everything) == 8  # every file, link and folder, notes.txt included


def test_one_video_path_is_one_input_even_when_missing(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert [e.item for e in expand_inputs(str(tmp_path / "clip.mp4"), FS)] == [
        VideoRef(video_uri=str(tmp_path / "clip.mp4"), post_id="clip")
    ]
    # Not silently dropped: the pipeline gives it a videos row with INPUT_NOT_FOUND.
    assert [e.item.post_id for e in expand_inputs(str(tmp_path / "gone.webm"), FS)] == ["gone"]
