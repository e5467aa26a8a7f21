"""Training loss robust to a missing modality (Liu & Tang 2021 name such a loss; this is its form here).

For each dimension d in {arousal, valence}, with V the valid steps (``valid`` and gold not NaN),
F = V ∩ {face present} and A = V ∩ {audio present}:

    L = sum_d [ (1 - CCC_V(fused_d, gold_d))
                + lambda * ( (1 - CCC_F(face_only_d, gold_d)) + (1 - CCC_A(audio_only_d, gold_d)) ) ]

CCC_S is Lin's CCC pooled over the steps S of the whole batch (``ccc_torch``). The unimodal terms train
the same temporal model and head on one modality at a time, which is the path inference takes when the
other one is missing. A term whose CCC is undefined (fewer than 2 steps in its set, or a zero
denominator) contributes 0 and no gradient, so a batch without any face still trains the audio path.
Range: 0 (perfect) .. 4 * (1 + 2 * lambda), each 1 - CCC being in [0, 2].
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from emotrace.model.ccc import ccc_torch
from emotrace.model.fused import ModelOutput


class LossTerms(NamedTuple):
    """total: 0-d loss; fused_ccc, face_ccc, audio_ccc: float[2] as (arousal, valence), NaN if undefined
    (detached: for logging)."""

    total: torch.Tensor
    fused_ccc: torch.Tensor
    face_ccc: torch.Tensor
    audio_ccc: torch.Tensor


def _one_minus_ccc(
    pred: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    c = ccc_torch(pred, gold, mask)
    # where() sends zero gradient to the branch it does not select, and ccc_torch's NaN carries none.
    term = torch.where(torch.isnan(c), torch.zeros_like(c), 1.0 - c)
    return term, c.detach()


class MissingModalityCCCLoss(nn.Module):
    """``L`` of the module docstring. ``unimodal_weight`` is lambda (0 disables the unimodal terms)."""

    def __init__(self, unimodal_weight: float = 0.5) -> None:
        super().__init__()
        if unimodal_weight < 0:
            raise ValueError(f"unimodal_weight must be >= 0, got {unimodal_weight}")
        self.unimodal_weight = unimodal_weight

    def terms(
        self,
        out: ModelOutput,
        gold: torch.Tensor,
        valid: torch.Tensor,
        face_mask: torch.Tensor,
        audio_mask: torch.Tensor,
    ) -> LossTerms:
        """out: model output for [B, W]; gold: float[B, W, 2] as (arousal, valence) in [-1, 1], NaN where
        unlabelled; valid, face_mask, audio_mask: bool[B, W]."""
        if gold.shape != (*valid.shape, 2):
            raise ValueError(
                f"gold must be [B, W, 2] matching valid {list(valid.shape)}; got {list(gold.shape)}"
            )
        if self.unimodal_weight > 0 and (out.face_only is None or out.audio_only is None):
            raise ValueError(
                "the unimodal loss terms need the model's unimodal rows: call it with unimodal=True"
            )
        fused = torch.stack([out.arousal, out.valence], dim=-1)
        total = gold.new_zeros(())
        cs: dict[str, list[torch.Tensor]] = {"fused": [], "face": [], "audio": []}
        for d in range(2):
            g = gold[..., d]
            term, c = _one_minus_ccc(fused[..., d], g, valid)
            total = total + term
            cs["fused"].append(c)
            if self.unimodal_weight > 0:
                assert out.face_only is not None and out.audio_only is not None
                t_face, c_face = _one_minus_ccc(out.face_only[..., d], g, valid & face_mask)
                t_audio, c_audio = _one_minus_ccc(out.audio_only[..., d], g, valid & audio_mask)
                total = total + self.unimodal_weight * (t_face + t_audio)
            else:
                c_face = c_audio = torch.full_like(c, float("nan"))
            cs["face"].append(c_face)
            cs["audio"].append(c_audio)
        return LossTerms(
            total=total,
            fused_ccc=torch.stack(cs["fused"]),
            face_ccc=torch.stack(cs["face"]),
            audio_ccc=torch.stack(cs["audio"]),
        )

    def forward(
        self,
        out: ModelOutput,
        gold: torch.Tensor,
        valid: torch.Tensor,
        face_mask: torch.Tensor,
        audio_mask: torch.Tensor,
    ) -> torch.Tensor:
        """0-d loss; arguments as in ``terms``."""
        return self.terms(out, gold, valid, face_mask, audio_mask).total
