"""Join everything known about each video into its single ``videos`` row.

Extraction says how decoding went; inference may still fail for a batch holding some of the video's
windows; trace rows say how many steps were written. All three meet here, keyed by the input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import apache_beam as beam

from emotrace.schemas.errors import ErrorCode, Status
from emotrace.schemas.keys import InputKey, key_of
from emotrace.schemas.records import BatchFailed, StepsWritten, VideoOutcome
from emotrace.schemas.rows import Row, video_row


def failed_videos(failure: BatchFailed) -> Iterable[tuple[InputKey, str]]:
    """A batch the model raised on: blame every video with a window in it."""
    for ref in failure.refs:
        yield key_of(ref), failure.message


def merge_segments(outcomes: list[VideoOutcome]) -> VideoOutcome:
    """One video's outcome from its segments' (a short video has one segment, returned as it is).

    The video is ok when every segment is; otherwise it takes the first failing segment's status and
    error, named with where that segment starts. Partial when any segment is. A segment missing or
    reported twice is a bug, and says so in the row rather than vanish.
    """
    ordered = sorted(outcomes, key=lambda o: o.segment)
    first = ordered[0]
    n = first.n_segments
    if [o.segment for o in ordered] != list(range(n)) or any(o.n_segments != n for o in ordered):
        got = [f"{o.segment}/{o.n_segments}" for o in ordered]
        return dataclasses.replace(
            first,
            status=Status.FAILED,
            error_code=ErrorCode.INTERNAL_ERROR.value,
            error_message=f"expected outcomes of segments 0..{n - 1}, got {got}",
            segment=0,
            n_segments=n,
        )
    if n == 1:
        return first
    bad = [o for o in ordered if o.status != Status.OK]
    partial = [o for o in ordered if o.partial]
    merged = dataclasses.replace(first, partial=bool(partial), segment=0)
    if bad:
        b = bad[0]
        merged = dataclasses.replace(
            merged,
            status=b.status,
            error_code=b.error_code,
            error_message=f"segment {b.segment + 1}/{n}: {b.error_message}",
        )
    elif partial:
        merged = dataclasses.replace(merged, error_message=partial[0].error_message)
    return merged


def final_row(
    joined: tuple[InputKey, dict[str, list[Any]]], run_id: str, model_version: str, config_hash: str
) -> Row:
    _, parts = joined
    outcome = merge_segments(parts["outcome"])  # one per segment, by construction of ExtractWindows
    n_steps = sum(parts["steps"])
    if outcome.status == Status.OK and parts["errors"]:
        outcome = dataclasses.replace(
            outcome,
            status=Status.FAILED,
            error_code=ErrorCode.INFERENCE_FAILED.value,
            error_message=parts["errors"][0],
        )
    # A failure after some windows went out leaves partial traces: flag them rather than hide them.
    partial = outcome.partial or (outcome.status != Status.OK and n_steps > 0)
    # Stitched tracks (StitchTracks) when any segment decoded; else what extraction counted (none).
    n_tracks = len(parts["tracks"]) if parts.get("tracks") else outcome.n_tracks
    outcome = dataclasses.replace(outcome, n_steps=n_steps, partial=partial, n_tracks=n_tracks)
    return video_row(outcome, run_id, model_version, config_hash)


def _steps_pair(steps: StepsWritten) -> tuple[InputKey, int]:
    return steps.key, steps.n_rows


class JoinOutcomes(beam.PTransform):
    """``{"outcomes": VideoOutcome per segment, "steps": StepsWritten per video, "inference_errors":
    BatchFailed per failed model batch, "tracks": stitched TrackSummary}`` -> one ``videos`` row per
    input."""

    def __init__(self, run_id: str, model_version: str, config_hash: str) -> None:
        super().__init__()
        self._run_id = run_id
        self._model_version = model_version
        self._config_hash = config_hash

    def expand(self, pcolls: dict[str, beam.PCollection]) -> beam.PCollection:
        outcomes: beam.PCollection[VideoOutcome] = pcolls["outcomes"]
        keyed = {
            "outcome": outcomes | "KeyOutcome" >> beam.Map(lambda o: (key_of(o.ref), o)),
            "steps": pcolls["steps"] | "KeySteps" >> beam.Map(_steps_pair),
            "errors": pcolls["inference_errors"] | "BlameBatch" >> beam.FlatMap(failed_videos),
            "tracks": pcolls["tracks"] | "KeyTracks" >> beam.Map(lambda t: (key_of(t.ref), t.track_id)),
        }
        return (
            keyed
            | "Join" >> beam.CoGroupByKey()
            | "VideoRow" >> beam.Map(final_row, self._run_id, self._model_version, self._config_hash)
        )
