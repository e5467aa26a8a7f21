"""``ModelBundle``: weights + architecture + preprocessing + provenance, as one file.

The file is ``torch.save`` of a dict of builtins and tensors only, so ``torch.load(weights_only=True)``
reads it (no pickled code runs on load) and no TorchScript is involved (deprecated in torch 2.14).
``save_bundle``/``load_bundle`` accept a path or a binary file object: the Beam layer opens ``gs://``
URIs with ``FileSystems.open`` and passes the stream; this module never imports Beam.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import torch

from emotrace.model.config import ModelConfig
from emotrace.model.fused import FusedEmotionModel
from emotrace.schemas.config import AnalyzeConfig, FaceConfig, GridConfig
from emotrace.schemas.preprocessing import Preprocessing

FORMAT = "emotrace-model-bundle"
FORMAT_VERSION = 1
UNTRAINED_PREFIX = "untrained-demo-"

PathOrFile = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to rebuild and feed the model.

    version: shown in every trace row (``model_version``); untrained bundles start with
        ``untrained-demo-`` so no output can pass for a trained model's.
    config: ``ModelConfig.to_dict()``.
    state_dict: the model's state dict (CPU tensors), including the ``audio_mean``/``audio_std`` buffers.
    audio_feature_names: the D descriptor names, in the order the model's audio input expects.
    preprocessing: what the pipeline must produce for this model (grid, frame rate, decode size, crop,
        audio rate and hop), recorded from the config its training features were made with.
    training_fingerprint: identifies the training data/code/run; None for untrained bundles.
    metrics: evaluation results, e.g. {"dev_ccc_arousal": 0.7}; empty when untrained.
    provenance: what the weights were trained on: ``{"corpora": [{"name", "folder", "licence",
        "citation", "use"}, ...], "weights_licence": ...}`` (empty for synthetic or older bundles).
    """

    version: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    audio_feature_names: tuple[str, ...]
    preprocessing: Preprocessing
    training_fingerprint: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "audio_feature_names", tuple(self.audio_feature_names))
        n = self.model_config.n_audio_features
        if len(self.audio_feature_names) != n:
            raise ValueError(
                f"bundle lists {len(self.audio_feature_names)} audio feature names but the model expects {n}"
            )

    @property
    def model_config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.config)

    @property
    def audio_mean(self) -> np.ndarray:
        """float32[D]: descriptor means the model subtracts (from the state dict)."""
        return self.state_dict["audio_mean"].numpy().astype(np.float32)

    @property
    def audio_std(self) -> np.ndarray:
        """float32[D]: descriptor standard deviations the model divides by (from the state dict)."""
        return self.state_dict["audio_std"].numpy().astype(np.float32)

    @property
    def is_trained(self) -> bool:
        return not self.version.startswith(UNTRAINED_PREFIX)

    def build_model(self, device: str | torch.device = "cpu") -> FusedEmotionModel:
        """A ``FusedEmotionModel`` with these weights, on ``device``, in eval mode."""
        model = FusedEmotionModel(self.model_config)
        model.load_state_dict(self.state_dict, strict=True)
        return model.to(device).eval()


def untrained_preprocessing(cfg: ModelConfig) -> Preprocessing:
    """An untrained bundle's contract: the pipeline's defaults on the model's grid and crop."""
    grid = GridConfig(step_s=cfg.step_s, window_steps=cfg.window_steps)
    faces = dataclasses.replace(FaceConfig(), crop_size_px=cfg.crop_size_px)
    return Preprocessing.of(dataclasses.replace(AnalyzeConfig(), grid=grid, faces=faces))


def _state_dict_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over (name, dtype, shape, raw bytes) in sorted name order: independent of pickling details."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # view as bytes: numpy has no bfloat16, and the digest must not depend on dtype conversions.
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def state_dict_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Public name of the weights' sha256 (trained bundles' versions end in its first 10 hex digits)."""
    return _state_dict_digest(state_dict)


def make_untrained_bundle(
    audio_feature_names: Sequence[str], seed: int = 0, **config_overrides: Any
) -> ModelBundle:
    """A randomly initialised bundle for demos and tests (audio mean 0, std 1).

    Deterministic for a given ``seed``, feature count and config: its version is
    ``untrained-demo-<first 10 hex digits of the state dict's sha256>``. The global RNG is left as it was.
    """
    cfg = ModelConfig(n_audio_features=len(audio_feature_names), **config_overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FusedEmotionModel(cfg)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return ModelBundle(
        version=UNTRAINED_PREFIX + _state_dict_digest(state)[:10],
        config=cfg.to_dict(),
        state_dict=state,
        audio_feature_names=tuple(audio_feature_names),
        preprocessing=untrained_preprocessing(cfg),
        training_fingerprint=None,
        metrics={},
    )


def save_bundle(bundle: ModelBundle, path_or_fileobj: PathOrFile) -> None:
    """Write ``bundle`` as one file (a path, or a binary file object opened for writing)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **{f.name: getattr(bundle, f.name) for f in dataclasses.fields(bundle)},
    }
    payload["audio_feature_names"] = list(bundle.audio_feature_names)
    payload["preprocessing"] = bundle.preprocessing.to_dict()
    payload["state_dict"] = {k: v.detach().cpu() for k, v in bundle.state_dict.items()}
    torch.save(payload, path_or_fileobj)


def load_bundle(path_or_fileobj: PathOrFile) -> ModelBundle:
    """Read a bundle written by ``save_bundle`` (a path, or a binary file object). Tensors come back
    on CPU."""
    if hasattr(path_or_fileobj, "seekable") and not path_or_fileobj.seekable():
        # torch.load needs seek() (the file is a zip); pipes and some remote streams lack it. A bundle is
        # a few MB, so buffering it in memory is cheap.
        path_or_fileobj = io.BytesIO(path_or_fileobj.read())
    try:
        payload = torch.load(path_or_fileobj, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError... for non-bundles
        raise ValueError(f"not a readable emotrace model bundle ({type(e).__name__}: {e})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("not an emotrace model bundle (no 'format' marker); was it written by save_bundle?")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"bundle format_version {payload.get('format_version')} is not supported by this emotrace "
            f"(reads {FORMAT_VERSION}); upgrade emotrace"
        )
    names = {f.name for f in dataclasses.fields(ModelBundle)}
    fields = {k: v for k, v in payload.items() if k in names}
    fields["preprocessing"] = Preprocessing.from_dict(fields["preprocessing"])
    return ModelBundle(**fields)
