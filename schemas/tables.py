"""Arrow schemas of every output table: the single source of truth.

Writers build rows with these schemas; readers and tests check against them. docs/schema.md documents
each column. Later work may add columns; it never drops or retypes these.
"""

from __future__ import annotations

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
        pa.field("attn_face", pa.float32(), nullable=False),  # modality weights, sum to 1 (or 0, 0)
        pa.field("attn_audio", pa.float32(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
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
        pa.field("model_version", pa.string()),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

TABLES: dict[str, pa.Schema] = {"traces": TRACES, "videos": VIDEOS}
