"""Multimodal attention fusion of per-step face and audio embeddings.

Per step t (Liu & Tang 2021 give only "multimodal attention"; this is the form chosen, see
docs/model.md):

    z_f = tanh(P_f h_face),  z_a = tanh(P_a h_audio)           # both in a shared space of size H
    [s_f, s_a] = MLP([h_face ; h_audio])                         # scores see both modalities
    s_m = -inf where modality m is missing
    [w_f, w_a] = softmax([s_f, s_a])   (both 0 when both are missing)
    fused = [w_f * z_f ; w_a * z_a]      ("concat", the default: size 2H)
         or  w_f * z_f + w_a * z_a       ("sum": size H, the first demo bundle's form)

so a missing modality gets a weight of exactly 0 (not a small number) and the present one exactly 1.
Why concat: in "sum" both modalities write into the same H channels, so a step where the voice carries
arousal and the face valence has to squeeze both into one mixed vector; the sum bundle's fused output
scored below its own best single modality on each dimension (docs/model.md, Fusion ablation). With
concat the attention still scales each modality's evidence, but each keeps its own channels.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import nn

FusionKind = Literal["concat", "sum"]


class FusionOutput(NamedTuple):
    """fused: float32[B, W, out_dim]; weights: float32[B, W, 2] as (face, audio);
    z_face, z_audio: float32[B, W, H] projected unimodal embeddings (zero where missing)."""

    fused: torch.Tensor
    weights: torch.Tensor
    z_face: torch.Tensor
    z_audio: torch.Tensor


class AttentionFusion(nn.Module):
    """Masked two-way softmax attention over (face, audio)."""

    def __init__(
        self,
        face_dim: int,
        audio_dim: int,
        hidden: int = 64,
        score_hidden: int = 32,
        kind: FusionKind = "concat",
        per_dimension: bool = False,
    ) -> None:
        super().__init__()
        if kind not in ("concat", "sum"):
            raise ValueError(f"fusion kind must be 'concat' or 'sum', got {kind!r}")
        self.hidden = hidden
        self.kind = kind
        self.out_dim = 2 * hidden if kind == "concat" else hidden
        # Per dimension: one (face, audio) weight pair for arousal and one for valence, so the fusion can
        # lean on the voice for arousal and on the face for valence at the same step.
        self.n_sets = 2 if per_dimension else 1
        self.proj_face = nn.Linear(face_dim, hidden)
        self.proj_audio = nn.Linear(audio_dim, hidden)
        # Scores come from both embeddings, so the weight given to the face can depend on what the voice
        # says (e.g. trust audio more when the face embedding looks like an occluded or blurred crop).
        self.score = nn.Sequential(
            nn.Linear(face_dim + audio_dim, score_hidden),
            nn.Tanh(),
            nn.Linear(score_hidden, 2 * self.n_sets),
        )

    def forward(
        self,
        h_face: torch.Tensor,
        h_audio: torch.Tensor,
        face_mask: torch.Tensor,
        audio_mask: torch.Tensor,
    ) -> FusionOutput:
        """h_face: float32[B, W, Df]; h_audio: float32[B, W, Da]; masks: bool[B, W]."""
        fm = face_mask.unsqueeze(-1).to(h_face.dtype)
        am = audio_mask.unsqueeze(-1).to(h_audio.dtype)
        # Zero the missing modality's embedding first: its score input and its projection must not
        # depend on whatever filled the gap (zeros crops, NaN descriptors).
        h_face = h_face * fm
        h_audio = h_audio * am
        z_face = torch.tanh(self.proj_face(h_face)) * fm
        z_audio = torch.tanh(self.proj_audio(h_audio)) * am

        b, w = face_mask.shape
        logits = self.score(torch.cat([h_face, h_audio], dim=-1)).view(b, w, self.n_sets, 2)  # [B, W, K, 2]
        present = torch.stack([face_mask, audio_mask], dim=-1).unsqueeze(-2)  # bool[B, W, 1, 2]
        any_present = present.any(dim=-1, keepdim=True)
        logits = logits.masked_fill(~present, float("-inf"))
        # A step with neither modality would give softmax(-inf, -inf) = NaN, whose gradient poisons the
        # whole batch even behind a torch.where; give it finite logits, then zero its weights below.
        logits = torch.where(any_present, logits, torch.zeros_like(logits))
        weights = torch.softmax(logits, dim=-1) * present.to(logits.dtype)

        fused = self.combine(z_face.unsqueeze(-2), z_audio.unsqueeze(-2), weights)  # [B, W, K, out_dim]
        if self.n_sets == 1:
            fused, weights = fused.squeeze(-2), weights.squeeze(-2)
        return FusionOutput(fused=fused, weights=weights, z_face=z_face, z_audio=z_audio)

    def combine(self, z_face: torch.Tensor, z_audio: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The fused vector for given weights (float[B, W, 2] as (face, audio)). The model also calls it
        with weights (1, 0) and (0, 1) for its face-only and audio-only rows, so those are exactly what
        the fused path computes when the other modality is missing."""
        wf, wa = weights[..., :1], weights[..., 1:]
        if self.kind == "concat":
            return torch.cat([wf * z_face, wa * z_audio], dim=-1)
        return wf * z_face + wa * z_audio
