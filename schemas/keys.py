"""The one key of an input in the pipeline's joins: ``(video_uri, post_id)``.

Two manifest rows for the same post of the same file are one input (``transforms.dedupe``); the same
file under two post ids is two. Every ``CoGroupByKey`` and ``GroupByKey`` that gathers one video's
pieces (segments, windows, outcomes) keys by this.
"""

from __future__ import annotations

from emotrace.schemas.records import VideoRef

InputKey = tuple[str, str]  # (canonical video_uri, post_id)


def key_of(ref: VideoRef) -> InputKey:
    return (ref.video_uri, ref.post_id)
