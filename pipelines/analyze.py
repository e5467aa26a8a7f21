"""``emotrace analyze``: videos -> ``traces`` and ``videos`` Parquet tables.

Wiring only: every stage lives in ``emotrace.transforms`` over the pure core.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from dataclasses import dataclass
from typing import NamedTuple

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from emotrace.datasets.inputs import InvalidRow, expand_inputs
from emotrace.pipelines import rerun
from emotrace.pipelines.options import add_analyze_args, analyze_config, new_run_id
from emotrace.pipelines.summary import RunSummary, summarize_run
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.lineage import USER_ID_SALT_ENV, config_hash, hash_user_id
from emotrace.schemas.records import VideoOutcome, VideoRef
from emotrace.schemas.tables import TABLES
from emotrace.transforms import io as beam_io
from emotrace.transforms.extract import OUTCOMES, SEGMENTS, ExtractWindows
from emotrace.transforms.inference import EmotionModelHandler, open_bundle
from emotrace.transforms.outcomes import JoinOutcomes
from emotrace.transforms.partitioned import WritePartitioned, keyed_by_posted_at
from emotrace.transforms.tracks import STEPS, TRACKS, StitchTracks, keyed_scores, keyed_track_row

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
    inference_hints: dict[str, str]  # Beam resource hints for the inference stage only (empty: none)
    config_hash: str  # schemas.lineage.config_hash of (cfg, model_version): lineage in every row


def parse_hints(spec: str | None) -> dict[str, str]:
    """``--inference-hints "accelerator=type:nvidia-l4;count:1;install-nvidia-driver,min_ram=16GB"`` ->
    ``{"accelerator": ..., "min_ram": ...}``, checked against the hints Beam knows."""
    from apache_beam.transforms.resources import parse_resource_hints

    hints: dict[str, str] = {}
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SystemExit(f"--inference-hints: expected key=value pairs separated by commas, got {item!r}")
        hints[key.strip()] = value.strip()
    try:
        parse_resource_hints(hints)
    except ValueError as err:
        raise SystemExit(f"--inference-hints: {err}") from err
    return hints


def invalid_outcome(row: InvalidRow) -> VideoOutcome:
    ref = VideoRef(video_uri=row.source, post_id=row.source)
    return VideoOutcome(ref, "failed", ErrorCode.MANIFEST_ROW_INVALID.value, row.reason)


def pseudonymize(refs: list[VideoRef], enabled: bool) -> list[VideoRef]:
    """``--hash-user-ids``: user ids become salted hashes before any stage sees them (issue 7)."""
    if not enabled:
        return refs
    salt = os.environ.get(USER_ID_SALT_ENV, "")
    if not salt:
        raise SystemExit(
            f"--hash-user-ids needs a secret salt in ${USER_ID_SALT_ENV}; set it (and keep it: the same "
            "salt gives the same pseudonyms across runs)"
        )
    return [r._replace(user_id=hash_user_id(r.user_id, salt)) for r in refs]


def resolve_job(args: argparse.Namespace) -> AnalyzeJob:
    bundle = open_bundle(args.model)
    pre = bundle.preprocessing
    crop_px, step_s, window_steps = int(pre["crop_size_px"]), float(pre["step_s"]), int(pre["window_steps"])
    inputs = expand_inputs(args.input, beam_io.match, beam_io.read_text)
    cfg = analyze_config(args, step_s, window_steps, crop_px)
    return AnalyzeJob(
        refs=pseudonymize([i for i in inputs if isinstance(i, VideoRef)], args.hash_user_ids),
        invalid=[invalid_outcome(i) for i in inputs if isinstance(i, InvalidRow)],
        cfg=cfg,
        model_uri=args.model,
        model_version=bundle.version,
        crop_px=crop_px,
        output=args.output,
        run_id=args.run_id or new_run_id(),
        batch_size=args.batch_size,
        device=args.device,
        inference_hints=parse_hints(args.inference_hints),
        config_hash=config_hash(cfg.to_dict(), bundle.version),
    )


def build(p: beam.Pipeline, job: AnalyzeJob) -> None:
    n_inputs = len(job.refs) + len(job.invalid)
    outputs = (OUTCOMES, TRACKS, SEGMENTS)
    extracted = (
        p
        | "Inputs" >> beam.Create(job.refs)
        | "Spread" >> beam.Reshuffle()  # one video per worker slot, not one worker for the whole list
        | "Extract"
        >> beam.ParDo(ExtractWindows(job.cfg, job.crop_px, n_inputs)).with_outputs(*outputs, main="windows")
    )
    # A long video's later segments: shuffled again so they spread over workers (features/segments.py).
    later = (
        extracted[SEGMENTS]
        | "SpreadSegments" >> beam.Reshuffle()
        | "ExtractSegments"
        >> beam.ParDo(ExtractWindows(job.cfg, job.crop_px, n_inputs)).with_outputs(*outputs, main="windows")
    )
    segment_tracks = (extracted[TRACKS], later[TRACKS]) | "AllSegmentTracks" >> beam.Flatten()
    # One RunInference per extraction stage, each fused with the stage that cuts its windows so crops
    # stream through: a Flatten of the two window streams made the DirectRunner buffer all of a long
    # video's windows before inference (peak memory grew with video length; benchmarks/memory.py).
    first = _infer(extracted.windows, job, "")
    rest = _infer(later.windows, job, "Segments")
    scores = (first.scores, rest.scores) | "AllWindowScores" >> beam.Flatten()
    stitched = scores | "StitchTracks" >> StitchTracks(
        segment_tracks, job.cfg.grid, job.run_id, job.config_hash
    )
    stitched.rows | "WriteTraces" >> WritePartitioned("traces", job.output, job.run_id)
    (
        stitched[TRACKS]
        | "TrackRows" >> beam.Map(keyed_track_row, job.run_id, job.config_hash)
        | "WriteTracks" >> WritePartitioned("tracks", job.output, job.run_id)
    )
    outcomes = (
        extracted[OUTCOMES],
        later[OUTCOMES],
        p | "InvalidRows" >> beam.Create(job.invalid),
    ) | "AllOutcomes" >> beam.Flatten()
    (
        {
            "outcomes": outcomes,
            "steps": stitched[STEPS],
            "inference_errors": (first.errors, rest.errors) | "AllInferenceErrors" >> beam.Flatten(),
            "tracks": stitched[TRACKS],
        }
        | "VideoRows" >> JoinOutcomes(job.run_id, job.model_version, job.config_hash)
        | "ByPostedDate" >> beam.Map(keyed_by_posted_at)
        | "WriteVideos" >> WritePartitioned("videos", job.output, job.run_id)
    )


class Inferred(NamedTuple):
    scores: beam.PCollection  # (input key, WindowPrediction without its crops): trace rows after blending
    errors: beam.PCollection  # RunInference's failed batches


def _infer(windows: beam.PCollection, job: AnalyzeJob, suffix: str) -> Inferred:
    """RunInference on ``windows``, then the small things the rest of the pipeline needs from it."""
    handler = EmotionModelHandler(job.model_uri, job.device, job.batch_size)
    infer = RunInference(handler).with_exception_handling()
    if job.inference_hints:
        # A GPU (or big-memory) pool for the model only: the hints go on this stage alone, and the
        # Reshuffle breaks fusion so a runner that right-fits (Dataflow) can run decoding and feature
        # extraction on plain CPU workers and ship only the windows to the hinted ones.
        windows = windows | f"ToInferencePool{suffix}" >> beam.Reshuffle()
        infer = infer.with_resource_hints(**job.inference_hints)
    predictions, dead_letters = windows | f"Infer{suffix}" >> infer
    scores = predictions | f"WindowScores{suffix}" >> beam.Map(keyed_scores)
    return Inferred(scores, dead_letters.failed_inferences)


def run(argv: list[str], test_pipeline: beam.Pipeline | None = None) -> RunSummary:
    parser = argparse.ArgumentParser(prog="emotrace analyze", description=__doc__)
    add_analyze_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    job = resolve_job(args)
    job, n_done = apply_rerun_policy(job, args)
    n_inputs = len(job.refs) + len(job.invalid)
    log.info("run %s: %d inputs, model %s", job.run_id, n_inputs, job.model_version)
    if n_inputs == 0:  # nothing left to do: write nothing, so the tables stay exactly as they were
        return RunSummary(job.output, job.run_id, 0, {}, 0, n_already_ok=n_done)
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    pipeline = test_pipeline or beam.Pipeline(options=options)
    build(pipeline, job)
    pipeline.run().wait_until_finish()
    summary = summarize_run(job.output, job.run_id, n_inputs=n_inputs, n_already_ok=n_done)
    if not summary.reconciled:  # every input must end as exactly one videos row: anything else is a bug
        raise ReconciliationError(summary)
    return summary


class ReconciliationError(RuntimeError):
    def __init__(self, summary: RunSummary) -> None:
        super().__init__(
            f"run {summary.run_id}: {summary.n_inputs} inputs but videos rows say {summary.by_status}\n"
            + summary.render()
        )
        self.summary = summary


def apply_rerun_policy(job: AnalyzeJob, args: argparse.Namespace) -> tuple[AnalyzeJob, int]:
    """--skip-existing / --force / a repeated --run-id (see pipelines/rerun.py). Returns the job and the
    number of inputs dropped because they already have an ok row."""
    previous = rerun.run_files(job.output, job.run_id, tuple(TABLES))
    if previous and not (args.force or args.skip_existing):
        raise SystemExit(
            f"run {job.run_id} already wrote {len(previous)} files under {job.output}: pass --force to "
            "replace them, --skip-existing to process only what is not ok yet, or a new --run-id"
        )
    if args.force:
        rerun.delete(previous + rerun.run_temp_files(job.output, job.run_id, tuple(TABLES)))
    if not args.skip_existing:
        return job, 0
    remaining = rerun.drop_done(job.refs, rerun.ok_keys(job.output))
    return dataclasses.replace(job, refs=remaining), len(job.refs) - len(remaining)
