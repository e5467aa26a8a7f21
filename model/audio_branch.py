"""Audio branch: per-step hand-crafted acoustic descriptors -> per-step embedding.

The descriptors (eGeMAPS-like summaries, D of them, names stored in the bundle) are computed by
``emotrace.features``; this module sees them already normalised (z-scored by ``FusedEmotionModel``
with the statistics the bundle carries). Temporal context is added later, after fusion, so this
branch is a plain per-step MLP.
"""

from __future__ import annotations

import torch
from torch import nn


class AudioBranch(nn.Module):
    """MLP over per-step descriptors.

    Input: float32[..., D] normalised descriptors (finite; the caller zeroes NaN and missing steps).
    Output: float32[..., embed_dim] (non-negative: ends in a ReLU, like the face branch, so both
    embeddings live on the same scale before fusion).
    """

    def __init__(self, n_features: int, embed_dim: int = 64, hidden: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"the audio branch needs at least one descriptor; got n_features={n_features}")
        self.n_features = n_features
        self.embed_dim = embed_dim
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            # LayerNorm (not BatchNorm): statistics per step, so padded or missing steps in a batch never
            # shift the normalisation of real ones.
            nn.LayerNorm(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, embed_dim),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float32[..., D] -> float32[..., embed_dim]."""
        return self.net(x)
