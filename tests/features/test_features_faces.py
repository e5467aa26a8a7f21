"""RetinaFace wrapper: finds the astronaut, nothing in blank frames, maps coordinates back correctly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotrace.features.faces import FaceDetector
from emotrace.features.tracking import iou_matrix
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou_matrix(a[None], b[None])[0, 0])


def test_astronaut_face_found_where_expected(
    astronaut_face: FaceDetection, astronaut_face_box: np.ndarray
) -> None:
    assert astronaut_face.score > 0.9
    assert iou(astronaut_face.box, astronaut_face_box) >= 0.8
    assert astronaut_face.box.dtype == np.float32 and astronaut_face.box.shape == (4,)
    assert astronaut_face.landmarks.dtype == np.float32 and astronaut_face.landmarks.shape == (5, 2)


def test_astronaut_landmarks_are_in_retinaface_order(astronaut_face: FaceDetection) -> None:
    (rex, rey), (lex, ley), (nx, ny), (rmx, rmy), (lmx, lmy) = astronaut_face.landmarks
    x0, y0, x1, y1 = astronaut_face.box
    assert np.all((astronaut_face.landmarks >= [x0, y0]) & (astronaut_face.landmarks <= [x1, y1]))
    assert rex < nx < lex and rmx < lmx  # subject's right eye is on the image's left
    assert max(rey, ley) < ny < min(rmy, lmy)  # eyes above nose above mouth


def test_blank_and_noise_frames_have_no_faces(detector: FaceDetector) -> None:
    rng = np.random.default_rng(0)
    frames = np.stack(
        [
            np.zeros((360, 640, 3), np.uint8),
            np.full((360, 640, 3), 255, np.uint8),
            rng.integers(0, 256, (360, 640, 3), dtype=np.uint8),
        ]
    )
    assert detector.detect(frames) == [[], [], []]


def test_half_size_frame_gives_half_coordinates(
    detector: FaceDetector, astronaut: np.ndarray, astronaut_face: FaceDetection
) -> None:
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    (face,) = detector.detect(half[None])[0]
    assert iou(face.box, astronaut_face.box / 2) >= 0.85
    # The network itself moves points by a few pixels between scales (mouth corners most: 3.3 px
    # measured); a mapping bug would be off by tens of pixels.
    assert np.abs(face.landmarks - astronaut_face.landmarks / 2).max() < 4.0
    np.testing.assert_allclose(face.landmarks[:2, 0], astronaut_face.landmarks[:2, 0] / 2, atol=1.0)


def test_max_side_maps_back_to_input_pixels(detector: FaceDetector, astronaut: np.ndarray) -> None:
    small = FaceDetector(FaceConfig(), max_side_px=256)
    (face,) = small.detect(astronaut[None])[0]
    # Same network input as detecting on a 256 px copy, so exactly twice that copy's coordinates.
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    (ref,) = detector.detect(half[None])[0]
    np.testing.assert_allclose(face.box, ref.box * 2, atol=1e-3)
    np.testing.assert_allclose(face.landmarks, ref.landmarks * 2, atol=1e-3)
    assert face.score == pytest.approx(ref.score)


def test_non_square_frame_keeps_x_and_y_apart(detector: FaceDetector, astronaut: np.ndarray) -> None:
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    (ref,) = detector.detect(half[None])[0]
    frame = np.zeros((360, 640, 3), np.uint8)
    ox, oy = 320, 64  # multiples of the coarsest stride (32): the network is then shift-equivariant
    frame[oy : oy + 256, ox : ox + 256] = half
    (face,) = detector.detect(frame[None])[0]
    offset = np.array([ox, oy], np.float32)
    assert iou(face.box, ref.box + np.tile(offset, 2)) >= 0.98
    assert np.abs(face.landmarks - (ref.landmarks + offset)).max() < 0.5


def test_batches_and_mixed_sizes_match_single_frames(detector: FaceDetector, astronaut: np.ndarray) -> None:
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    blank = np.zeros_like(astronaut)
    small = cv2.resize(astronaut, (300, 200), interpolation=cv2.INTER_AREA)
    frames = [astronaut, small, blank, flipped, astronaut]
    batched = FaceDetector(FaceConfig(), max_batch=8).detect(frames)  # 512 px frames share one run
    singles = [detector.detect(f[None])[0] for f in frames]
    assert [len(faces) for faces in batched] == [1, 1, 0, 1, 1]
    for got, want in zip(batched, singles, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g.box, w.box, atol=1e-3)
            np.testing.assert_allclose(g.landmarks, w.landmarks, atol=1e-3)
    # The mirrored face is mirrored in the output: its box spans 512 - x1 .. 512 - x0.
    a, f = batched[0][0].box, batched[3][0].box
    assert iou(f, np.array([512 - a[2], a[1], 512 - a[0], a[3]])) >= 0.9


@pytest.mark.parametrize(
    "cfg", [FaceConfig(min_face_px=200), FaceConfig(score_threshold=0.99999)], ids=["min_face", "score"]
)
def test_filters_drop_the_face(cfg: FaceConfig, astronaut: np.ndarray) -> None:
    assert FaceDetector(cfg).detect(astronaut[None]) == [[]]


def test_bad_input_is_rejected_with_the_expected_shape(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match=r"uint8\[B, H, W, 3\]"):
        detector.detect(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        detector.detect([np.zeros((64, 64, 3), np.float32)])


def test_colour_order_is_what_the_network_was_trained_on(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    # At 128 px the face scores 0.97 with BGR input and 0.56 with RGB (measured): a regression to the
    # wrong channel order drops it below the 0.8 default threshold.
    tiny = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    faces = detector.detect(tiny[None])[0]
    assert len(faces) == 1 and faces[0].score > 0.95
