"""``predict_windows``: numpy windows in, numpy predictions out. What the Beam ModelHandler calls."""

from __future__ import annotations

import numpy as np
import torch

from emotrace.model.fused import FusedEmotionModel


def predict_windows(
    model: FusedEmotionModel,
    faces: np.ndarray,
    face_mask: np.ndarray,
    audio: np.ndarray,
    audio_mask: np.ndarray,
    face_embeddings: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``model`` on a batch of windows on the model's device.

    faces: uint8[B, W, S, S, 3] RGB crops; face_mask: bool[B, W]; audio: float32[B, W, D] raw
    descriptors; audio_mask: bool[B, W]; face_embeddings: the face CNN's output for these crops when
    already known (``model.face_memo.FaceEmbeddingMemo``), float32[B, W, face_dim] on the model's device.
    Returns (arousal float32[B, W], valence float32[B, W], attention float32[B, W, 2, 2] as (arousal,
    valence) x (face, audio)).
    """
    if model.training:
        # Dropout and batch statistics would make outputs random and batch-dependent.
        raise ValueError("predict_windows needs a model in eval mode: call model.eval() (build_model does)")
    device = next(model.parameters()).device
    # torch.from_numpy shares memory: no copy on CPU. inference_mode skips autograd bookkeeping.
    with torch.inference_mode():
        out = model(
            torch.from_numpy(np.ascontiguousarray(faces)).to(device),
            torch.from_numpy(np.asarray(face_mask, dtype=bool)).to(device),
            torch.from_numpy(np.asarray(audio, dtype=np.float32)).to(device),
            torch.from_numpy(np.asarray(audio_mask, dtype=bool)).to(device),
            unimodal=False,
            face_embeddings=face_embeddings,
        )
    return (
        out.arousal.float().cpu().numpy(),
        out.valence.float().cpu().numpy(),
        out.attention.float().cpu().numpy(),
    )
