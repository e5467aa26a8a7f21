"""Face columns of trace rows and the tracks table fit their Arrow schemas."""

import numpy as np
import pyarrow as pa

from emotrace.schemas.records import StepWindow, TrackSummary, VideoRef, WindowPrediction
from emotrace.schemas.rows import trace_rows, track_row
from emotrace.schemas.tables import TRACES, TRACKS, check_row

REF = VideoRef("/v/a.mp4", "a", "u1", None)


def _pred(track: int | None, face: list[bool], with_faces: bool) -> WindowPrediction:
    w = len(face)
    mask = np.array(face)
    score = np.where(mask, 0.9, np.nan).astype(np.float32)
    box = np.where(mask[:, None], [[0.1, 0.2, 0.3, 0.4]], np.nan).astype(np.float32)
    window = StepWindow(
        REF, track, 0, 0.2, np.zeros((w, 4, 4, 3), np.uint8), mask, np.zeros((w, 3), np.float32),
        np.ones(w, bool), np.ones(w, bool),
    )  # fmt: skip
    if with_faces:
        window = window._replace(face_score=score, face_box=box)
    return WindowPrediction(
        window, np.zeros(w, np.float32), np.zeros(w, np.float32), np.zeros((w, 2, 2), np.float32), "m"
    )


def test_face_columns_are_filled_where_the_lane_has_a_face_and_null_elsewhere():
    rows = trace_rows(_pred(2, [True, False], with_faces=True), "r", "h")
    assert rows[0]["face_score"] == np.float32(0.9)
    assert [rows[0][c] for c in ("face_x", "face_y", "face_w", "face_h")] == list(
        np.float32([0.1, 0.2, 0.3, 0.4])
    )
    assert all(rows[1][c] is None for c in ("face_score", "face_x", "face_y", "face_w", "face_h"))
    faceless = trace_rows(_pred(None, [False, False], with_faces=False), "r", "h")
    assert all(r["face_score"] is None and r["is_primary"] is False for r in faceless)
    table = pa.Table.from_pylist(rows + faceless, schema=TRACES)
    assert table.column("face_w").null_count == 3


def test_trace_and_track_rows_have_exactly_their_tables_columns():
    """Checked row by row (check_row): Arrow alone would drop an unknown key and null a missing one."""
    for face in ([True, False], [False, False]):
        for row in trace_rows(_pred(2 if any(face) else None, face, with_faces=any(face)), "r", "h"):
            check_row(row, TRACES)
    row = track_row(TrackSummary(REF, 3, 0.4, 7.8, 30, 0.97, 0.05, True), "r1", "c0ffee123456")
    check_row(row, TRACKS)
    assert (row["track_id"], row["is_primary"], row["first_s"]) == (3, True, 0.4)
