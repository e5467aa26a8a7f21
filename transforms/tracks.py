"""Face tracks out of the pipeline: segments stitched into video-wide tracks, the ``tracks`` rows,
and the stitched ``track_id`` and ``is_primary`` on trace rows.

Track ids come from one tracker per segment (``features.segments``), and a video's primary track is
known only when all of it is done, while its trace rows are written from predictions that come
earlier. So trace rows leave ``trace_rows`` with segment-local ids and ``is_primary`` False, and meet
their video's ``SegmentTracks`` here in a ``CoGroupByKey`` keyed by the input. A group holds one
video's trace rows and per-segment track sums, never crops: an hour of video is ~18k small dicts per
lane.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from emotrace.features.segments import SegmentOwners, stitch_tracks, stitched_sums
from emotrace.features.track_stats import primary_track, summaries
from emotrace.schemas.lineage import posted_date
from emotrace.schemas.records import SegmentTracks, TrackSummary, WindowPrediction
from emotrace.schemas.rows import Row, track_row
from emotrace.transforms.outcomes import Key, key_of
from emotrace.transforms.partitioned import keyed_trace_rows

TRACKS = "tracks"  # tagged outputs: SegmentTracks from ExtractWindows, TrackSummary from StitchTracks


def read_weights(uri: str | None) -> bytes | None:
    """RetinaFace ONNX bytes from any FileSystems URI (local, gs://); None keeps the packaged weights."""
    if uri is None:
        return None
    with FileSystems.open(uri, compression_type="uncompressed") as f:
        return f.read()


def keyed_track_row(summary: TrackSummary, run_id: str, config_hash: str) -> tuple[str, Row]:
    """A ``tracks`` row keyed by its post's date, partitioned like traces and videos."""
    return posted_date(summary.ref.posted_at), track_row(summary, run_id, config_hash)


def keyed_trace_rows_by_video(
    pred: WindowPrediction, run_id: str, config_hash: str
) -> list[tuple[Key, tuple[str, Row]]]:
    """``(input key, (partition, trace row))`` for each valid step of the window."""
    return [(key_of(pred.window.ref), pair) for pair in keyed_trace_rows(pred, run_id, config_hash)]


def stitch_video(joined: tuple[Key, dict[str, list[Any]]], step_s: float) -> Iterator[Any]:
    """One video's rows with stitched track ids and ``is_primary`` (main output), and its
    ``TrackSummary``s (``tracks`` output)."""
    _, parts = joined
    segments: list[SegmentTracks] = parts["segments"]
    if not segments:  # never decoded (refused before decoding): no rows and no tracks either
        yield from parts["rows"]
        return
    mapping = stitch_tracks(segments)
    sums = stitched_sums(segments, mapping)
    primary = primary_track(sums)
    owner = SegmentOwners(segments)
    for partition, row in parts["rows"]:
        local = row["track_id"]
        track = None if local is None else mapping[(owner(round(row["t_s"] / row["step_s"])), local)]
        yield partition, {**row, "track_id": track, "is_primary": track is not None and track == primary}
    for summary in summaries(segments[0].ref, sums, step_s):
        yield beam.pvalue.TaggedOutput(TRACKS, summary)


class StitchTracks(beam.PTransform):
    """``(input key, (partition, trace row))`` pairs -> ``(partition, trace row)`` pairs with
    video-wide track ids and ``is_primary``; tagged output ``tracks``: the ``TrackSummary``s.

    ``segments``: the ``SegmentTracks`` of every decoded segment (ExtractWindows' ``tracks`` output).
    """

    def __init__(self, segments: beam.PCollection, step_s: float) -> None:
        super().__init__()
        self._segments = segments
        self._step_s = step_s

    def expand(self, pairs: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        segments = self._segments | "KeySegments" >> beam.Map(lambda t: (key_of(t.ref), t))
        return (
            {"rows": pairs, "segments": segments}
            | "Join" >> beam.CoGroupByKey()
            | "Stitch" >> beam.FlatMap(stitch_video, self._step_s).with_outputs(TRACKS, main="rows")
        )
