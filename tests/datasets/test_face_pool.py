"""Face views for distillation: the teacher's framing, deterministic augmented views, the sources' splits."""

from __future__ import annotations

import numpy as np

from emotrace.datasets.face_pool import (
    BaseFace,
    build_views,
    make_view,
    number_faces,
    realdata_face_sources,
    teacher_crop,
)
from emotrace.features.align import align_face
from tests.realdata import require_realdata


def test_teacher_crop_is_the_squared_box_with_a_margin():
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[50:150, 100:180] = 255  # a bright 80 x 100 "face"
    grey = teacher_crop(frame, np.array([100, 50, 180, 150], np.float32))
    assert grey.shape == (64, 64) and grey.dtype == np.uint8
    # side 100 * 1.2 = 120 px -> 64: the face spans 100/120 of the height and 80/120 of the width.
    rows, cols = np.flatnonzero(grey[:, 32] > 128), np.flatnonzero(grey[32] > 128)
    assert abs(len(rows) - 64 * 100 / 120) <= 2 and abs(len(cols) - 64 * 80 / 120) <= 2


def test_view_zero_is_the_pipelines_crop_and_views_are_deterministic(face):
    crop, grey = make_view(face.frame, face.detection, 64, None)
    assert np.array_equal(crop, align_face(face.frame, face.detection.landmarks, 64))
    a = build_views([face], 4, 64, seed=3)
    b = build_views([face], 4, 64, seed=3)
    assert np.array_equal(a.crops, b.crops) and np.array_equal(a.grey, b.grey)
    assert np.array_equal(a.crops[0], crop) and np.array_equal(a.grey[0], grey)
    assert list(a.view) == [0, 1, 2, 3]
    assert all(not np.array_equal(a.crops[0], a.crops[k]) for k in (1, 2, 3))  # augmented views differ
    c = build_views([face], 4, 64, seed=4)
    assert not np.array_equal(a.crops[1:], c.crops[1:])


def test_faces_are_numbered_by_source_and_frame(face):
    faces = [face, BaseFace(0, 5, face.frame, face.detection), BaseFace(2, 0, face.frame, face.detection)]
    pool = number_faces(build_views(faces, 2, 32, seed=0))
    assert list(pool.base) == [0, 0, 1, 1, 2, 2]


def test_realdata_sources_never_include_the_validation_set():
    root = require_realdata()
    sources = realdata_face_sources(str(root))
    assert sources and not any("validation-only" in s.path for s in sources)
    london = [s for s in sources if s.corpus == "london"]
    by_id: dict[str, set[str]] = {}
    for s in london:
        by_id.setdefault(s.identity, set()).add(s.split)
    assert all(len(splits) == 1 for splits in by_id.values())  # an identity stays on one side
    assert sum(next(iter(v)) == "test" for v in by_id.values()) >= 25
    assert {s.label for s in london} == {"neutral", "smiling"}
