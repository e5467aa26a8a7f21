"""One videos row from a long video's segment outcomes (transforms/outcomes.merge_segments)."""

from __future__ import annotations

from emotrace.schemas.keys import key_of
from emotrace.schemas.records import MediaInfo, VideoOutcome, VideoRef
from emotrace.transforms.outcomes import final_row, merge_segments

REF = VideoRef("/v/long.mp4", "long")
INFO = MediaInfo(180.0, True, True, 640, 360)


def _seg(k: int, n: int = 3, status: str = "ok", **kw) -> VideoOutcome:
    return VideoOutcome(REF, status, info=INFO, segment=k, n_segments=n, **kw)


def test_all_segments_ok_is_ok_and_order_does_not_matter():
    merged = merge_segments([_seg(2), _seg(0), _seg(1)])
    assert merged.status == "ok" and not merged.partial and merged.error_code is None
    assert merged.info == INFO


def test_a_failed_segment_fails_the_video_and_says_which():
    bad = _seg(1, status="failed", error_code="DECODE_FAILED", error_message="ffmpeg: invalid data")
    merged = merge_segments([_seg(0), bad, _seg(2)])
    assert (merged.status, merged.error_code) == ("failed", "DECODE_FAILED")
    assert merged.error_message == "segment 2/3: ffmpeg: invalid data"
    # The steps the other segments wrote stay, flagged partial in the row.
    row = final_row(
        (key_of(REF), {"outcome": [_seg(0), bad, _seg(2)], "steps": [300, 300], "errors": [], "tracks": [0]}),
        "r1",
        "m1",
        "h1",
    )
    assert (
        row["status"] == "failed"
        and row["partial"] is True
        and row["n_steps"] == 600
        and row["n_tracks"] == 1
    )


def test_a_truncated_file_is_ok_but_partial_with_the_first_segment_message():
    cut = _seg(2, partial=True, error_message="nothing decoded after 120.0 s of 180.0 s")
    merged = merge_segments([_seg(0), _seg(1), cut])
    assert merged.status == "ok" and merged.partial and merged.error_code is None
    assert merged.error_message == "nothing decoded after 120.0 s of 180.0 s"


def test_a_missing_or_repeated_segment_is_reported_not_hidden():
    for outcomes in ([_seg(0), _seg(2)], [_seg(0), _seg(1), _seg(1), _seg(2)]):
        merged = merge_segments(outcomes)
        assert merged.status == "failed" and merged.error_code == "INTERNAL_ERROR"
        assert "expected outcomes of segments 0..2" in (merged.error_message or "")


def test_one_segment_is_returned_as_is():
    one = VideoOutcome(REF, "skipped", "TOO_LONG", "longer than 3600 s", INFO)
    assert merge_segments([one]) == one
