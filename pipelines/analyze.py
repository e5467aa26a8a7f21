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
from apache_beam.options.pipeline_options import (
    DebugOptions,
    GoogleCloudOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
)

from emotrace.datasets.inputs import InputEntry, InvalidRow, expand_inputs
from emotrace.pipelines import rerun
from emotrace.pipelines.launch import check_input, check_output, open_model
from emotrace.pipelines.options import (
    OneLineParser,
    UsageError,
    add_analyze_args,
    analyze_config,
    check_local_devices,
    new_run_id,
)
from emotrace.pipelines.summary import RunSummary, summarize_run
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.errors import ErrorCode
from emotrace.schemas.lineage import USER_ID_SALT_ENV, config_hash, hash_user_id
from emotrace.schemas.naming import staging_dir
from emotrace.schemas.records import VideoOutcome, VideoRef
from emotrace.schemas.rows import video_row
from emotrace.schemas.uris import canonical_uri
from emotrace.transforms import io as beam_io
from emotrace.transforms.dedupe import DedupeInputs
from emotrace.transforms.extract import OUTCOMES, SEGMENTS, ExtractWindows
from emotrace.transforms.faults import FaultPlan
from emotrace.transforms.inference import EmotionModelHandler
from emotrace.transforms.outcomes import JoinOutcomes
from emotrace.transforms.partitioned import WritePartitioned, keyed_by_posted_at
from emotrace.transforms.publish import CommitRun, UnreconciledRun
from emotrace.transforms.tracks import STEPS, TRACKS, StitchTracks, keyed_scores, keyed_track_row

log = logging.getLogger("emotrace")


@dataclass(frozen=True)
class AnalyzeJob:
    """What one run needs, resolved before the pipeline is built."""

    entries: list[InputEntry]  # the valid inputs, each with its place in --input (duplicates included)
    invalid: list[VideoOutcome]  # manifest rows that name no usable video
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
    faults: FaultPlan | None = None  # tests only (transforms/faults.py)

    @property
    def n_inputs(self) -> int:
        return len(self.entries) + len(self.invalid)

    @property
    def refs(self) -> list[VideoRef]:
        """The valid inputs, duplicates included (``n_inputs`` counts these and the invalid rows)."""
        return [e.item for e in self.entries]  # type: ignore[misc]

    @property
    def staging(self) -> str:
        """Where the pipeline writes: published to ``output`` when the run is complete."""
        return staging_dir(self.output, self.run_id)


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
            raise UsageError(
                f"argument --inference-hints: expected key=value pairs separated by commas, got {item!r}"
            )
        hints[key.strip()] = value.strip()
    try:
        parse_resource_hints(hints)
    except ValueError as err:
        raise UsageError(f"argument --inference-hints: {err}") from err
    return hints


RIGHT_FITTING_DOC = "https://cloud.google.com/dataflow/docs/guides/right-fitting"


def gpu_model_conflict(options: PipelineOptions, inference_hints: dict[str, str]) -> str | None:
    """Why these options combine Dataflow's two GPU models, or None.

    Dataflow attaches GPUs either to every worker (the ``worker_accelerator`` service option, also accepted
    as an experiment) or per step by right fitting, which any Beam resource hint turns on (whole-pipeline
    ``--resource_hints`` or emotrace's ``--inference-hints``); its right-fitting guide says not to use
    ``worker_accelerator`` with right fitting."""
    service = options.view_as(GoogleCloudOptions).dataflow_service_options or []
    experiments = options.view_as(DebugOptions).experiments or []
    accelerator = [o for o in [*service, *experiments] if o.startswith("worker_accelerator")]
    hints = [*(options.view_as(StandardOptions).resource_hints or []), *inference_hints]
    if accelerator and hints:
        return (
            f"the worker_accelerator service option cannot be combined with resource hints "
            f"({', '.join(hints)}): a resource hint turns on Dataflow right fitting, which must not be used "
            f"with worker_accelerator ({RIGHT_FITTING_DOC}). Choose one: worker_accelerator (every worker "
            "gets the GPU) or --inference-hints accelerator=... (only the model stage does)"
        )
    return None


