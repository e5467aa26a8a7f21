"""Arrow schemas of every output table: the single source of truth.

Writers build rows with these schemas; readers and tests check against them. docs/schema.md documents
each column. Later work may add columns; it never drops or retypes these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

TRACES = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string()),
        pa.field("track_id", pa.int32()),  # null on steps without a face
        pa.field("t_s", pa.float64(), nullable=False),  # step start, seconds
        pa.field("step_s", pa.float32(), nullable=False),
        pa.field("arousal", pa.float32(), nullable=False),  # [-1, 1]
        pa.field("valence", pa.float32(), nullable=False),  # [-1, 1]
        pa.field("face_present", pa.bool_(), nullable=False),
        pa.field("audio_present", pa.bool_(), nullable=False),
        pa.field("speech_prob", pa.float32()),  # [0, 1] speech activity (docs/audio.md); null without audio
        # Modality weights per dimension: each (face, audio) pair sums to 1 (or is 0, 0).
        pa.field("attn_face_arousal", pa.float32(), nullable=False),
        pa.field("attn_audio_arousal", pa.float32(), nullable=False),
        pa.field("attn_face_valence", pa.float32(), nullable=False),
        pa.field("attn_audio_valence", pa.float32(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),  # emotrace.__version__
        pa.field("config_hash", pa.string(), nullable=False),  # schemas.lineage.config_hash
        pa.field("face_score", pa.float32()),  # RetinaFace score of this track's face; null without one
        pa.field("face_x", pa.float32()),  # face box left / frame width; null without a face
        pa.field("face_y", pa.float32()),  # face box top / frame height
        pa.field("face_w", pa.float32()),  # face box width / frame width
        pa.field("face_h", pa.float32()),  # face box height / frame height
        pa.field("is_primary", pa.bool_(), nullable=False),  # the post's primary track (see TRACKS)
    ]
)

VIDEOS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string()),
        pa.field("video_uri", pa.string(), nullable=False),
        pa.field("posted_at", pa.string()),
        pa.field("status", pa.string(), nullable=False),  # ok | failed | skipped
        pa.field("error_code", pa.string()),  # null when ok; schemas.errors.ErrorCode otherwise
        pa.field("error_message", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("has_audio", pa.bool_()),
        pa.field("has_video", pa.bool_()),
        pa.field("n_tracks", pa.int32()),
        pa.field("n_steps", pa.int64()),  # trace rows written for this video
        pa.field("partial", pa.bool_()),  # traces cover only part of the video (see error_message)
        pa.field("model_version", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
    ]
)

# Per-post and per-user aggregates (``emotrace aggregate``; definitions in analytics/aggregate.py).
AGGREGATE_STATS: list[pa.Field] = [
    pa.field("n_posts", pa.int32(), nullable=False),
    pa.field("seconds_analysed", pa.float64(), nullable=False),  # wall-clock seconds with a selected row
    pa.field("face_coverage", pa.float64(), nullable=False),  # share of those seconds, [0, 1]
    pa.field("audio_coverage", pa.float64(), nullable=False),
    *[
        pa.field(f"{dim}_{stat}", pa.float64(), nullable=False)  # step_s-weighted, [-1, 1] (std [0, 1])
        for dim in ("arousal", "valence")
        for stat in ("mean", "median", "std", "p10", "p90")
    ],
    pa.field("positive_valence_share", pa.float64(), nullable=False),  # share of time with valence > 0
    pa.field("peak_arousal", pa.float64(), nullable=False),
    pa.field("peak_t_s", pa.float64(), nullable=False),  # step start of the peak, seconds into its post
    pa.field("peak_post_id", pa.string(), nullable=False),
    pa.field("arousal_variability", pa.float64()),  # mean |change| per second; null: no adjacent steps
    pa.field("valence_variability", pa.float64()),
    pa.field("tracks", pa.string(), nullable=False),  # primary | all
    pa.field("model_version", pa.string(), nullable=False),  # of the input rows; several: comma-joined
    pa.field("source_run_ids", pa.string(), nullable=False),  # analyze runs read, comma-joined
    pa.field("run_id", pa.string(), nullable=False),  # the aggregate run
    pa.field("pipeline_version", pa.string(), nullable=False),
]

POST_AGGREGATES = pa.schema(
    [pa.field("post_id", pa.string(), nullable=False), pa.field("user_id", pa.string()), *AGGREGATE_STATS]
)
USER_AGGREGATES = pa.schema([pa.field("user_id", pa.string()), *AGGREGATE_STATS])

# One row per face track of each successfully analysed video (features/track_stats.py).
TRACKS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("track_id", pa.int32(), nullable=False),
        pa.field("first_s", pa.float64(), nullable=False),  # start of the first step with this face, s
        pa.field("last_s", pa.float64(), nullable=False),  # start of the last step with this face, s
        pa.field("n_steps", pa.int32(), nullable=False),  # steps where this face was detected
        pa.field("mean_score", pa.float32(), nullable=False),  # mean RetinaFace score
        pa.field("mean_area", pa.float32(), nullable=False),  # mean box area / frame area, [0, 1]
        pa.field("is_primary", pa.bool_(), nullable=False),  # most screen time weighted by face size
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
    ]
)

# Hive partition folders (posted_date=YYYY-MM-DD) of traces and videos; pass to readers that must be told.
PARTITIONING = pa.schema([pa.field("posted_date", pa.date32())])

TABLES: dict[str, pa.Schema] = {
    "traces": TRACES,
    "videos": VIDEOS,
    "tracks": TRACKS,
    "post_aggregates": POST_AGGREGATES,
    "user_aggregates": USER_AGGREGATES,
}


class RowShapeError(ValueError):
    """A row that does not have exactly its table's columns, or a null where the schema forbids one: a
    bug in the code that built the row, caught before a file is written (Arrow itself would drop an
    unknown key and fill a missing or null non-nullable column with null)."""


def check_row(row: Mapping[str, object], schema: pa.Schema, where: str = "row") -> None:
    """Raise :class:`RowShapeError` unless ``row``'s keys are exactly ``schema``'s names and no
    non-nullable column holds None."""
    if row.keys() != set(schema.names):
        missing, extra = sorted(set(schema.names) - row.keys()), sorted(row.keys() - set(schema.names))
        raise RowShapeError(f"{where}: missing {missing}, unknown {extra} (schema: {schema.names})")
    nulls = [f.name for f in schema if not f.nullable and row[f.name] is None]
    if nulls:
        raise RowShapeError(f"{where}: null in non-nullable column(s) {nulls}")


def checked_batch(rows: Sequence[Mapping[str, object]], schema: pa.Schema) -> pa.RecordBatch:
    """``rows`` as one record batch of ``schema``, each row first checked by :func:`check_row`."""
    for i, row in enumerate(rows):
        check_row(row, schema, f"row {i}")
    return pa.RecordBatch.from_pylist(list(rows), schema=schema)
