"""Temporal models over a window of fused steps: [B, W, C] -> [B, W, C_out].

Two kinds, picked by ``ModelConfig.temporal``:

* ``"gru"`` (default): one bidirectional GRU layer. Every step sees the whole window in both
  directions (5 s at 25 x 0.2 s), which is what lets a step with neither face nor voice still get a
  prediction from its neighbours. On 25 steps it costs well under a millisecond per window.
* ``"tcn"``: two non-causal dilated 1-D convolutions (kernel 5, dilations 1 and 2; receptive field
  13 steps = 2.6 s) with residual connections. Cheaper to export and parallel in time; offered for
  comparison once training lands.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

TemporalKind = Literal["gru", "tcn"]


class BiGRUTemporal(nn.Module):
    """One bidirectional GRU layer. Output: float32[B, W, 2 * hidden]."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(in_dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float32[B, W, in_dim]."""
        y, _ = self.gru(x)
        return y


class TCNTemporal(nn.Module):
    """Two residual dilated conv blocks over time. Output: float32[B, W, hidden]."""

    def __init__(self, in_dim: int, hidden: int, kernel: int = 5, dropout: float = 0.0) -> None:
        super().__init__()
        self.inp = nn.Conv1d(in_dim, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(hidden, hidden, kernel, padding=dilation * (kernel // 2), dilation=dilation),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            for dilation in (1, 2)
        )
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float32[B, W, in_dim]."""
        h = self.inp(x.transpose(1, 2))
        for block in self.blocks:
            h = h + block(h)
        return h.transpose(1, 2)


def build_temporal(kind: TemporalKind, in_dim: int, hidden: int, dropout: float = 0.0) -> nn.Module:
    """The temporal model named by ``kind``; it has an ``out_dim`` attribute."""
    if kind == "gru":
        return BiGRUTemporal(in_dim, hidden)
    if kind == "tcn":
        return TCNTemporal(in_dim, hidden, dropout=dropout)
    raise ValueError(f"unknown temporal kind {kind!r}; use 'gru' or 'tcn'")
