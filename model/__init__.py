"""emotrace.model: the bimodal (face + voice) arousal/valence model. Pure torch + numpy; never imports Beam.

Public API: ``ModelConfig``, ``FusedEmotionModel``, ``ModelOutput``, ``MissingModalityCCCLoss``,
``ccc``/``ccc_torch``, ``ModelBundle`` with ``save_bundle``/``load_bundle``/``make_untrained_bundle``,
and ``predict_windows``. docs/model.md describes the architecture and its choices.
"""

from emotrace.model.bundle import ModelBundle, load_bundle, make_untrained_bundle, save_bundle
from emotrace.model.ccc import ccc, ccc_torch
from emotrace.model.config import ModelConfig
from emotrace.model.fused import FusedEmotionModel, ModelOutput, n_parameters
from emotrace.model.loss import LossTerms, MissingModalityCCCLoss
from emotrace.model.predict import predict_windows

__all__ = [
    "FusedEmotionModel",
    "LossTerms",
    "MissingModalityCCCLoss",
    "ModelBundle",
    "ModelConfig",
    "ModelOutput",
    "ccc",
    "ccc_torch",
    "load_bundle",
    "make_untrained_bundle",
    "n_parameters",
    "predict_windows",
    "save_bundle",
]
