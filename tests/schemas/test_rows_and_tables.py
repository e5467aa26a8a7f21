"""Rows built from records match the Arrow schemas exactly."""

import numpy as np
import pyarrow as pa
import pytest

from emotrace.schemas.records import MediaInfo, StepWindow, VideoOutcome, VideoRef, WindowPrediction
from emotrace.schemas.rows import trace_rows, video_row
from emotrace.schemas.tables import TRACES, VIDEOS

REF = VideoRef("/v/a.mp4", "a", "u1", None)


def _window(valid: list[bool], track: int | None) -> StepWindow:
    w = len(valid)
    face = np.array(valid) if track is not None else np.zeros(w, bool)
    return StepWindow(
        REF, track, 10, 0.2, np.zeros((w, 4, 4, 3), np.uint8), face, np.zeros((w, 3), np.float32),
        np.ones(w, bool), np.array(valid),
    )  # fmt: skip


def test_trace_rows_only_valid_steps_with_grid_times():
    w = _window([False, True, True, False], track=3)
    attn = np.tile(
        np.array([[[0.2, 0.8], [0.7, 0.3]]], np.float32), (4, 1, 1)
    )  # (arousal, valence) x (face, audio)
    pred = WindowPrediction(w, np.linspace(-1, 1, 4, dtype=np.float32), np.zeros(4, np.float32), attn, "m-1")
    rows = trace_rows(pred, "run", "c0ffee123456")
    assert [r["t_s"] for r in rows] == [2.2, 2.4]
    assert rows[0]["arousal"] == np.float32(np.linspace(-1, 1, 4)[1])
    assert all(r["track_id"] == 3 and r["face_present"] and r["model_version"] == "m-1" for r in rows)
    assert rows[0]["attn_face_arousal"] == np.float32(0.2) and rows[0]["attn_audio_arousal"] == np.float32(
        0.8
    )
    assert rows[0]["attn_face_valence"] == np.float32(0.7) and rows[0]["attn_audio_valence"] == np.float32(
        0.3
    )
    table = pa.Table.from_pylist(rows, schema=TRACES)
    assert table.num_rows == 2


def test_video_rows_fit_schema_for_ok_and_failed():
    ok = VideoOutcome(REF, "ok", info=MediaInfo(8.0, True, False), n_tracks=1, n_steps=40)
    failed = VideoOutcome(REF, "failed", "PROBE_FAILED", "not media")
    rows = [video_row(ok, "r", "m", "h"), video_row(failed, "r", "m", "h")]
    table = pa.Table.from_pylist(rows, schema=VIDEOS)
    assert table.column("has_audio").to_pylist() == [False, None]
    assert table.column("error_code").to_pylist() == [None, "PROBE_FAILED"]


def test_trace_steps_follow_the_schema_or_the_module_does_not_import(monkeypatch):
    import importlib

    import emotrace.schemas.rows as rows
    from emotrace.schemas import tables

    attn = np.full((3, 2, 2), 0.5, np.float32)
    zeros = np.zeros(3, np.float32)
    pred = WindowPrediction(_window([True] * 3, track=1), zeros, zeros, attn, "m")
    steps = rows.trace_steps(pred, "run", "c0ffee123456")
    assert steps and all(list(s.as_row()) == tables.TRACES.names for s in steps)
    monkeypatch.setattr(tables, "TRACES", tables.TRACES.append(pa.field("new_column", pa.float32())))
    try:
        with pytest.raises(ImportError, match="new_column"):
            importlib.reload(rows)  # a column added to the schema but not to TraceStep is caught at once
    finally:
        monkeypatch.undo()
        importlib.reload(rows)
