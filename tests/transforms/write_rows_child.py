"""Writes N generated trace rows into one partition through the real writer, in a Beam pipeline on the
DirectRunner, and prints the files it reported as JSON: the child process of test_writer_memory.py,
whose peak RSS the test reads. Usage: ``python -m tests.transforms.write_rows_child N ROOT``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from emotrace.schemas.records import PartitionRow
from emotrace.transforms.partitioned import WritePartitioned

CHUNK = 100_000
DAY = "2024-05-01"


def rows(chunk: int, n: int) -> Iterator[PartitionRow]:
    """Rows ``chunk * CHUNK`` .. of ``n``: 50 posts of 100,000 steps each, values varying per row."""
    for i in range(chunk * CHUNK, min(n, (chunk + 1) * CHUNK)):
        post, step = divmod(i, 100_000)
        v = ((i * 7919) % 2000) / 1000.0 - 1.0
        yield PartitionRow(
            DAY,
            {
                "post_id": f"post{post:03d}", "user_id": f"user{post % 7}", "track_id": i % 3 or None,
                "t_s": round(step * 0.2, 6), "step_s": 0.2, "arousal": v, "valence": -v,
                "face_present": bool(i % 3), "audio_present": True, "speech_prob": 0.5,
                "attn_face_arousal": 0.4, "attn_audio_arousal": 0.6, "attn_face_valence": 0.3,
                "attn_audio_valence": 0.7, "model_version": "synthetic-demo-0123456789",
                "run_id": "mem", "pipeline_version": "0.1.0", "config_hash": "0123456789ab",
                "face_score": 0.9, "face_x": 0.1, "face_y": 0.2, "face_w": 0.3, "face_h": 0.4,
                "is_primary": i % 3 == 1, "speaking": 0.7 if i % 3 else None,
            },
        )  # fmt: skip


def main(n: int, root: str) -> None:
    reported: list[list[str]] = []
    options = PipelineOptions(["--direct_num_workers=1", "--direct_running_mode=in_memory"])
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.Create(list(range((n + CHUNK - 1) // CHUNK)))
            | beam.FlatMap(rows, n)
            | WritePartitioned("traces", root)
            | beam.combiners.ToList()
            | beam.Map(lambda files: print(json.dumps([list(f) for f in files]), flush=True))
        )
    del reported


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
