"""``emotrace analyze``: videos -> ``traces``, ``tracks`` and ``videos`` Parquet tables.

Wiring only: every stage lives in ``emotrace.transforms`` over the pure core. The launcher's work does
not grow with the input: it checks the options, the output, that ``--input`` names at least one input
(reading no further), and the model, then submits a job that reads ``--input`` itself
(``transforms/inputs.py``); the summary is read back from what the job committed.
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
from apache_beam.runners.runner import PipelineResult

from emotrace.datasets.inputs import InputEntry
from emotrace.pipelines import rerun
from emotrace.pipelines.launch import check_input, check_output, open_model
from emotrace.pipelines.local import direct_workers, use_all_cores
from emotrace.pipelines.on_dask import input_shards, is_dask
from emotrace.pipelines.options import (
    OneLineParser,
    UsageError,
    add_analyze_args,
    analyze_config,
    check_local_devices,
    new_run_id,
)
from emotrace.pipelines.summary import RunSummary, summarize_committed, summarize_ledger
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.lineage import USER_ID_SALT_ENV, config_hash
from emotrace.schemas.naming import staging_dir
from emotrace.schemas.records import (
    BatchFailed,
    InputTally,
    PartitionRow,
    SegmentTracks,
    StepsWritten,
    TrackSummary,
    VideoOutcome,
    VideoRef,
    VideoSegment,
    WindowBatch,
    WindowPrediction,
)
from emotrace.schemas.rows import video_row
from emotrace.schemas.uris import canonical_uri
from emotrace.transforms.dedupe import DedupeInputs
from emotrace.transforms.extract import ExtractWindows
from emotrace.transforms.faults import FaultPlan
from emotrace.transforms.inference import EmotionModelHandler
from emotrace.transforms.inputs import OkKeys, ReadInputs, RunTotal, invalid_outcome
from emotrace.transforms.outcomes import JoinOutcomes
from emotrace.transforms.partitioned import WritePartitioned, keyed_by_posted_at
from emotrace.transforms.publish import CommitRun, UnreconciledRun, drop_staging, read_ledger
from emotrace.transforms.spread import Spread
from emotrace.transforms.tracks import StitchTracks, keyed_scores, keyed_track_row
from emotrace.transforms.union import split

log = logging.getLogger("emotrace")


@dataclass(frozen=True)
class AnalyzeJob:
    """What one run needs, resolved before the pipeline is built: nothing here grows with the input."""

    input: str  # --input, canonical (workers may not share the launcher's working directory)
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
    skip_existing: bool = False  # leave out inputs with an ok row in a committed run (joined in the job)
    input_shards: int = 1  # --input read as this many elements (pipelines/on_dask.py: 1 but on Dask)
    salt: str | None = None  # --hash-user-ids: user ids become salted hashes in the job's first stage
    faults: FaultPlan | None = None  # tests only (transforms/faults.py)

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
    use_all_cores(options, beam_args)
    conflict = gpu_model_conflict(options, parse_hints(args.inference_hints))
    if conflict:
        raise UsageError(conflict)
    check_local_devices(args, options.view_as(StandardOptions).runner)
    return options


def user_id_salt(enabled: bool) -> str | None:
    """``--hash-user-ids``: the salt from the environment, checked before any work (None: not asked for).
    It travels inside the submitted job, since workers hash the ids (docs/deploy.md, "Known limits")."""
    if not enabled:
        return None
    salt = os.environ.get(USER_ID_SALT_ENV, "")
    if not salt:
        raise UsageError(
            f"--hash-user-ids needs a secret salt in ${USER_ID_SALT_ENV}; set it (and keep it: the same "
            "salt gives the same pseudonyms across runs)"
        )
    return salt


def resolve_job(args: argparse.Namespace, faults: FaultPlan | None = None) -> AnalyzeJob:
    """Checks everything a run needs before any work (UsageError: exit 2); reads no input past the first."""
    check_output(args.output)
    check_input(args.input)
    salt = user_id_salt(args.hash_user_ids)
    bundle = open_model(args.model, args.face_weights)
    cfg = analyze_config(args, bundle.preprocessing)
    crop_px = bundle.preprocessing.crop_size_px
    return AnalyzeJob(
        input=canonical_uri(args.input),
        cfg=cfg,
        model_uri=canonical_uri(args.model) if args.model else None,
        model_version=bundle.version,
        crop_px=crop_px,
        output=canonical_uri(args.output),  # absolute: workers may not share the launcher's directory
        run_id=args.run_id or new_run_id(),
        batch_size=args.batch_size,
        device=args.device,
        inference_hints=parse_hints(args.inference_hints),
        config_hash=config_hash(cfg.output_dict(), bundle.version),
        skip_existing=args.skip_existing,
        salt=salt,
        faults=faults,
    )


def build(p: beam.Pipeline, job: AnalyzeJob) -> None:
    """The analyze pipeline. Every stage has one output, split by element type (transforms/union.py)."""
    inputs = p | "Inputs" >> ReadInputs(job.input, job.staging, job.salt, job.input_shards)
    entries, read = split(inputs, "Input", InputEntry, InputTally)
    done = p | "AlreadyOk" >> OkKeys(job.output) if job.skip_existing else None
    resolved = entries | "Dedupe" >> DedupeInputs(done)
    refs, duplicates, left_out = split(resolved, "Dedupe", VideoRef, VideoOutcome, InputTally)
    extract = ExtractWindows(job.cfg, job.crop_px, job.batch_size, RunTotal(job.staging), job.faults)
    extracted = refs | "Spread" >> Spread() | "Extract" >> beam.ParDo(extract)
    windows, outcomes, tracks, segments = split(
        extracted, "Extract", WindowBatch, VideoOutcome, SegmentTracks, VideoSegment
    )
    # A long video's segments: shuffled so they spread over workers (features/segments.py).
    later = segments | "SpreadSegments" >> Spread() | "ExtractSegments" >> beam.ParDo(extract)
    later_windows, later_outcomes, later_tracks = split(
        later, "ExtractSegments", WindowBatch, VideoOutcome, SegmentTracks
    )
    # One RunInference per extraction stage, each fused with the stage that cuts its windows so crops
    # stream through: a Flatten of the two window streams made the DirectRunner buffer all of a long
    # video's windows before inference (peak memory grew with video length; benchmarks/memory.py).
    inferred = (_infer(windows, job, ""), _infer(later_windows, job, "Segments"))
    scores = tuple(i.scores for i in inferred) | "AllWindowScores" >> beam.Flatten()
    segment_tracks = (tracks, later_tracks) | "AllSegmentTracks" >> beam.Flatten()
    stitch = StitchTracks(segment_tracks, job.cfg.grid, job.run_id, job.config_hash)
    trace_rows, summaries, steps = split(
        scores | "StitchTracks" >> stitch, "Stitched", PartitionRow, TrackSummary, StepsWritten
    )
    joined = {
        "outcomes": (outcomes, later_outcomes) | "AllOutcomes" >> beam.Flatten(),
        "steps": steps,
        "inference_errors": tuple(i.failed for i in inferred) | "AllInferenceErrors" >> beam.Flatten(),
        "tracks": summaries,
    } | "VideoRows" >> JoinOutcomes(job.run_id, job.model_version, job.config_hash)
    track_rows = summaries | "TrackRows" >> beam.Map(keyed_track_row, job.run_id, job.config_hash)
    written = (
        trace_rows | "WriteTraces" >> _writer("traces", job),
        track_rows | "WriteTracks" >> _writer("tracks", job),
        _video_rows(job, joined, entries, duplicates) | "WriteVideos" >> _writer("videos", job),
    )
    # Last: once every file is written, the run reconciles and is published (transforms/publish.py).
    commit = CommitRun(job.output, job.run_id, job.faults)
    _ = (*written, read, left_out) | "AllFilesAndTallies" >> beam.Flatten() | "CommitRun" >> commit


def _video_rows(
    job: AnalyzeJob, joined: beam.PCollection, entries: beam.PCollection, duplicates: beam.PCollection
) -> beam.PCollection:
    """Every videos row, keyed by its post's date: the joined ones of the inputs processed, and those
    that need no join: invalid manifest rows and duplicates (a duplicate shares its first occurrence's
    key, so it must not meet that video's outcomes)."""
    direct = (
        (entries | "InvalidRows" >> beam.FlatMap(invalid_outcome), duplicates)
        | "UnjoinedOutcomes" >> beam.Flatten()
        | "UnjoinedRows" >> beam.Map(video_row, job.run_id, job.model_version, job.config_hash)
    )
    rows = (joined, direct) | "AllVideoRows" >> beam.Flatten()
    return rows | "ByPostedDate" >> beam.Map(keyed_by_posted_at)


def _writer(table: str, job: AnalyzeJob) -> WritePartitioned:
    return WritePartitioned(table, job.staging, faults=job.faults)


class Inferred(NamedTuple):
    scores: beam.PCollection  # (input key, WindowPrediction without its crops): trace rows after blending
    failed: beam.PCollection  # BatchFailed: batches the model raised on


def _infer(windows: beam.PCollection, job: AnalyzeJob, suffix: str) -> Inferred:
    """RunInference on ``windows`` (WindowBatch elements), then what the rest of the pipeline needs."""
    infer = RunInference(EmotionModelHandler(job.model_uri, job.device))
    if job.inference_hints:
        # A GPU (or big-memory) pool for the model only: the hints go on this stage alone, and the
        # Reshuffle breaks fusion so a runner that right-fits (Dataflow) can run decoding and feature
        # extraction on plain CPU workers and ship only the windows to the hinted ones.
        windows = windows | f"ToInferencePool{suffix}" >> beam.Reshuffle()
        infer = infer.with_resource_hints(**job.inference_hints)
    results = windows | f"Infer{suffix}" >> infer
    predictions, failed = split(results, f"Infer{suffix}", WindowPrediction, BatchFailed)
    scores = predictions | f"WindowScores{suffix}" >> beam.Map(keyed_scores)
    return Inferred(scores, failed)


def run(
    argv: list[str], test_pipeline: beam.Pipeline | None = None, faults: FaultPlan | None = None
) -> RunSummary:
    """Parse, check, run the pipeline (it reads the inputs, writes into the run's staging folder,
    reconciles and publishes), then read the summary back from what it committed."""
    parser = OneLineParser(prog="emotrace analyze", description=__doc__)
    add_analyze_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    options = pipeline_options(beam_args, args)  # before the output is touched
    job = prepare_job(args, beam_args, options, faults)
    log.info("run %s: inputs from %s, model %s", job.run_id, job.input, job.model_version)
    pipeline = test_pipeline or beam.Pipeline(options=options)
    build(pipeline, job)
    try:
        wait(pipeline.run())
    except Exception as err:  # the commit stage refused an unreconciled run: say it as the CLI does
        if not isinstance(err, UnreconciledRun) and UnreconciledRun.__name__ not in repr(err):
            raise
        ledger = read_ledger(job.output, job.run_id)
        raise ReconciliationError(summarize_ledger(job.output, job.run_id, ledger)) from err
    return run_summary(job)


def wait(result: PipelineResult) -> None:
    """Until the job ends; then let go of a Dask client the runner opened (its result holds it)."""
    try:
        result.wait_until_finish()
    finally:
        client = getattr(result, "client", None)  # DaskRunnerResult only
        if client is not None:
            client.close()


def run_summary(job: AnalyzeJob) -> RunSummary:
    """What the finished job did: read from its commit marker, or, when it committed nothing (nothing
    was left to do), from the counts its commit stage left in staging (then removed)."""
    ledger = read_ledger(job.output, job.run_id)
    if ledger is None:
        return summarize_committed(job.output, job.run_id)
    summary = summarize_ledger(job.output, job.run_id, ledger)
    if not ledger["reconciled"]:
        raise ReconciliationError(summary)
    drop_staging(job.output, job.run_id)  # nothing was left to do: the run leaves nothing behind
    return summary


class ReconciliationError(RuntimeError):
    def __init__(self, summary: RunSummary) -> None:
        super().__init__(
            f"run {summary.run_id}: {summary.n_inputs} inputs but videos rows say {summary.by_status}; "
            f"nothing was published (the run's files stay in {staging_dir(summary.output, summary.run_id)})\n"
            + summary.render()
        )
        self.summary = summary


def prepare_job(
    args: argparse.Namespace, beam_args: list[str], options: PipelineOptions, faults: FaultPlan | None = None
) -> AnalyzeJob:
    """The checked job under the run id it writes, its input read as the runner needs it (what
    ``run`` and the Dataflow flex launcher submit)."""
    job = apply_rerun_policy(resolve_job(args, faults), args)
    shards = input_shards(options, beam_args)
    # A --segment-s given is the length asked for; by default, at most one segment per known worker.
    workers = known_workers(options, shards) if args.segment_s is None else 0
    segments = dataclasses.replace(job.cfg.segments, workers=workers)
    return dataclasses.replace(job, cfg=dataclasses.replace(job.cfg, segments=segments), input_shards=shards)


def known_workers(options: PipelineOptions, input_shards: int) -> int:
    """How many segments a long video may be cut into (``SegmentConfig.workers``): one per worker where
    the job knows how many it has (the DirectRunner's processes, the Dask cluster's threads, which the
    input is sharded over); 0 (no cap) elsewhere."""
    if is_dask(options.view_as(StandardOptions).runner):
        return input_shards
    return direct_workers(options)


def apply_rerun_policy(job: AnalyzeJob, args: argparse.Namespace) -> AnalyzeJob:
    """Recovery, --skip-existing / --force / a repeated --run-id (see pipelines/rerun.py): the job under
    the run id it writes (a continuation when it continues a committed run). Which inputs are already
    ok is joined inside the job (``transforms/dedupe.py``)."""
    run_id = rerun.prepare(job.output, job.run_id, args.force, args.skip_existing, job.faults)
    return dataclasses.replace(job, run_id=run_id)
