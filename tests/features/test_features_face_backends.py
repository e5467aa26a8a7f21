"""The torch path (onnx2torch) and user-supplied weights give the onnxruntime path's faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotrace.features.face_backends import as_probabilities, resolve_backend, weights_bytes
from emotrace.features.faces import FaceDetector
from emotrace.features.tracking import iou_matrix
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection
from tests.features.crossing_faces import frame_at


@pytest.fixture(scope="module")
def torch_detector() -> FaceDetector:
    return FaceDetector(FaceConfig(), backend="torch", device="cpu", max_batch=4)


def assert_same_faces(got: list[FaceDetection], want: list[FaceDetection], min_iou: float = 0.95) -> None:
    assert len(got) == len(want) > 0
    iou = iou_matrix(np.stack([g.box for g in got]), np.stack([w.box for w in want]))
    # Pair each face with its best match: the order may differ where two scores tie to float precision.
    assert iou.max(axis=1).min() >= min_iou, iou
    assert sorted(g.score for g in got) == pytest.approx(sorted(w.score for w in want), abs=1e-3)


def test_torch_and_onnxruntime_agree_on_the_astronaut(
    torch_detector: FaceDetector, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    (got,) = torch_detector.detect(astronaut[None])
    (want,) = detector.detect(astronaut[None])
    assert_same_faces(got, want)
    np.testing.assert_allclose(got[0].landmarks, want[0].landmarks, atol=0.05)


def test_torch_and_onnxruntime_agree_on_a_batch_of_multi_face_frames(
    torch_detector: FaceDetector, detector: FaceDetector
) -> None:
    frames = np.stack([frame_at(t) for t in (0.0, 1.0, 5.0)])  # three faces each, 640x360
    got, want = torch_detector.detect(frames), detector.detect(frames)
    for g, w in zip(got, want, strict=True):
        assert len(w) == 3
        assert_same_faces(g, w)


def test_weights_from_a_user_file_match_the_packaged_ones(
    tmp_path: Path, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    path = tmp_path / "retinaface.onnx"
    path.write_bytes(weights_bytes(None))
    with open(path, "rb") as f:
        user = FaceDetector(FaceConfig(), weights=f)
    (got,) = user.detect(astronaut[None])
    (want,) = detector.detect(astronaut[None])
    np.testing.assert_allclose(got[0].box, want[0].box, atol=1e-4)


def test_logits_from_a_graph_without_softmax_become_probabilities() -> None:
    probs = np.array([[[0.2, 0.8], [0.9, 0.1]]], np.float32)
    np.testing.assert_allclose(as_probabilities(probs), [[0.8, 0.1]])
    logits = np.log(probs) + 3.0  # what the same scores look like before a softmax
    np.testing.assert_allclose(as_probabilities(logits), [[0.8, 0.1]], atol=1e-6)


def test_backend_choice_is_checked() -> None:
    import torch

    assert resolve_backend("onnxruntime") == "onnxruntime"
    assert resolve_backend("auto") == ("torch" if torch.cuda.is_available() else "onnxruntime")
    with pytest.raises(ValueError, match="face backend"):
        resolve_backend("tensorrt")
    with pytest.raises(ValueError, match="cpu only"):
        FaceDetector(FaceConfig(), backend="onnxruntime", device="cuda")


@pytest.mark.needs_cuda
def test_torch_on_cuda_matches_cpu(detector: FaceDetector, astronaut: np.ndarray) -> None:
    cuda = FaceDetector(FaceConfig(), backend="torch", device="cuda", max_batch=8)
    frames = np.stack([astronaut] * 3)
    for got, want in zip(cuda.detect(frames), detector.detect(frames), strict=True):
        assert_same_faces(got, want)


def test_new_face_modules_load_neither_beam_nor_torch() -> None:
    import subprocess
    import sys

    mods = ["face_backends", "appearance", "face_steps", "track_stats", "faces", "tracking", "windows"]
    mods += ["zoom", "full_frame", "roi_detect"]
    imports = "; ".join(f"import emotrace.features.{m}" for m in mods)
    code = (
        f"import sys; {imports}; print(sorted({{'apache_beam', 'torch', 'onnx2torch'}} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_full_frame_pass_takes_its_input_size_from_the_config(astronaut: np.ndarray) -> None:
    # --face-max-side sizes the pipeline's full-frame pass (features/full_frame.py); a face that is
    # large and sure there is kept exactly as a plain detector at that size finds it.
    from emotrace.features.roi_detect import RoiFaceDetector

    plain = FaceDetector(FaceConfig(), max_side_px=256)
    (want,) = plain.detect(astronaut[None])[0]
    cfg = FaceConfig(detect_max_side_px=256, detect_every_frames=1)
    (got,) = RoiFaceDetector(FaceDetector(FaceConfig()), cfg).detect(astronaut[None])[0]
    np.testing.assert_allclose(got.box, want.box, atol=1e-4)


def test_torch_and_onnxruntime_agree_on_the_coarse_graph(
    torch_detector: FaceDetector, detector: FaceDetector, astronaut: np.ndarray
) -> None:
    """The ROIs of large faces run the graph without its stride-8 level (``detect(coarse=True)``); the
    torch backend converts that copy too."""
    canvas = np.ascontiguousarray(astronaut[20:250, 110:340])  # the face at ~95 x 120 px
    canvas = np.ascontiguousarray(np.pad(canvas, ((0, 26), (0, 26), (0, 0)), constant_values=120))
    (got,) = torch_detector.detect([canvas], coarse=True)
    (want,) = detector.detect([canvas], coarse=True)
    assert_same_faces(got, want)
    np.testing.assert_allclose(got[0].landmarks, want[0].landmarks, atol=0.05)
    (whole,) = detector.detect([canvas])
    np.testing.assert_array_equal(want[0].box, whole[0].box)  # a face this large: the same detection
