"""Beam glue for ``emotrace aggregate``: trace rows -> per-post or per-user aggregate rows.

All arithmetic lives in ``emotrace.analytics.aggregate``; this only groups rows by post (and then by
user) and stamps the aggregate run's lineage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam

from emotrace.analytics.aggregate import Lane, post_aggregate, select_lanes, user_aggregate
from emotrace.schemas.lineage import PIPELINE_VERSION

Row = dict[str, Any]
BY = ("post", "user")


class AggregateTraces(beam.PTransform):
    """Trace row dicts -> ``post_aggregates`` rows (``by="post"``) or ``user_aggregates`` rows."""

    def __init__(self, by: str, all_tracks: bool, run_id: str) -> None:
        super().__init__()
        if by not in BY:
            raise ValueError(f"--by must be one of {BY}, got {by!r}")
        self._by, self._all_tracks = by, all_tracks
        self._lineage = {
            "tracks": "all" if all_tracks else "primary",
            "run_id": run_id,
            "pipeline_version": PIPELINE_VERSION,
        }

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        all_tracks, lineage = self._all_tracks, self._lineage  # closures pickle these, not the transform
        keyed = rows | "KeyByPost" >> beam.Map(lambda r: (r["post_id"], r))
        posts = keyed | "GroupPosts" >> beam.GroupByKey()
        if self._by == "post":

            def post_row(post_id: str, post_rows: Iterable[Row]) -> Row:
                return {**post_aggregate(post_id, list(post_rows), all_tracks), **lineage}

            return posts | "PostRow" >> beam.MapTuple(post_row)

        def user_of(post_id: str, post_rows: Iterable[Row]) -> tuple[str | None, list[Lane]]:
            lanes = select_lanes(list(post_rows), all_tracks)
            return lanes[0][0].get("user_id"), lanes

        def user_row(user_id: str | None, post_lanes: Iterable[list[Lane]]) -> Row:
            return {**user_aggregate(user_id, list(post_lanes)), **lineage}

        return (
            posts
            | "SelectLanes" >> beam.MapTuple(user_of)
            | "GroupUsers" >> beam.GroupByKey()
            | "UserRow" >> beam.MapTuple(user_row)
        )
