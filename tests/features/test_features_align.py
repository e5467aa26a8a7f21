"""Five-point similarity alignment onto the ArcFace template."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotrace.features.align import ARCFACE_TEMPLATE_112, align_face, alignment_matrix, template
from emotrace.schemas.records import FaceDetection


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:, :2].T + m[:, 2]


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([rot, [[tx], [ty]]])


@pytest.mark.parametrize("size_px", [64, 112, 160])
def test_exact_similarity_is_recovered(size_px: int) -> None:
    # Landmarks = the 112 px template moved by a known similarity: alignment must undo it exactly.
    landmarks = apply(similarity(2.3, 20.0, 140.0, 35.0), ARCFACE_TEMPLATE_112).astype(np.float32)
    m = alignment_matrix(landmarks, size_px)
    np.testing.assert_allclose(apply(m, landmarks), template(size_px), atol=1e-3)
    assert np.linalg.det(m[:, :2]) > 0  # a rotation, not a mirror
    np.testing.assert_allclose(np.sqrt(np.linalg.det(m[:, :2])), size_px / 112 / 2.3, rtol=1e-5)


def test_warp_moves_pixels_onto_template() -> None:
    # Paint a distinct colour at each landmark of a rotated, scaled face; the crop must show each colour
    # at its template position.
    landmarks = apply(similarity(1.8, -15.0, 60.0, 90.0), ARCFACE_TEMPLATE_112).astype(np.float32)
    frame = np.zeros((400, 360, 3), np.uint8)
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]], np.uint8)
    for (x, y), colour in zip(np.rint(landmarks).astype(int), colours, strict=True):
        frame[y - 3 : y + 4, x - 3 : x + 4] = colour
    crop = align_face(frame, landmarks, 112)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    for (x, y), colour in zip(np.rint(template(112)).astype(int), colours, strict=True):
        np.testing.assert_array_equal(crop[y, x], colour)


def test_astronaut_eyes_land_on_template(astronaut: np.ndarray, astronaut_face: FaceDetection) -> None:
    for size_px, tol_px in ((64, 2.0), (112, 3.0)):
        m = alignment_matrix(astronaut_face.landmarks, size_px)
        warped = apply(m, astronaut_face.landmarks.astype(np.float64))
        # A least-squares fit over 5 points: her broad smile pulls the mouth corners off the template,
        # leaving the eyes ~2.3% of the crop away from theirs (2.5 px at 112); a wrong fit is far worse.
        assert np.linalg.norm(warped[:2] - template(size_px)[:2], axis=1).max() < tol_px
        assert abs(warped[0, 1] - warped[1, 1]) < 1.0  # head tilt removed: eyes level
        crop = align_face(astronaut, astronaut_face.landmarks, size_px)
        assert crop.shape == (size_px, size_px, 3) and crop.dtype == np.uint8
        assert crop.mean() > 60  # the face, not the black border


def test_outside_the_frame_is_black() -> None:
    frame = np.full((100, 100, 3), 200, np.uint8)
    # A face 40 px past the frame's left edge: crop column c shows frame column c - 40.
    landmarks = apply(similarity(1.0, 0.0, -40.0, 0.0), ARCFACE_TEMPLATE_112).astype(np.float32)
    crop = align_face(frame, landmarks, 112)
    assert np.all(crop[:, :39] == 0) and np.all(crop[101:] == 0)  # left of and below the frame
    assert np.all(crop[:99, 41:] == 200)


def test_bad_landmarks_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[5, 2\]"):
        align_face(np.zeros((10, 10, 3), np.uint8), np.zeros((4, 2), np.float32), 64)


def test_a_face_much_larger_than_the_crop_is_area_shrunk_first_not_aliased() -> None:
    # A 1-pixel checkerboard seen through a face ~8x the crop's size: averaging k x k blocks first
    # gives flat grey; bilinear sampling alone would pick pixels and leave a high-contrast pattern.
    frame = np.indices((720, 1280)).sum(axis=0) % 2 * 255
    frame = np.repeat(frame[..., None], 3, axis=2).astype(np.uint8)
    landmarks = apply(similarity(8.0, 7.0, 300.0, 100.0), ARCFACE_TEMPLATE_112 * 64 / 112).astype(np.float32)
    crop = align_face(frame, landmarks, 64)
    direct = cv2.warpAffine(frame, alignment_matrix(landmarks, 64), (64, 64), flags=cv2.INTER_LINEAR)
    assert direct[8:-8, 8:-8].std() > 40  # the premise: a plain warp aliases
    assert crop[8:-8, 8:-8].std() < 5 and abs(float(crop[8:-8, 8:-8].mean()) - 127.5) < 3


def test_shrinking_first_keeps_the_face_where_the_landmarks_put_it() -> None:
    # Landmarks painted on a large face land on the template as with a plain warp (within a pixel).
    landmarks = apply(similarity(6.0, -10.0, 200.0, 60.0), ARCFACE_TEMPLATE_112).astype(np.float32)
    frame = np.zeros((1000, 1280, 3), np.uint8)
    for x, y in np.rint(landmarks).astype(int):
        frame[y - 12 : y + 13, x - 12 : x + 13] = 255
    crop = align_face(frame, landmarks, 112)
    for x, y in np.rint(template(112)).astype(int):
        assert crop[y, x].min() > 200, (x, y)