def pipeline_options(beam_args: list[str], args: argparse.Namespace) -> PipelineOptions:
    """The Beam options of the run, checked with the emotrace options ``args`` before any work: refused
    when they mix Dataflow's GPU models, or ask a local runner for a CUDA device that is not there."""
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False  # workers import emotrace; nothing from __main__
    conflict = gpu_model_conflict(options, parse_hints(args.inference_hints))
    if conflict:
        raise UsageError(conflict)
    check_local_devices(args, options.view_as(StandardOptions).runner)
    return options


def invalid_outcome(row: InvalidRow) -> VideoOutcome:
    ref = VideoRef(video_uri=row.source, post_id=row.source)
    return VideoOutcome(ref, "failed", ErrorCode.MANIFEST_ROW_INVALID.value, row.reason)


def pseudonymize(refs: list[VideoRef], enabled: bool) -> list[VideoRef]:
    """``--hash-user-ids``: user ids become salted hashes before any stage sees them (issue 7)."""
    if not enabled:
        return refs
    salt = os.environ.get(USER_ID_SALT_ENV, "")
    if not salt:
        raise UsageError(
            f"--hash-user-ids needs a secret salt in ${USER_ID_SALT_ENV}; set it (and keep it: the same "
            "salt gives the same pseudonyms across runs)"
        )
    return [r._replace(user_id=hash_user_id(r.user_id, salt)) for r in refs]


def _valid_entries(entries: list[InputEntry], hash_user_ids: bool) -> list[InputEntry]:
    valid = [e for e in entries if isinstance(e.item, VideoRef)]
    refs = pseudonymize([e.item for e in valid], hash_user_ids)  # type: ignore[misc]
    return [e._replace(item=ref) for e, ref in zip(valid, refs, strict=True)]


def resolve_job(args: argparse.Namespace, faults: FaultPlan | None = None) -> AnalyzeJob:
    """Checks everything a run needs before any work, then expands the inputs (UsageError: exit 2)."""
    check_output(args.output)
    check_input(args.input)
    bundle = open_model(args.model, args.face_weights)
    pre = bundle.preprocessing
    crop_px, step_s, window_steps = int(pre["crop_size_px"]), float(pre["step_s"]), int(pre["window_steps"])
    cfg = analyze_config(args, step_s, window_steps, crop_px)
    entries = expand_inputs(args.input, beam_io.INPUTS)
    if not entries:
        raise UsageError(f"argument --input: {args.input}: 0 inputs found (nothing to analyse)")
    return AnalyzeJob(
        entries=_valid_entries(entries, args.hash_user_ids),
        invalid=[invalid_outcome(e.item) for e in entries if isinstance(e.item, InvalidRow)],
        cfg=cfg,
        model_uri=canonical_uri(args.model) if args.model else None,
        model_version=bundle.version,
        crop_px=crop_px,
        output=canonical_uri(args.output),  # absolute: workers may not share the launcher's directory
        run_id=args.run_id or new_run_id(),
        batch_size=args.batch_size,
        device=args.device,
        inference_hints=parse_hints(args.inference_hints),
        config_hash=config_hash(cfg.to_dict(), bundle.version),
        faults=faults,
    )


