"""``FusedEmotionModel``: face crops + acoustic descriptors per step -> arousal/valence per step.

    faces uint8[B, W, S, S, 3] --(masked-in crops only)--> ImprovedAlexNet --> h_face [B, W, Df]
    audio float32[B, W, D] --z-score (bundle stats)--> AudioBranch ---------> h_audio [B, W, Da]
    (h_face, h_audio, masks) --> AttentionFusion --> fused [B, W, 2H], weights [B, W, 2]
    [fused ; face_mask ; audio_mask] --> temporal (BiGRU | TCN) --> dropout --> linear --> tanh

The unimodal predictions (``face_only``, ``audio_only``) run the *same* temporal model and head on the
face-only and audio-only inputs, i.e. exactly what the fused path computes when the other modality is
missing (attention then puts weight 1 on the present one). Training them (``MissingModalityCCCLoss``)
therefore trains the path that inference takes on silent or face-less steps.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn

from emotrace.model.alexnet import ImprovedAlexNet
from emotrace.model.audio_branch import AudioBranch
from emotrace.model.config import ModelConfig
from emotrace.model.fusion import AttentionFusion
from emotrace.model.temporal import build_temporal

__all__ = ["FusedEmotionModel", "ModelConfig", "ModelOutput"]


class ModelOutput(NamedTuple):
    """arousal, valence: float32[B, W] in [-1, 1]; attention: float32[B, W, 2, 2] as (dimension: arousal,
    valence) x (modality: face, audio), each pair summing to 1 where any modality is present and (0, 0)
    where none is (the two pairs are equal for a model with one shared pair); face_only, audio_only:
    float32[B, W, 2] as (arousal, valence) from one modality alone (meaningful only where that modality
    is present); None when ``forward`` was called with ``unimodal=False``."""

    arousal: torch.Tensor
    valence: torch.Tensor
    attention: torch.Tensor
    face_only: torch.Tensor | None
    audio_only: torch.Tensor | None


class FusedEmotionModel(nn.Module):
    """Bimodal (face + voice) arousal/valence regressor over windows of grid steps."""

    audio_mean: torch.Tensor
    audio_std: torch.Tensor
    face_scale: torch.Tensor
    face_shift: torch.Tensor

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.face = ImprovedAlexNet(
            embed_dim=cfg.face_dim,
            channels=cfg.face_channels,
            first_kernel=cfg.face_first_kernel,
            dropout=cfg.dropout,
        )
        self.audio = AudioBranch(cfg.n_audio_features, cfg.audio_dim, cfg.audio_hidden, cfg.dropout)
        self.fusion = AttentionFusion(
            cfg.face_dim,
            cfg.audio_dim,
            cfg.hidden,
            cfg.attention_hidden,
            kind=cfg.fusion,
            per_dimension=cfg.attention_per_dimension,
        )
        # +2: the modality flags, so the temporal model can tell "no evidence" from "neutral evidence".
        self.temporal = build_temporal(
            cfg.temporal, self.fusion.out_dim + 2, cfg.temporal_hidden, cfg.dropout
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(self.temporal.out_dim, 2)

        # Data-derived, so persistent: they travel in the state dict (and hence the bundle).
        self.register_buffer("audio_mean", torch.zeros(cfg.n_audio_features))
        self.register_buffer("audio_std", torch.ones(cfg.n_audio_features))
        # Derived from the config, so not persistent: (x / 255 - mean) / std folded into x * scale + shift.
        mean = torch.tensor(cfg.face_mean_rgb).view(1, 3, 1, 1)
        std = torch.tensor(cfg.face_std_rgb).view(1, 3, 1, 1)
        self.register_buffer("face_scale", 1.0 / (255.0 * std), persistent=False)
        self.register_buffer("face_shift", -mean / std, persistent=False)

    @torch.no_grad()
    def set_audio_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the descriptor z-score statistics (float32[D] each), e.g. from the training set."""
        if mean.shape != self.audio_mean.shape or std.shape != self.audio_std.shape:
            raise ValueError(f"audio stats must have shape {tuple(self.audio_mean.shape)}")
        if not bool((std > 0).all()):
            raise ValueError("audio std must be > 0 everywhere; floor constant descriptors (e.g. at 1e-6)")
        self.audio_mean.copy_(mean)
        self.audio_std.copy_(std)

    def for_inference(self) -> FusedEmotionModel:
        """An eval-mode copy with the face CNN's BatchNorms folded into its convs (same outputs to
        float rounding, less CPU). For serving only: its state dict no longer matches the bundle's."""
        if self.training:
            raise ValueError("for_inference needs a model in eval mode: call model.eval() (build_model does)")
        served = copy.deepcopy(self)
        served.face.fold_batchnorm()
        return served

    def encode_faces(self, faces: torch.Tensor, face_mask: torch.Tensor) -> torch.Tensor:
        """faces: uint8 or float[B, W, S, S, 3] on the 0..255 scale; face_mask: bool[B, W].

        Returns float32[B, W, face_dim], zero where ``face_mask`` is False. Only masked-in crops go
        through the CNN: most windows have gaps, and the CNN is most of the model's cost.
        """
        b, w = face_mask.shape
        out = torch.zeros(b, w, self.cfg.face_dim, device=face_mask.device, dtype=torch.float32)
        if not bool(face_mask.any()):
            return out
        crops = faces[face_mask]  # [N, S, S, 3]
        # HWC -> CHW by permute only: the result is a channels-last view, which the CPU conv kernels run
        # ~1.7x faster than a contiguous NCHW copy. .float() and the affine map keep that layout.
        x = crops.permute(0, 3, 1, 2).float() * self.face_scale + self.face_shift
        out[face_mask] = self.face(x)
        return out

    def encode_audio(self, audio: torch.Tensor, audio_mask: torch.Tensor) -> torch.Tensor:
        """audio: float32[B, W, D] raw descriptors; audio_mask: bool[B, W] -> float32[B, W, audio_dim]."""
        clip = self.cfg.audio_clip
        x = (audio.float() - self.audio_mean) / self.audio_std
        # Descriptors can be NaN (e.g. F0 on unvoiced steps): NaN -> the training mean (0 after z-scoring).
        x = torch.nan_to_num(x, nan=0.0, posinf=clip, neginf=-clip).clamp(-clip, clip)
        x = x * audio_mask.unsqueeze(-1).to(x.dtype)
        return self.audio(x)

    def _check_inputs(
        self,
        faces: torch.Tensor | None,
        face_mask: torch.Tensor,
        audio: torch.Tensor,
        audio_mask: torch.Tensor,
    ) -> None:
        """Shapes and dtypes of one batch; ``faces`` None: not checked (embeddings given instead)."""
        if face_mask.dim() != 2 or face_mask.dtype != torch.bool:
            raise ValueError(f"face_mask must be bool[B, W]; got {face_mask.dtype}{list(face_mask.shape)}")
        b, w = face_mask.shape
        s, d = self.cfg.crop_size_px, self.cfg.n_audio_features
        if faces is not None and tuple(faces.shape) != (b, w, s, s, 3):
            raise ValueError(
                f"faces must be [B, W, {s}, {s}, 3] (this model's crop_size_px is {s}); "
                f"got {list(faces.shape)}"
            )
        if tuple(audio.shape) != (b, w, d):
            raise ValueError(
                f"audio must be [B, W, {d}] (the bundle's feature count); got {list(audio.shape)}"
            )
        if tuple(audio_mask.shape) != (b, w) or audio_mask.dtype != torch.bool:
            raise ValueError(
                f"audio_mask must be bool[{b}, {w}]; got {audio_mask.dtype}{list(audio_mask.shape)}"
            )

    def forward(
        self,
        faces: torch.Tensor,
        face_mask: torch.Tensor,
        audio: torch.Tensor,
        audio_mask: torch.Tensor,
        unimodal: bool = True,
        face_embeddings: torch.Tensor | None = None,
    ) -> ModelOutput:
        """faces: uint8[B, W, S, S, 3] RGB (float accepted, same 0..255 scale); face_mask: bool[B, W];
        audio: float32[B, W, D] unnormalised descriptors; audio_mask: bool[B, W]. See ``ModelOutput``.

        ``unimodal=False`` skips the face-only and audio-only rows (the loss needs them, inference does
        not): the temporal model then runs on B rows instead of 3B. ``face_embeddings``: float32[B, W,
        face_dim], the face CNN's outputs computed beforehand (inference reuses the CNN's output for
        crops that overlapping windows share, ``model/face_memo.py``; training with a frozen face branch,
        ``model.fusion_train``); ``faces`` is then not read."""
        self._check_inputs(faces if face_embeddings is None else None, face_mask, audio, audio_mask)
        b, w = face_mask.shape
        if face_embeddings is None:
            h_face = self.encode_faces(faces, face_mask)
        else:
            if tuple(face_embeddings.shape) != (b, w, self.cfg.face_dim):
                raise ValueError(
                    f"face_embeddings must be [B, W, {self.cfg.face_dim}]; got {list(face_embeddings.shape)}"
                )
            h_face = face_embeddings * face_mask.unsqueeze(-1).to(face_embeddings.dtype)
        h_audio = self.encode_audio(audio, audio_mask)
        fo = self.fusion(h_face, h_audio, face_mask, audio_mask)

        fm = face_mask.unsqueeze(-1).to(fo.fused.dtype)
        am = audio_mask.unsqueeze(-1).to(fo.fused.dtype)
        # Fused (one sequence per dimension with per-dimension attention), face-only and audio-only
        # sequences in one temporal call: one GRU launch instead of several, and the unimodal rows are
        # exactly what the fused path sees when a modality is absent (weights (1, 0) and (0, 1)).
        per_dim = self.fusion.n_sets == 2
        fused_seqs = [fo.fused[..., 0, :], fo.fused[..., 1, :]] if per_dim else [fo.fused]
        rows = [torch.cat([f, fm, am], dim=-1) for f in fused_seqs]
        n_fused = len(rows)
        if unimodal:
            none = torch.zeros_like(fm)
            only_face = torch.cat([torch.ones_like(fm), none], dim=-1)
            only_audio = torch.cat([none, torch.ones_like(fm)], dim=-1)
            rows += [
                torch.cat([self.fusion.combine(fo.z_face, fo.z_audio, only_face), fm, none], dim=-1),
                torch.cat([self.fusion.combine(fo.z_face, fo.z_audio, only_audio), none, am], dim=-1),
            ]
        y = torch.tanh(self.head(self.dropout(self.temporal(torch.cat(rows, dim=0)))))  # [(n_fused+2)B, W, 2]
        arousal = y[:b, :, 0]
        valence = y[(n_fused - 1) * b : n_fused * b, :, 1]
        u = n_fused * b
        return ModelOutput(
            arousal=arousal,
            valence=valence,
            attention=fo.weights if per_dim else fo.weights.unsqueeze(-2).expand(b, -1, 2, 2),
            face_only=y[u : u + b] if unimodal else None,
            audio_only=y[u + b :] if unimodal else None,
        )


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
