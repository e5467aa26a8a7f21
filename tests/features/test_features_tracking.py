"""IoU + Hungarian face tracker."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.features.tracking import FaceTracker, iou_matrix
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection


def det(x0: float, y0: float, x1: float, y1: float) -> FaceDetection:
    return FaceDetection(np.array([x0, y0, x1, y1], np.float32), 0.99, np.zeros((5, 2), np.float32))


def box_at(x: float, y: float = 0.0, side: float = 100.0) -> FaceDetection:
    return det(x, y, x + side, y + side)


def test_iou_matrix_known_values() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 0, 1], [0, 0, 0]])


def test_two_faces_moving_apart_keep_their_ids() -> None:
    tracker = FaceTracker(FaceConfig())
    for step in range(20):
        left, right = box_at(200 - 8 * step), box_at(320 + 8 * step)
        detections = [right, left] if step % 2 else [left, right]  # detector order must not matter
        ids = tracker.update(step, detections)
        assert ids == ([1, 0] if step % 2 else [0, 1])
    assert tracker.n_tracks == 2


@pytest.mark.parametrize(("gap", "same_id"), [(1, True), (10, True), (11, False), (30, False)])
def test_track_survives_up_to_max_missed_steps(gap: int, same_id: bool) -> None:
    tracker = FaceTracker(FaceConfig(track_max_missed_steps=10))
    assert tracker.update(0, [box_at(100)]) == [0]
    for step in range(1, gap + 1):  # the face is missing for `gap` steps
        assert tracker.update(step, []) == []
    assert tracker.update(gap + 1, [box_at(102)]) == [0 if same_id else 1]
    assert tracker.n_tracks == (1 if same_id else 2)


def test_steps_never_passed_count_as_missed() -> None:
    tracker = FaceTracker(FaceConfig(track_max_missed_steps=3))
    tracker.update(0, [box_at(100)])
    assert tracker.update(4, [box_at(100)]) == [0]  # 3 missed steps, no calls for them
    assert tracker.update(9, [box_at(100)]) == [1]  # 4 missed steps


def test_hungarian_beats_greedy_on_nearby_faces() -> None:
    tracker = FaceTracker(FaceConfig(track_iou=0.3))
    assert tracker.update(0, [box_at(0), box_at(60)]) == [0, 1]
    # Both faces move left (by 50 and 32 px). The best single pair is (track 0, detection at 28), which
    # greedy best-IoU-first matching would take, leaving track 1 with nothing above the gate and
    # starting a spurious track. The best total assignment keeps both faces.
    d_a, d_b = box_at(-50), box_at(28)
    iou = iou_matrix(np.stack([box_at(0).box, box_at(60).box]), np.stack([d_a.box, d_b.box]))
    assert iou.argmax() == 1 and iou[1, 0] < 0.3 <= min(iou[0, 0], iou[1, 1])  # the premise
    assert tracker.update(1, [d_a, d_b]) == [0, 1]
    assert tracker.n_tracks == 2


def test_crossing_faces_keep_their_ids() -> None:
    tracker = FaceTracker(FaceConfig())
    assert tracker.update(0, [box_at(0, 0), box_at(290, 50)]) == [0, 1]
    for step in range(1, 30):
        a = box_at(10 * step, 0)  # moves right
        b = box_at(290 - 10 * step, 50)  # moves left, lower in the frame: they overlap mid-way
        assert tracker.update(step, [b, a]) == [1, 0]
    assert tracker.n_tracks == 2


def test_unmatched_detections_start_new_tracks_in_order() -> None:
    tracker = FaceTracker(FaceConfig())
    assert tracker.update(0, [box_at(0)]) == [0]
    assert tracker.update(1, [box_at(500), box_at(1), box_at(900)]) == [1, 0, 2]
    assert tracker.update(2, [box_at(900, 2), box_at(500, 1)]) == [2, 1]
    assert tracker.n_tracks == 3


def test_no_cap_on_faces() -> None:
    tracker = FaceTracker(FaceConfig())
    faces = [box_at(120 * i, 120 * j, 100) for i in range(8) for j in range(5)]
    assert tracker.update(0, faces) == list(range(40))
    assert tracker.update(1, faces[::-1]) == list(range(40))[::-1]


def test_steps_must_not_go_back() -> None:
    tracker = FaceTracker(FaceConfig())
    tracker.update(5, [])
    with pytest.raises(ValueError, match="decrease"):
        tracker.update(4, [])


def test_a_face_that_speeds_up_is_followed_where_its_velocity_puts_it() -> None:
    # 50 px per step (IoU 0.33 with the last box), then 90 px per step: IoU 0.05 with the last box,
    # 0.67 with the last box moved on at the face's velocity (65 px per step by then).
    xs = [0, 50, 100, 190, 280]
    tracker = FaceTracker(FaceConfig(track_iou=0.3))
    assert [tracker.update(step, [box_at(x)])[0] for step, x in enumerate(xs)] == [0] * len(xs)
    iou_last = iou_matrix(box_at(100).box[None], box_at(190).box[None])[0, 0]
    assert iou_last < 0.3  # the premise: without a velocity, the gate would start a new track


def test_the_velocity_carries_a_face_through_a_short_miss() -> None:
    tracker = FaceTracker(FaceConfig(track_iou=0.3))
    assert [tracker.update(step, [box_at(40 * step)])[0] for step in range(4)] == [0] * 4
    # Hidden for 3 steps while it walks on: back 160 px from its last box (no overlap), where its
    # velocity puts it.
    assert tracker.update(7, [box_at(40 * 7)]) == [0]
