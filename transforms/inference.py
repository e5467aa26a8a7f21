"""The fused model under Beam's ``RunInference``: one model per worker, batches across videos.

``RunInference`` owns model loading, sharing across threads, batching and the dead-letter output; this
handler only says how to load a bundle and how to run one batch of windows.
"""

from __future__ import annotations

import importlib.resources
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler

from emotrace.model.bundle import ModelBundle, load_bundle
from emotrace.model.face_memo import FaceEmbeddingMemo
from emotrace.model.fused import FusedEmotionModel
from emotrace.model.predict import predict_windows
from emotrace.schemas.records import StepWindow, WindowPrediction


def open_bundle(uri: str | None) -> ModelBundle:
    """The bundle at ``uri`` (any FileSystems scheme), or the built-in default bundle when None."""
    if uri is None:
        return default_bundle()
    with FileSystems.open(uri, compression_type="uncompressed") as f:
        return load_bundle(io.BytesIO(f.read()))


DEFAULT_BUNDLE = "real_bundle.pt"  # `emotrace train --real`: real faces and voices (CC BY-NC-SA 4.0)
DEMO_BUNDLE = "demo_bundle.pt"  # `emotrace train --demo`: the synthetic corpus only (a test fixture)
CPU_THREADS = 1


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


class EmotionModelHandler(ModelHandler[StepWindow, WindowPrediction, LoadedModel]):
    def __init__(self, model_uri: str | None, device: str = "auto", max_batch_size: int = 32) -> None:
        # Windows from different videos batch together. No max_batch_duration_secs: it switches
        # BatchElements to a stateful, timer-driven DoFn that sends the DirectRunner to its legacy
        # bundle-based executor, whose GroupByKey then asserts (seen with Beam 2.77).
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self._uri = model_uri
        self._device = device

    def load_model(self) -> LoadedModel:
        bundle = open_bundle(self._uri)
        device = resolve_device(self._device)
        if device.type == "cpu":
            # One intra-op thread: runners give each core its own worker process (Dataflow: one SDK
            # process per vCPU; the DirectRunner's multi_processing: one per --direct_num_workers), so
            # torch's default of one thread per core only makes the workers and their ffmpeg and
            # onnxruntime threads contend (issue 6). The model is a few % of a worker's CPU anyway.
            torch.set_num_threads(CPU_THREADS)
        module = bundle.build_model().for_inference().to(device)  # BatchNorm folded: less CPU
        return LoadedModel(module, bundle.version, FaceEmbeddingMemo() if device.type == "cpu" else None)

    def run_inference(
        self,
        batch: Sequence[StepWindow],
        model: LoadedModel,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[WindowPrediction]:
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
            WindowPrediction(w, arousal[i], valence[i], attention[i], model.version)
            for i, w in enumerate(batch)
        ]

    def get_num_bytes(self, batch: Sequence[StepWindow]) -> int:
        return sum(w.faces.nbytes + w.audio.nbytes for w in batch)  # pickling the crops to count is waste

    def get_metrics_namespace(self) -> str:
        return "emotrace"
