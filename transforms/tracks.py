"""Face tracks out of the pipeline: the ``tracks`` rows, and ``is_primary`` on trace rows.

A video's primary track is known only when the video is done, but its trace rows are written from
predictions that may come earlier. So trace rows leave ``trace_rows`` with ``is_primary`` False and
meet their post's primary track id here in a ``CoGroupByKey`` keyed by ``post_id`` (rows carry no
video URI; two inputs with one post id already share their rows' identity). A group holds one post's
trace rows, never crops: an hour of video is ~18k small dicts per lane.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from emotrace.schemas.lineage import posted_date
from emotrace.schemas.records import TrackSummary
from emotrace.schemas.rows import Row, track_row

TRACKS = "tracks"  # ExtractWindows' tagged output of TrackSummary elements


def read_weights(uri: str | None) -> bytes | None:
    """RetinaFace ONNX bytes from any FileSystems URI (local, gs://); None keeps the packaged weights."""
    if uri is None:
        return None
    with FileSystems.open(uri, compression_type="uncompressed") as f:
        return f.read()


def keyed_track_row(summary: TrackSummary, run_id: str, config_hash: str) -> tuple[str, Row]:
    """A ``tracks`` row keyed by its post's date, partitioned like traces and videos."""
    return posted_date(summary.ref.posted_at), track_row(summary, run_id, config_hash)


def _mark(joined: tuple[str, dict[str, list[Any]]]) -> Iterator[tuple[str, Row]]:
    _, parts = joined
    primary = set(parts["primary"])
    for partition, row in parts["rows"]:
        yield partition, {**row, "is_primary": row["track_id"] is not None and row["track_id"] in primary}


class MarkPrimary(beam.PTransform):
    """``(partition, trace row)`` pairs -> the same pairs with ``is_primary`` set from ``summaries``."""

    def __init__(self, summaries: beam.PCollection) -> None:
        super().__init__()
        self._summaries = summaries

    def expand(self, pairs: beam.PCollection) -> beam.PCollection:
        primaries = (
            self._summaries
            | "Primaries" >> beam.Filter(lambda s: s.is_primary)
            | "KeyPrimary" >> beam.Map(lambda s: (s.ref.post_id, s.track_id))
        )
        rows = pairs | "KeyRows" >> beam.Map(lambda pair: (pair[1]["post_id"], pair))
        return (
            {"rows": rows, "primary": primaries}
            | "Join" >> beam.CoGroupByKey()
            | "Mark" >> beam.FlatMap(_mark)
        )
