"""A Beam runner for tests that executes nothing: it serialises the pipeline as a runner submits it (the
runner API proto, what Dataflow or a Flink job server receives), writes the proto's size and bytes to
the file named by ``$EMOTRACE_TEST_RECORD``, and reports the job done.
``--runner=tests.pipelines.recording_runner.RecordingRunner``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import Pipeline
from apache_beam.runners.runner import PipelineResult, PipelineRunner, PipelineState


class RecordingRunner(PipelineRunner):
    def run_pipeline(self, pipeline: Pipeline, options: PipelineOptions) -> PipelineResult:
        proto = pipeline.to_runner_api().SerializeToString()
        record = Path(os.environ["EMOTRACE_TEST_RECORD"])
        record.with_suffix(".pb").write_bytes(proto)
        record.write_text(json.dumps({"proto_bytes": len(proto)}))
        return PipelineResult(PipelineState.DONE)
