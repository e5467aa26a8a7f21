"""A batch the model raises on fails its videos, not the job (pipeline tier, no media): the handler
turns the error into a BatchFailed element on RunInference's one output (no dead-letter output, which
Beam's Dask runner cannot separate), every video with a window in the batch is named, the other batches
are predicted, and each named video's row says INFERENCE_FAILED."""

from __future__ import annotations

import pickle
from pathlib import Path

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.keys import key_of
from emotrace.schemas.records import BatchFailed, StepWindow, VideoOutcome, VideoRef, WindowBatch
from emotrace.transforms.inference import EmotionModelHandler, default_bundle
from emotrace.transforms.outcomes import failed_videos, final_row

PRE = default_bundle().preprocessing
W, S = PRE.window_steps, PRE.crop_size_px
D = default_bundle().model_config.n_audio_features


def _window(post: str, audio_dim: int = D) -> StepWindow:
    ones = np.ones(W, bool)
    return StepWindow(
        VideoRef(f"/v/{post}.mp4", post), 0, 0, 0.2, np.zeros((W, S, S, 3), np.uint8), ones,
        np.zeros((W, audio_dim), np.float32), ones, ones,
    )  # fmt: skip


def _save(items: list, path: str) -> None:
    Path(path).write_bytes(pickle.dumps(items))


def test_a_failing_batch_becomes_rows_not_a_failed_job(tmp_path: Path):
    good = WindowBatch((_window("c"),))
    bad = WindowBatch((_window("a"), _window("b", audio_dim=1), _window("a")))  # b's descriptors: wrong size
    out = str(tmp_path / "out.pkl")
    with BeamPipeline() as p:
        results = p | beam.Create([good, bad]) | RunInference(EmotionModelHandler(None, "cpu"))
        _ = results | beam.combiners.ToList() | beam.Map(_save, out)
    results = pickle.loads(Path(out).read_bytes())
    failed = [r for r in results if isinstance(r, BatchFailed)]
    predicted = [r for r in results if not isinstance(r, BatchFailed)]
    assert len(failed) == 1 and [r.post_id for r in failed[0].refs] == ["a", "b"]  # each video once
    assert [p.window.ref.post_id for p in predicted] == ["c"] and predicted[0].arousal.shape == (W,)
    errors = dict(failed_videos(failed[0]))
    row = final_row(
        (key_of(failed[0].refs[0]), {"outcome": [VideoOutcome(failed[0].refs[0], "ok")], "steps": [],
                                     "errors": [errors[key_of(failed[0].refs[0])]], "tracks": []}),
        "r1", "m1", "h1",
    )  # fmt: skip
    assert row["status"] == "failed" and row["error_code"] == ErrorCode.INFERENCE_FAILED.value
    assert row["error_message"] == failed[0].message and failed[0].message.startswith("ValueError: ")
