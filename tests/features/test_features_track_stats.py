"""Per-track sums and the primary track."""

from __future__ import annotations

import pytest

from emotrace.features.track_stats import TrackStats
from emotrace.schemas.records import VideoRef

REF = VideoRef("/v/a.mp4", "a")


def test_summaries_hold_first_last_counts_and_means() -> None:
    stats = TrackStats()
    for step, score, area in [(3, 0.9, 0.10), (4, 0.8, 0.20), (9, 1.0, 0.30)]:
        stats.add(step, 0, score, area)
    stats.add(5, 1, 0.95, 0.05)
    s0, s1 = stats.summaries(REF, 0.2)
    assert (s0.track_id, s0.first_s, s0.last_s, s0.n_steps) == (0, 0.6, 1.8, 3)
    assert s0.mean_score == pytest.approx(0.9) and s0.mean_area == pytest.approx(0.2)
    assert (s1.first_s, s1.last_s, s1.n_steps) == (1.0, 1.0, 1)
    assert s0.ref == REF and s0.is_primary and not s1.is_primary


def test_primary_weighs_screen_time_by_face_size() -> None:
    stats = TrackStats()
    for step in range(50):  # seen all along, but small: 50 x 0.01 = 0.5
        stats.add(step, 0, 0.9, 0.01)
    for step in range(10):  # seen a fifth of the time, large: 10 x 0.1 = 1.0
        stats.add(step, 1, 0.9, 0.1)
    for step in range(3):  # largest, but briefly: 3 x 0.3 = 0.9
        stats.add(step, 2, 0.9, 0.3)
    assert stats.primary_track() == 1
    assert [s.is_primary for s in stats.summaries(REF, 0.2)] == [False, True, False]


def test_ties_go_to_the_first_track_and_no_tracks_no_primary() -> None:
    stats = TrackStats()
    assert stats.primary_track() is None and stats.summaries(REF, 0.2) == []
    stats.add(0, 4, 0.9, 0.1)
    stats.add(0, 2, 0.9, 0.1)
    assert stats.primary_track() == 2
