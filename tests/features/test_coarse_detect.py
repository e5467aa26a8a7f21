"""The ROI path's coarse detector (issue 16): RetinaFace without its stride-8 level for faces of 64 px or
more, a third less work per ROI, and the same boxes, landmarks and crops as the whole network."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import emotrace.features.zoom as zoom
from emotrace.datasets import face_composites as fc
from emotrace.datasets.sample_posts import talking_head_frames
from emotrace.features.face_backends import OnnxRuntimeRunner, weights_bytes, without_finest_level
from emotrace.features.faces import FaceDetector
from emotrace.features.roi_detect import RoiFaceDetector
from emotrace.schemas.config import FaceConfig
from tests.features.realdata import require_realdata


def coarse_frames(kw: dict[str, object], n_frames: int) -> int:
    """How many of a ``detect`` call's frames were asked for coarsely (``coarse``: a flag or one each)."""
    flags = kw.get("coarse", False)
    if isinstance(flags, bool):
        return n_frames if flags else 0
    return sum(map(bool, flags))  # type: ignore[call-overload]


def test_the_coarse_graph_gives_the_whole_networks_outputs_for_its_two_levels() -> None:
    full = weights_bytes(None)
    coarse = without_finest_level(full)
    assert coarse is not None and len(coarse) < len(full)
    x = (np.random.default_rng(0).random((2, 3, 192, 224)) * 255 - 117).astype(np.float32)
    finest = (192 // 8) * (224 // 8) * 2  # stride-8 anchors, two sizes per cell: first in the outputs
    for whole, part in zip(OnnxRuntimeRunner(full)(x), OnnxRuntimeRunner(coarse)(x), strict=True):
        assert part.shape[1] == whole.shape[1] - finest
        np.testing.assert_array_equal(part, whole[:, finest:])


def test_a_graph_laid_out_otherwise_gets_no_coarse_graph() -> None:
    # One output straight from a Conv: no per-level Concat to take the finest level out of.
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("loc", "conf", "landmarks")]
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 3, 1, 1], [1.0, 1.0, 1.0])
    nodes = [helper.make_node("Conv", ["input", "w"], [name]) for name in ("loc", "conf", "landmarks")]
    model = helper.make_model(helper.make_graph(nodes, "flat", [x], outs, [w]))
    assert without_finest_level(model.SerializeToString()) is None
    assert without_finest_level(onnx.load_from_string(weights_bytes(None)).SerializeToString()) is not None


def test_real_faces_of_64_px_and_more_get_the_same_detection_from_the_coarse_graph(
    detector: FaceDetector,
) -> None:
    heads = fc.pick_heads(require_realdata(), 24, seed=16, detector=detector)
    compared = 0
    for i, head in enumerate(heads):
        w, h = head.face[2] - head.face[0], head.face[3] - head.face[1]
        for longer in (64, 80, 96, 120):  # the face box's longer side on the canvas
            small = fc.scaled(head, longer * min(w, h) / max(w, h))  # scaled() sets the shorter side
            canvas = np.empty((192, 192, 3), np.uint8)
            canvas[:] = (123, 117, 104)
            face_w = small.face[2] - small.face[0]
            face_h = small.face[3] - small.face[1]
            fc.paste(canvas, small, 96 - face_w / 2 + (i % 5 - 2), 96 - face_h / 2 + (i % 3 - 1))
            whole = detector.detect([canvas])[0]
            coarse = detector.detect([canvas], coarse=True)[0]
            if not whole:
                continue
            compared += 1
            assert coarse, (head.source, longer)
            np.testing.assert_array_equal(coarse[0].box, whole[0].box)
            np.testing.assert_array_equal(coarse[0].landmarks, whole[0].landmarks)
    assert compared >= 80  # nearly every face is found on its canvas


def test_the_roi_path_uses_the_coarse_graph_for_large_faces_and_crops_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = list(talking_head_frames(40, 5.0, np.random.default_rng(3), 854, 480))
    calls = {"coarse": 0, "whole": 0}
    detect = FaceDetector.detect

    def counted(self: FaceDetector, frames: list[np.ndarray], **kw: object) -> object:
        n = coarse_frames(kw, len(frames))
        calls["coarse"] += n
        calls["whole"] += len(frames) - n
        return detect(self, frames, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(FaceDetector, "detect", counted)
    cfg = FaceConfig()

    def faces(threshold: float) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        monkeypatch.setattr(zoom, "COARSE_FACE_PX", threshold)
        roi = RoiFaceDetector(FaceDetector(cfg), cfg, (854, 480))
        return [[(f.box, f.landmarks) for f in found] for found in roi.detect(frames, range(len(frames)))]

    with_coarse = faces(72.0)
    assert calls["coarse"] >= 30  # the ROIs between full-frame passes (every 10th step) went coarse
    calls.update(coarse=0, whole=0)
    without = faces(float("inf"))
    assert calls["coarse"] == 0
    assert sum(map(len, with_coarse)) == len(frames)  # one face per frame, found each time
    for a, b in zip(with_coarse, without, strict=True):
        assert len(a) == len(b)
        for (box_a, pts_a), (box_b, pts_b) in zip(a, b, strict=True):
            np.testing.assert_array_equal(box_a, box_b)
            np.testing.assert_array_equal(pts_a, pts_b)


def test_a_small_face_is_looked_for_with_the_whole_network(
    detector: FaceDetector, astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    detect = FaceDetector.detect

    def spy(self: FaceDetector, frames: list[np.ndarray], **kw: object) -> object:
        seen.append(coarse_frames(kw, len(frames)) > 0)
        return detect(self, frames, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(FaceDetector, "detect", spy)
    frame = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # the face ~25 x 30 px
    box = np.array([44.0, 14.0, 68.0, 44.0])
    found = zoom.look_again(detector, frame, [box], 192, 8.0)
    assert found[0] is not None and seen == [False]


def test_one_call_mixes_coarse_and_whole_frames_in_input_order(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    big = np.ascontiguousarray(astronaut[20:250, 110:340])  # the face at ~95 x 120 px
    small = np.ascontiguousarray(astronaut[::4, ::4])  # the face at ~24 x 30 px, another size
    mixed = detector.detect([big, small, big], coarse=[True, False, False])
    assert [len(f) for f in mixed] == [1, 1, 1]
    np.testing.assert_array_equal(mixed[0][0].box, detector.detect([big], coarse=True)[0][0].box)
    np.testing.assert_array_equal(mixed[1][0].box, detector.detect([small])[0][0].box)
    np.testing.assert_array_equal(mixed[2][0].box, detector.detect([big])[0][0].box)
    with pytest.raises(ValueError, match="coarse flags"):
        detector.detect([big, small], coarse=[True])
