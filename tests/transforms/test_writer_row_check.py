"""The partitioned writer checks every row against its table before a file exists (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emotrace.schemas.records import TrackSummary, VideoRef
from emotrace.schemas.rows import track_row
from emotrace.schemas.tables import TRACKS, RowShapeError
from emotrace.transforms.partitioned import write_group

ROW = track_row(
    TrackSummary(VideoRef("/v/a.mp4", "a", "u", None), 1, 0.0, 2.0, 10, 0.5, 0.25, True), "r", "h"
)


def test_the_writer_writes_no_file_for_a_misshapen_row(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    assert write_group(str(good), [ROW], TRACKS) == str(good)
    assert pq.read_table(good).to_pylist() == [ROW]
    bad = tmp_path / "bad.parquet"
    with pytest.raises(RowShapeError):
        write_group(str(bad), [ROW, {**ROW, "extra": 1}], TRACKS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.parquet"]  # nothing half-written left
