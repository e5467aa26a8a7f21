"""The fused model under Beam's ``RunInference``: one model per worker process, one batch per element.

``RunInference`` owns model loading and sharing across threads; this handler says how to load a bundle
and how to run one batch of windows. Batches are made where windows are cut (``WindowBatch``, up to
``--batch-size`` windows of one video segment: ``transforms/extract.py``), so the handler skips Beam's
``BatchElements`` (``should_skip_batching``): its last batch of a bundle is emitted from
``finish_bundle``, which Beam's Dask runner drops, and a video's predictions then never depend on the
videos it happened to share a batch with. A batch the model raises on becomes a :class:`BatchFailed`
element on the same output (not a dead-letter output, which the Dask runner cannot separate), and every
video in it an INFERENCE_FAILED row.
"""

from __future__ import annotations

import importlib.resources
import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler

from emotrace.features.acoustics import AUDIO_FEATURE_NAMES
from emotrace.model.bundle import ModelBundle, load_bundle
from emotrace.model.face_memo import FaceEmbeddingMemo
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.predict import predict_windows
from emotrace.schemas.config import AudioConfig
from emotrace.schemas.records import BatchFailed, StepWindow, WindowBatch, WindowPrediction
from emotrace.transforms.worker import configure_worker, settle_worker

log = logging.getLogger("emotrace")


def open_bundle(uri: str | None) -> ModelBundle:
    """The bundle at ``uri`` (any FileSystems scheme), or the built-in default bundle when None, after
    checking that this pipeline's audio extractor makes the descriptors it expects."""
    if uri is None:
        return fits_extractor(default_bundle())
    with FileSystems.open(uri, compression_type="uncompressed") as f:
        return fits_extractor(load_bundle(io.BytesIO(f.read())))


def fits_extractor(bundle: ModelBundle) -> ModelBundle:
    """``bundle``, or ValueError when its audio input is not what ``features.acoustics`` extracts: other
    descriptor names or order, sample rate or hop. The model would read every column as another one."""
    audio = AudioConfig()
    if bundle.audio_feature_names != tuple(AUDIO_FEATURE_NAMES):
        theirs, ours = set(bundle.audio_feature_names), set(AUDIO_FEATURE_NAMES)
        detail = (
            f"missing here {sorted(theirs - ours)}, new here {sorted(ours - theirs)}"
            if theirs != ours
            else "order"
        )
        raise ValueError(
            f"its {len(theirs)} audio feature names differ from this emotrace's {len(ours)} ({detail}): "
            "use a bundle trained with this version's extractor"
        )
    pre = bundle.preprocessing
    if (pre.sample_rate_hz, pre.hop_s) != (audio.sample_rate_hz, audio.hop_s):
        raise ValueError(
            f"its audio descriptors were made at {pre.sample_rate_hz} Hz every {pre.hop_s:g} s; this version "
            f"makes them at {audio.sample_rate_hz} Hz every {audio.hop_s:g} s"
        )
    return bundle


DEFAULT_BUNDLE = "real_bundle.pt"  # `emotrace train --real`: real faces and voices (CC BY-NC-SA 4.0)
DEMO_BUNDLE = "demo_bundle.pt"  # `emotrace train --demo`: the synthetic corpus only (a test fixture)


def default_bundle() -> ModelBundle:
    """The bundle ``analyze`` uses without ``--model``: trained on real faces and voices (``emotrace train
    --real``); its version (``real-cc-by-nc-sa-<hash>``) tells every row what it is and its licence."""
    with (importlib.resources.files("emotrace") / "assets" / DEFAULT_BUNDLE).open("rb") as f:
        return load_bundle(f)


@dataclass
class LoadedModel:
    module: FusedEmotionModel
    version: str
    # CPU only: overlapping windows show each crop several times, and the face CNN is most of the model's
    # CPU. On a GPU the CNN costs less than hashing the crops would.
    face_memo: FaceEmbeddingMemo | None = None


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


_MODELS: dict[tuple[str | None, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


class EmotionModelHandler(ModelHandler[WindowBatch, WindowPrediction | BatchFailed, LoadedModel]):
    def __init__(self, model_uri: str | None, device: str = "auto") -> None:
        super().__init__()
        self._uri = model_uri
        self._device = device

    def should_skip_batching(self) -> bool:
        return True  # each element is a batch already (WindowBatch); see the module docstring

    def load_model(self) -> LoadedModel:
        """The model, loaded once per worker process: RunInference shares it between a DoFn's threads,
        but runners that set DoFns up per bundle (Beam's Dask runner: per partition) would reload it
        for each one."""
        key = (self._uri, self._device)
        with _MODELS_LOCK:
            if key not in _MODELS:
                _MODELS[key] = self._load()
                settle_worker()  # full collections skip torch and the model (transforms/worker.py)
            return _MODELS[key]

    def _load(self) -> LoadedModel:
        bundle = open_bundle(self._uri)
        device = resolve_device(self._device)
        configure_worker(model_on_cpu=device.type == "cpu")  # one torch thread per worker on CPU
        module = bundle.build_model().for_inference().to(device)  # BatchNorm folded: less CPU
        return LoadedModel(module, bundle.version, FaceEmbeddingMemo() if device.type == "cpu" else None)

    def run_inference(
        self,
        batch: WindowBatch,
        model: LoadedModel,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[WindowPrediction | BatchFailed]:
        """The batch's predictions, or one :class:`BatchFailed` naming its videos when the model raises
        (a bad batch must fail its videos, not the job)."""
        windows = batch.windows
        try:
            return predict_batch(windows, model)
        except Exception as err:  # out of memory, a NaN guard, a bug: the rows say what happened
            log.warning(
                "inference failed on a batch of %d windows: %s: %s", len(windows), type(err).__name__, err
            )
            refs = tuple(dict.fromkeys(w.ref for w in windows))  # each video once, in batch order
            return [BatchFailed(refs, f"{type(err).__name__}: {err}")]

    def get_num_bytes(self, batch: WindowBatch) -> int:
        return sum(w.faces.nbytes + w.audio.nbytes for w in batch.windows)  # pickling to count is waste

    def get_metrics_namespace(self) -> str:
        return "emotrace"


def predict_batch(batch: tuple[StepWindow, ...], model: LoadedModel) -> list[WindowPrediction]:
    """One model call on ``batch``: a prediction per window, in order."""
    faces = np.stack([w.faces for w in batch])
    face_mask = np.stack([w.face_mask for w in batch])
    memo = model.face_memo
    arousal, valence, attention = predict_windows(
        model.module,
        faces,
        face_mask,
        np.stack([w.audio for w in batch]),
        np.stack([w.audio_mask for w in batch]),
        memo.encode(model.module, faces, face_mask) if memo is not None else None,
    )
    return [
        WindowPrediction(w, arousal[i], valence[i], attention[i], model.version) for i, w in enumerate(batch)
    ]
