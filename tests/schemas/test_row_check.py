"""A row with a missing or extra key, or a null in a non-nullable column, fails the write (issue 17)."""

from __future__ import annotations

import re

import pytest

from emotrace.schemas.records import TrackSummary, VideoRef
from emotrace.schemas.rows import track_row
from emotrace.schemas.tables import TRACKS, RowShapeError, check_row, checked_batch

ROW = track_row(TrackSummary(VideoRef("/v/a.mp4", "a", "u", None), 1, 0.0, 2.0, 10, 0.9, 0.1, True), "r", "h")


def _without(key: str) -> dict:
    return {k: v for k, v in ROW.items() if k != key}


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (_without("mean_area"), "missing ['mean_area'], unknown []"),
        ({**ROW, "mean_areas": 0.1}, "missing [], unknown ['mean_areas']"),
        ({**_without("track_id"), "track": 1}, "missing ['track_id'], unknown ['track']"),
        ({**ROW, "post_id": None}, "null in non-nullable column(s) ['post_id']"),
    ],
)
def test_a_misshapen_row_is_refused(row: dict, words: str) -> None:
    check_row(ROW, TRACKS)  # the well-formed row passes
    with pytest.raises(RowShapeError, match=re.escape("row 1: " + words)):
        checked_batch([ROW, row], TRACKS)
