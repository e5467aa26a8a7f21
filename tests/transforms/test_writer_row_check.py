"""The partitioned writer checks every row against its table before it reaches a file (issue 17), in
the streaming writer of issue 16: a misshapen row raises before any row group holding it is written."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotrace.schemas.records import TraceStep, TrackSummary, VideoRef
from emotrace.schemas.rows import track_row
from emotrace.schemas.tables import TRACES, TRACKS, RowShapeError
from emotrace.transforms.partitioned import PartFile

ROW = track_row(
    TrackSummary(VideoRef("/v/a.mp4", "a", "u", None), 1, 0.0, 2.0, 10, 0.5, 0.25, True), "r", "h"
)


def test_the_writer_writes_no_row_group_with_a_misshapen_row(tmp_path: Path) -> None:
    good = PartFile(str(tmp_path / "good.parquet"), TRACKS)
    good.add(ROW)
    good.close()
    assert pq.read_table(tmp_path / "good.parquet").to_pylist() == [ROW]
    bad = PartFile(str(tmp_path / "bad.parquet"), TRACKS)
    bad.add(ROW)
    bad.add({**ROW, "extra": 1})
    with pytest.raises(RowShapeError):
        bad.close()
    bad.abort()  # what a failed bundle does: the file is never reported, never published
    with pytest.raises(pa.ArrowInvalid):  # no footer, no row group: nothing readable was written
        pq.read_table(tmp_path / "bad.parquet")


def test_a_typed_trace_step_becomes_its_row_at_the_writer(tmp_path: Path) -> None:
    step = TraceStep(
        "a", None, 2, 0.4, 0.2, 0.1, -0.2, True, True, 0.9, 0.6, 0.4, 0.5, 0.5, "m", "r", "0.1", "h",
        0.98, 0.1, 0.2, 0.3, 0.4, True, 0.7,
    )  # fmt: skip
    part = PartFile(str(tmp_path / "traces.parquet"), TRACES)
    part.add(step)
    part.close()
    (row,) = pq.read_table(tmp_path / "traces.parquet").to_pylist()
    assert row.keys() == step.as_row().keys() and list(row) == TRACES.names
    assert row["track_id"] == 2 and row["is_primary"] and row["t_s"] == 0.4
    assert row["face_x"] == pytest.approx(0.1) and row["speech_prob"] == pytest.approx(0.9)
    assert row["speaking"] == pytest.approx(0.7)
    # A step whose value breaks the schema is refused like a row: no null where none may be.
    bad = PartFile(str(tmp_path / "bad.parquet"), TRACES)
    bad.add(step._replace(model_version=None))
    with pytest.raises(RowShapeError):
        bad.close()
    bad.abort()
