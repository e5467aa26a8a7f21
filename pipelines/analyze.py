"""``emotrace analyze``: videos -> ``traces`` and ``videos`` Parquet tables.

Wiring only: every stage lives in ``emotrace.transforms`` over the pure core.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from emotrace.datasets.inputs import InvalidRow, expand_inputs
from emotrace.pipelines.options import add_analyze_args, analyze_config, new_run_id
from emotrace.pipelines.summary import RunSummary, summarize_run
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.records import VideoOutcome, VideoRef
from emotrace.schemas.rows import trace_rows
from emotrace.transforms import io as beam_io
from emotrace.transforms.extract import OUTCOMES, ExtractWindows
from emotrace.transforms.inference import EmotionModelHandler, open_bundle
from emotrace.transforms.outcomes import JoinOutcomes
from emotrace.transforms.sinks import WriteTable

log = logging.getLogger("emotrace")


@dataclass(frozen=True)
class AnalyzeJob:
    """What one run needs, resolved before the pipeline is built."""

    refs: list[VideoRef]
    invalid: list[VideoOutcome]
    cfg: AnalyzeConfig
    model_uri: str | None
    model_version: str
    crop_px: int
    output: str
    run_id: str
    batch_size: int
    device: str


def invalid_outcome(row: InvalidRow) -> VideoOutcome:
    ref = VideoRef(video_uri=row.source, post_id=row.source)
    return VideoOutcome(ref, "failed", ErrorCode.MANIFEST_ROW_INVALID.value, row.reason)


def resolve_job(args: argparse.Namespace) -> AnalyzeJob:
    bundle = open_bundle(args.model)
    pre = bundle.preprocessing
    crop_px, step_s, window_steps = int(pre["crop_size_px"]), float(pre["step_s"]), int(pre["window_steps"])
    inputs = expand_inputs(args.input, beam_io.match, beam_io.read_text)
    return AnalyzeJob(
        refs=[i for i in inputs if isinstance(i, VideoRef)],
        invalid=[invalid_outcome(i) for i in inputs if isinstance(i, InvalidRow)],
        cfg=analyze_config(args, step_s, window_steps, crop_px),
        model_uri=args.model,
        model_version=bundle.version,
        crop_px=crop_px,
        output=args.output,
        run_id=args.run_id or new_run_id(),
        batch_size=args.batch_size,
        device=args.device,
    )


def build(p: beam.Pipeline, job: AnalyzeJob) -> None:
    n_inputs = len(job.refs) + len(job.invalid)
    extracted = (
        p
        | "Inputs" >> beam.Create(job.refs)
        | "Spread" >> beam.Reshuffle()  # one video per worker slot, not one worker for the whole list
        | "Extract"
        >> beam.ParDo(ExtractWindows(job.cfg, job.crop_px, n_inputs)).with_outputs(OUTCOMES, main="windows")
    )
    handler = EmotionModelHandler(job.model_uri, job.device, job.batch_size)
    predictions, dead_letters = extracted.windows | "Infer" >> RunInference(handler).with_exception_handling()
    (
        predictions
        | "TraceRows" >> beam.FlatMap(trace_rows, job.run_id)
        | "WriteTraces" >> WriteTable("traces", job.output, job.run_id)
    )
    outcomes = (
        extracted[OUTCOMES],
        p | "InvalidRows" >> beam.Create(job.invalid),
    ) | "AllOutcomes" >> beam.Flatten()
    (
        {"outcomes": outcomes, "predictions": predictions, "inference_errors": dead_letters.failed_inferences}
        | "VideoRows" >> JoinOutcomes(job.run_id, job.model_version)
        | "WriteVideos" >> WriteTable("videos", job.output, job.run_id)
    )


def run(argv: list[str], test_pipeline: beam.Pipeline | None = None) -> RunSummary:
    parser = argparse.ArgumentParser(prog="emotrace analyze", description=__doc__)
    add_analyze_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    job = resolve_job(args)
    log.info("run %s: %d inputs, model %s", job.run_id, len(job.refs) + len(job.invalid), job.model_version)
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    pipeline = test_pipeline or beam.Pipeline(options=options)
    build(pipeline, job)
    pipeline.run().wait_until_finish()
    return summarize_run(job.output, job.run_id, n_inputs=len(job.refs) + len(job.invalid))
