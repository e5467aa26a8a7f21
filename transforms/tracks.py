"""One video's predictions become its trace rows: overlapping windows blended, segments stitched into
video-wide tracks, the ``tracks`` rows, and the stitched ``track_id`` and ``is_primary`` on trace rows.

Track ids come from one tracker per segment (``features.segments``), a video's primary track is known
only when all of it is done, and a step's prediction is a blend of every window over it
(``features.blend``), while predictions come out of the model one batch of windows at a time. So the
predictions, without their crops and descriptors, meet their video's ``SegmentTracks`` here in a
``CoGroupByKey`` keyed by the input; trace rows are built after blending, with segment-local ids and
``is_primary`` False, then given the stitched ids. A group holds per-step numbers and per-segment track
sums, never crops: an hour of video at a 1 s hop is 3,600 windows of a few KB per lane.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from emotrace.features.blend import blend_windows, without_inputs
from emotrace.features.segments import SegmentOwners, stitch_tracks, stitched_sums
from emotrace.features.track_stats import primary_track, summaries
from emotrace.schemas.config import GridConfig
from emotrace.schemas.keys import InputKey, key_of
from emotrace.schemas.lineage import posted_date
from emotrace.schemas.records import (
    PartitionRow,
    SegmentTracks,
    StepsWritten,
    TrackSummary,
    WindowPrediction,
)
from emotrace.schemas.rows import track_row
from emotrace.schemas.step_time import step_of_start
from emotrace.transforms.partitioned import keyed_trace_steps

Stitched = PartitionRow | TrackSummary | StepsWritten  # StitchTracks' one output, split by type


def read_weights(uri: str | None) -> bytes | None:
    """RetinaFace ONNX bytes from any FileSystems URI (local, gs://); None keeps the packaged weights."""
    if uri is None:
        return None
    with FileSystems.open(uri, compression_type="uncompressed") as f:
        return f.read()


def keyed_track_row(summary: TrackSummary, run_id: str, config_hash: str) -> PartitionRow:
    """A ``tracks`` row keyed by its post's date, partitioned like traces and videos."""
    return PartitionRow(posted_date(summary.ref.posted_at), track_row(summary, run_id, config_hash))


def keyed_scores(pred: WindowPrediction) -> tuple[InputKey, WindowPrediction]:
    """``(input key, the prediction without its crops and descriptors)``: what ``StitchTracks`` blends."""
    return key_of(pred.window.ref), without_inputs(pred)


def stitch_video(
    joined: tuple[InputKey, dict[str, list[Any]]], grid: GridConfig, run_id: str, config_hash: str
) -> Iterator[Stitched]:
    """One video's trace rows (``PartitionRow``), blended, with stitched track ids and ``is_primary``,
    its ``TrackSummary``s and its count of rows (``StepsWritten``)."""
    key, parts = joined
    segments: list[SegmentTracks] = parts["segments"]
    rows = [
        pair
        for pred in blend_windows(parts["windows"], grid.hop)
        for pair in keyed_trace_steps(pred, run_id, config_hash)
    ]
    yield StepsWritten(key, len(rows))
    if not segments:  # never decoded (refused before decoding): no rows and no tracks either
        yield from rows
        return
    mapping = stitch_tracks(segments)
    sums = stitched_sums(segments, mapping)
    primary = primary_track(sums)
    owner = SegmentOwners(segments)
    for partition, step in rows:
        local = step.track_id
        track = None if local is None else mapping[(owner(step_of_start(step.t_s, step.step_s)), local)]
        yield PartitionRow(
            partition, step._replace(track_id=track, is_primary=track is not None and track == primary)
        )
    yield from summaries(segments[0].ref, sums, grid.step_s)


class StitchTracks(beam.PTransform):
    """``(input key, prediction without inputs)`` pairs (``keyed_scores``) -> ``PartitionRow`` trace
    rows, blended, with video-wide track ids and ``is_primary``, the ``TrackSummary``s, and a
    ``StepsWritten`` per video: one output, split by type downstream.

    ``segments``: the ``SegmentTracks`` of every decoded segment (from ExtractWindows).
    """

    def __init__(self, segments: beam.PCollection, grid: GridConfig, run_id: str, config_hash: str) -> None:
        super().__init__()
        self._segments = segments
        self._grid = grid
        self._run_id = run_id
        self._config_hash = config_hash

    def expand(self, pairs: beam.PCollection) -> beam.PCollection:
        segments = self._segments | "KeySegments" >> beam.Map(lambda t: (key_of(t.ref), t))
        stitch = beam.FlatMap(stitch_video, self._grid, self._run_id, self._config_hash)
        return {"windows": pairs, "segments": segments} | "Join" >> beam.CoGroupByKey() | "Stitch" >> stitch
