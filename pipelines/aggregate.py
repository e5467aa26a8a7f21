"""``emotrace aggregate``: ``DIR/traces`` -> ``OUT/post_aggregates`` or ``OUT/user_aggregates`` Parquet.

Wiring only: reading, grouping and the statistics live in transforms/ and analytics/. Any Beam runner;
unknown options pass to Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import logging
import posixpath

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from emotrace.pipelines.options import OneLineParser, UsageError, new_run_id, run_id
from emotrace.transforms.aggregate import BY, AggregateTraces
from emotrace.transforms.publish import committed_files
from emotrace.transforms.sinks import WriteTable

log = logging.getLogger("emotrace")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = OneLineParser(prog="emotrace aggregate", description=__doc__)
    parser.add_argument("--input", required=True, help="an analyze output folder (holds traces/)")
    parser.add_argument("--by", required=True, choices=BY, help="one row per post or per user")
    parser.add_argument("--output", required=True, help="folder for <by>_aggregates/ (local or gs://)")
    parser.add_argument(
        "--all-tracks",
        action="store_true",
        help="every face track (statistics over track-steps); default: primary track + face-less steps",
    )
    parser.add_argument(
        "--run-id", type=run_id, default=None, help="names this run's files (default: time + random)"
    )
    return parser.parse_known_args(argv)


def run(argv: list[str], test_pipeline: beam.Pipeline | None = None) -> str:
    """Build and run the pipeline; returns the folder written (``OUT/<by>_aggregates``)."""
    args, beam_args = parse(argv)
    files = committed_files(args.input, "traces")  # committed runs only (docs/reliability.md)
    if not files:
        raise UsageError(
            f"argument --input: no traces under {args.input} (of a committed run): --input is the folder "
            "`emotrace analyze` wrote"
        )
    aggregate_run = args.run_id or new_run_id()
    table = f"{args.by}_aggregates"
    options = PipelineOptions(beam_args)
    options.view_as(SetupOptions).save_main_session = False
    pipeline = test_pipeline or beam.Pipeline(options=options)
    (
        pipeline
        | "TraceFiles" >> beam.Create(files)
        | "ReadTraces" >> beam.io.ReadAllFromParquet()
        | "Aggregate" >> AggregateTraces(args.by, args.all_tracks, aggregate_run)
        | "Write" >> WriteTable(table, args.output, aggregate_run)
    )
    log.info("aggregate run %s: %s -> %s/%s", aggregate_run, args.input, args.output, table)
    pipeline.run().wait_until_finish()
    return posixpath.join(args.output.rstrip("/"), table)