def build(p: beam.Pipeline, job: AnalyzeJob) -> None:
    outputs = (OUTCOMES, TRACKS, SEGMENTS)
    extract = ExtractWindows(job.cfg, job.crop_px, job.n_inputs, job.faults)
    refs, duplicates = p | "Inputs" >> beam.Create(job.entries) | "Dedupe" >> DedupeInputs()
    extracted = (
        refs
        | "Spread" >> beam.Reshuffle()  # one video per worker slot, not one worker for the whole list
        | "Extract" >> beam.ParDo(extract).with_outputs(*outputs, main="windows")
    )
    # A long video's later segments: shuffled again so they spread over workers (features/segments.py).
    later = (
        extracted[SEGMENTS]
        | "SpreadSegments" >> beam.Reshuffle()
        | "ExtractSegments" >> beam.ParDo(extract).with_outputs(*outputs, main="windows")
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
    traces = stitched.rows | "WriteTraces" >> _writer("traces", job)
    tracks = (
        stitched[TRACKS]
        | "TrackRows" >> beam.Map(keyed_track_row, job.run_id, job.config_hash)
        | "WriteTracks" >> _writer("tracks", job)
    )
    outcomes = (extracted[OUTCOMES], later[OUTCOMES]) | "AllOutcomes" >> beam.Flatten()
    joined = {
        "outcomes": outcomes,
        "steps": stitched[STEPS],
        "inference_errors": (first.errors, rest.errors) | "AllInferenceErrors" >> beam.Flatten(),
        "tracks": stitched[TRACKS],
    } | "VideoRows" >> JoinOutcomes(job.run_id, job.model_version, job.config_hash)
    # Rows that need no join: invalid manifest rows and duplicates (a duplicate shares its first
    # occurrence's key, so it must not meet that video's outcomes).
    direct = (
        (p | "InvalidRows" >> beam.Create(job.invalid), duplicates)
        | "UnjoinedOutcomes" >> beam.Flatten()
        | "UnjoinedRows" >> beam.Map(video_row, job.run_id, job.model_version, job.config_hash)
    )
    videos = (
        (joined, direct)
        | "AllVideoRows" >> beam.Flatten()
        | "ByPostedDate" >> beam.Map(keyed_by_posted_at)
        | "WriteVideos" >> _writer("videos", job)
    )
    # Last: once every file is written, the run reconciles and is published (transforms/publish.py).
    _ = (
        (traces, tracks, videos)
        | "AllFilesWritten" >> beam.Flatten()
        | "CommitRun" >> CommitRun(job.output, job.run_id, job.n_inputs, job.faults)
    )


def _writer(table: str, job: AnalyzeJob) -> WritePartitioned:
    return WritePartitioned(table, job.staging, job.run_id, faults=job.faults)


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


def run(
    argv: list[str], test_pipeline: beam.Pipeline | None = None, faults: FaultPlan | None = None
) -> RunSummary:
    """Parse, check, run the pipeline into the run's staging folder, reconcile, publish (commit)."""
    parser = OneLineParser(prog="emotrace analyze", description=__doc__)
    add_analyze_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    options = pipeline_options(beam_args, args)  # before the output is touched
    job = resolve_job(args, faults)
    job, n_done = apply_rerun_policy(job, args)
    log.info("run %s: %d inputs, model %s", job.run_id, job.n_inputs, job.model_version)
    if job.n_inputs == 0:  # nothing left to do: write nothing, so the tables stay exactly as they were
        return RunSummary(job.output, job.run_id, 0, {}, 0, n_already_ok=n_done)
    pipeline = test_pipeline or beam.Pipeline(options=options)
    build(pipeline, job)
    try:
        pipeline.run().wait_until_finish()
    except Exception as err:  # the commit stage refused an unreconciled run: say it as the CLI does
        if not isinstance(err, UnreconciledRun) and UnreconciledRun.__name__ not in repr(err):
            raise
        staged = summarize_run(job.staging, job.run_id, n_inputs=job.n_inputs, n_already_ok=n_done)
        raise ReconciliationError(staged) from err
    # Read back from the committed run: the summary reports facts, not intentions.
    return summarize_run(job.output, job.run_id, n_inputs=job.n_inputs, n_already_ok=n_done)


class ReconciliationError(RuntimeError):
    def __init__(self, summary: RunSummary) -> None:
        super().__init__(
            f"run {summary.run_id}: {summary.n_inputs} inputs but videos rows say {summary.by_status}; "
            f"nothing was published (the run's files stay in {summary.output})\n" + summary.render()
        )
        self.summary = summary


def apply_rerun_policy(job: AnalyzeJob, args: argparse.Namespace) -> tuple[AnalyzeJob, int]:
    """Recovery, --skip-existing / --force / a repeated --run-id (see pipelines/rerun.py). Returns the
    job (under the run id it writes: a continuation when it continues a committed run) and the number
    of inputs dropped because they already have an ok row in a committed run."""
    run_id = rerun.prepare(job.output, job.run_id, args.force, args.skip_existing, job.faults)
    job = dataclasses.replace(job, run_id=run_id)
    if not args.skip_existing:
        return job, 0
    remaining = rerun.drop_done(job.entries, rerun.ok_keys(job.output))
    return dataclasses.replace(job, entries=remaining), len(job.entries) - len(remaining)
