"""Fixtures for model tests: tiny configs and synthetic windows. CUDA params skip without a GPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from emotrace.model.config import ModelConfig
from emotrace.model.fused import FusedEmotionModel

# Small enough that a forward/backward on a few windows takes milliseconds on 2 CPU cores.
TINY: dict[str, Any] = {
    "crop_size_px": 32,
    "face_channels": (8, 16, 16, 16, 16),
    "face_dim": 16,
    "audio_hidden": 16,
    "audio_dim": 16,
    "hidden": 16,
    "attention_hidden": 8,
    "temporal_hidden": 16,
    "window_steps": 10,
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_cuda") is not None and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")


Batch = dict[str, np.ndarray]


@pytest.fixture
def tiny() -> dict[str, Any]:
    """ModelConfig overrides for a tiny, fast model (32 px crops)."""
    return dict(TINY)


@pytest.fixture
def tiny_model() -> Callable[..., FusedEmotionModel]:
    """tiny_model(d=6, seed=0, **overrides) -> a tiny FusedEmotionModel in eval mode."""

    def _build(d: int = 6, seed: int = 0, **overrides: Any) -> FusedEmotionModel:
        torch.manual_seed(seed)
        return FusedEmotionModel(ModelConfig(n_audio_features=d, **{**TINY, **overrides})).eval()

    return _build


@pytest.fixture
def make_batch() -> Callable[..., Batch]:
    """make_batch(b, w, s, d, seed, face_frac, audio_frac) -> numpy arrays shaped as the model wants."""

    def _make(
        b: int = 3,
        w: int = 10,
        s: int = 32,
        d: int = 6,
        seed: int = 0,
        face_frac: float = 0.7,
        audio_frac: float = 0.7,
    ) -> Batch:
        rng = np.random.default_rng(seed)
        face_mask = rng.random((b, w)) < face_frac
        faces = rng.integers(0, 256, (b, w, s, s, 3), dtype=np.uint8)
        faces[~face_mask] = 0  # as the pipeline pads
        return {
            "faces": faces,
            "face_mask": face_mask,
            "audio": rng.normal(size=(b, w, d)).astype(np.float32),
            "audio_mask": rng.random((b, w)) < audio_frac,
        }

    return _make


@pytest.fixture
def to_torch() -> Callable[..., dict[str, torch.Tensor]]:
    """to_torch(batch, device="cpu") -> the same dict as torch tensors on ``device``."""

    def _convert(batch: Batch, device: str = "cpu") -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}

    return _convert
