"""Appearance signatures of aligned crops, and what they change in the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.features.align import align_face
from emotrace.features.appearance import EMBEDDING_DIM, appearance_embedding
from emotrace.features.tracking import FaceTracker
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection


@pytest.fixture(scope="module")
def looks(astronaut: np.ndarray, astronaut_face: FaceDetection) -> dict[str, np.ndarray]:
    """Embeddings of the astronaut's aligned face: as is, slightly shifted, grey, red/blue swapped, and
    mirrored with red/blue swapped (the most different look: 0.34 cosine to the face, measured)."""
    crop = align_face(astronaut, astronaut_face.landmarks, 64)
    shifted = align_face(astronaut, astronaut_face.landmarks + np.float32([1.5, -1.0]), 64)
    grey = np.repeat(crop.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    return {
        "face": appearance_embedding(crop),
        "shifted": appearance_embedding(shifted),
        "grey": appearance_embedding(grey),
        "swapped": appearance_embedding(np.ascontiguousarray(crop[..., ::-1])),
        "other": appearance_embedding(np.ascontiguousarray(crop[:, ::-1, ::-1])),
    }


def test_embedding_is_a_unit_vector(looks: dict[str, np.ndarray]) -> None:
    for e in looks.values():
        assert e.shape == (EMBEDDING_DIM,) and e.dtype == np.float32
        assert np.linalg.norm(e) == pytest.approx(1.0, abs=1e-5)


def test_same_face_is_closer_than_recoloured_faces(looks: dict[str, np.ndarray]) -> None:
    same = float(looks["face"] @ looks["shifted"])
    assert same > 0.9
    for other in ("grey", "swapped", "other"):
        assert float(looks["face"] @ looks[other]) < same - 0.2, other


def test_bad_crop_is_rejected() -> None:
    with pytest.raises(ValueError, match="uint8"):
        appearance_embedding(np.zeros((64, 64), np.uint8))


def det(x: float, y: float = 0.0, side: float = 100.0) -> FaceDetection:
    box = np.array([x, y, x + side, y + side], np.float32)
    return FaceDetection(box, 0.99, np.zeros((5, 2), np.float32))


def test_short_miss_while_moving_keeps_the_id_only_with_appearance(looks: dict[str, np.ndarray]) -> None:
    e = looks["face"][None]
    # The face is lost for 3 steps while it walks 150 px: no IoU with its last box when it comes back.
    for use_looks, want in ((True, 0), (False, 1)):
        tracker = FaceTracker(FaceConfig())
        tracker.update(0, [det(0)], e if use_looks else None)
        assert tracker.update(4, [det(150)], looks["shifted"][None] if use_looks else None) == [want]


@pytest.mark.parametrize(("x", "same_id"), [(300, True), (500, False)])
def test_a_face_seen_once_may_move_track_new_shift_sides_per_step(
    looks: dict[str, np.ndarray], x: float, same_id: bool
) -> None:
    tracker = FaceTracker(FaceConfig(track_new_shift=2.0))
    tracker.update(0, [det(0)], looks["face"][None])
    # After 2 steps: 3 face sides is within 2 sides per step, 5 is not (its speed is not known yet).
    assert tracker.update(2, [det(x)], looks["shifted"][None]) == [0 if same_id else 1]


@pytest.mark.parametrize(("x", "same_id"), [(240, True), (400, False)])
def test_a_moving_face_is_looked_for_where_its_velocity_puts_it(
    looks: dict[str, np.ndarray], x: float, same_id: bool
) -> None:
    tracker = FaceTracker(FaceConfig(track_reid_shift=0.5, track_new_shift=2.0))
    tracker.update(0, [det(0)], looks["face"][None])
    assert tracker.update(1, [det(120)], looks["face"][None]) == [0]  # 1.2 sides per step: velocity known
    # At 240 the face is where its velocity puts it (no overlap with its last box at 120); at 400 it is
    # 1.6 sides past that, more than the 0.5 sides per step allowed once its motion is known.
    assert tracker.update(2, [det(x)], looks["shifted"][None]) == [0 if same_id else 1]


def test_a_different_face_in_the_same_place_does_not_take_the_track(looks: dict[str, np.ndarray]) -> None:
    # Face A is hidden behind face B, which stops exactly where A was (same box).
    cfg = FaceConfig(track_min_similarity=0.9)
    tracker = FaceTracker(cfg)
    tracker.update(0, [det(0)], looks["face"][None])
    assert tracker.update(1, [det(0)], looks["swapped"][None]) == [1]
    geometry_only = FaceTracker(cfg)
    geometry_only.update(0, [det(0)])
    assert geometry_only.update(1, [det(0)]) == [0]  # the premise: IoU alone would hand the id over


def test_crossing_faces_are_told_apart_by_looks(looks: dict[str, np.ndarray]) -> None:
    a, b = looks["face"], looks["other"]
    tracker = FaceTracker(FaceConfig())
    assert tracker.update(0, [det(0), det(40)], np.stack([a, b])) == [0, 1]
    # Mid-crossing the two boxes have swapped places: IoU prefers handing each id to the other face
    # (each box moved 40 px onto the other's last box), appearance keeps them with their owners.
    assert tracker.update(1, [det(0), det(40)], np.stack([b, a])) == [1, 0]
    geometry_only = FaceTracker(FaceConfig())
    geometry_only.update(0, [det(0), det(40)])
    assert geometry_only.update(1, [det(0), det(40)]) == [0, 1]


def test_embeddings_must_match_detections(looks: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="embeddings"):
        FaceTracker(FaceConfig()).update(0, [det(0), det(200)], looks["face"][None])
