"""``ModelConfig``: every hyper-parameter of ``FusedEmotionModel``, frozen and serialisable.

The bundle stores ``ModelConfig.to_dict()`` next to the weights, so a bundle rebuilds exactly the
architecture it was trained with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from emotrace.model.alexnet import DEFAULT_CHANNELS
from emotrace.model.fusion import FusionKind
from emotrace.model.temporal import TemporalKind

# ImageNet statistics: the usual choice when no face-dataset statistics are fixed yet; any per-channel
# affine map works for a network trained from scratch, what matters is that training and inference agree,
# which they do because these travel in the bundle's config.
IMAGENET_MEAN_RGB: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of ``FusedEmotionModel``. Units in names: ``_px`` pixels, ``_s`` seconds.

    ``window_steps`` and ``step_s`` describe the windows the model was built/trained for (the pipeline's
    grid); the network itself accepts any window length W.
    """

    n_audio_features: int  # D: acoustic descriptors per step (names live in the bundle)
    crop_size_px: int = 64  # S: aligned face crops are uint8[S, S, 3] RGB
    face_channels: tuple[int, ...] = DEFAULT_CHANNELS  # widths of the 5 AlexNet conv layers
    face_first_kernel: int = 5
    face_dim: int = 128  # face embedding size
    audio_hidden: int = 128
    audio_dim: int = 64  # audio embedding size
    hidden: int = 64  # shared space that attention fuses in
    attention_hidden: int = 32  # score MLP width
    fusion: FusionKind = "concat"  # how attention combines the modalities (model/fusion.py)
    attention_per_dimension: bool = True  # one weight pair per emotion dimension (model/fusion.py)
    temporal: TemporalKind = "gru"
    temporal_hidden: int = 64  # per direction for the GRU
    window_steps: int = 25
    step_s: float = 0.2
    dropout: float = 0.3
    audio_clip: float = 8.0  # normalised descriptors are clipped to +-this (outliers, silence artefacts)
    face_mean_rgb: tuple[float, float, float] = IMAGENET_MEAN_RGB  # on the 0..1 scale
    face_std_rgb: tuple[float, float, float] = IMAGENET_STD_RGB

    def __post_init__(self) -> None:
        if self.n_audio_features < 1:
            raise ValueError(f"n_audio_features must be >= 1, got {self.n_audio_features}")
        if self.crop_size_px < 16:
            raise ValueError(
                f"crop_size_px must be >= 16 (two stride-2 stages and a pool), got {self.crop_size_px}"
            )
        if len(self.face_channels) != 5:
            raise ValueError(f"face_channels needs 5 widths (one per conv layer), got {self.face_channels}")
        if self.temporal not in ("gru", "tcn"):
            raise ValueError(f"temporal must be 'gru' or 'tcn', got {self.temporal!r}")
        if self.fusion not in ("concat", "sum"):
            raise ValueError(f"fusion must be 'concat' or 'sum', got {self.fusion!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (tuples become lists), safe for ``torch.load(weights_only=True)``."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of ``to_dict``; unknown keys are an error (a bundle from a newer emotrace)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"model config has unknown keys {unknown}: the bundle was written by a newer emotrace; "
                "upgrade emotrace to load it"
            )
        d = dict(d)
        # Bundles written before the field existed used the weighted sum; keep them loadable as they were.
        d.setdefault("fusion", "sum")
        d.setdefault("attention_per_dimension", False)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
