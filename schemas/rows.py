"""Build table rows (plain dicts keyed by the columns of ``schemas.tables``) from records; trace rows
travel typed (``TraceStep``) until the writer.

The only code that knows how a prediction becomes trace rows, so the Beam writer, tests and any
notebook produce identical rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emotrace.schemas.lineage import PIPELINE_VERSION
from emotrace.schemas.records import TraceStep, TrackSummary, VideoOutcome, WindowPrediction
from emotrace.schemas.step_time import step_start_s
from emotrace.schemas.tables import TRACES

Row = dict[str, Any]


# TraceStep (schemas/records.py, where no Arrow is imported) holds the traces table's columns, in order:
# the Arrow schema stays the one source of truth, checked here where both meet.
if TraceStep._fields != tuple(TRACES.names):
    raise ImportError(f"TraceStep fields {TraceStep._fields} differ from the traces schema {TRACES.names}")


def trace_steps(pred: WindowPrediction, run_id: str, config_hash: str) -> list[TraceStep]:
    """One step per valid step of the window, in time order; ``config_hash``: see ``schemas.lineage``."""
    w = pred.window
    out: list[TraceStep] = []
    for i in np.flatnonzero(w.valid):
        step = w.start_step + int(i)
        att = pred.attention[i]
        out.append(
            TraceStep(
                w.ref.post_id,
                w.ref.user_id,
                w.track_id,
                step_start_s(step, w.step_s),
                float(w.step_s),
                float(pred.arousal[i]),
                float(pred.valence[i]),
                bool(w.face_mask[i]),
                bool(w.audio_mask[i]),
                _per_step(w.speech_prob, i),
                float(att[0, 0]),
                float(att[0, 1]),
                float(att[1, 0]),
                float(att[1, 1]),
                pred.model_version,
                run_id,
                PIPELINE_VERSION,
                config_hash,
                *_face_columns(w.face_score, w.face_box, w.face_mask, i),
                False,  # is_primary: set once the video's tracks are known (transforms/tracks.py)
                _per_step(w.speaking, i),
            )
        )
    return out


def trace_rows(pred: WindowPrediction, run_id: str, config_hash: str) -> list[Row]:
    """The rows of :func:`trace_steps`, as the traces table holds them (for notebooks and tests)."""
    return [s.as_row() for s in trace_steps(pred, run_id, config_hash)]


_NO_FACE: tuple[None, ...] = (None,) * 5


def _face_columns(
    score: np.ndarray | None, box: np.ndarray | None, face_mask: np.ndarray, i: int
) -> tuple[float | None, ...]:
    """Step ``i``'s face score and normalised box (x, y, w, h); nulls where this lane has no face."""
    if score is None or box is None or not face_mask[i] or not np.isfinite(score[i]):
        return _NO_FACE
    return (float(score[i]), *(float(v) for v in box[i]))


def track_row(summary: TrackSummary, run_id: str, config_hash: str) -> Row:
    """A ``tracks`` row for one face track."""
    return {
        "post_id": summary.ref.post_id,
        "track_id": summary.track_id,
        "first_s": summary.first_s,
        "last_s": summary.last_s,
        "n_steps": summary.n_steps,
        "mean_score": summary.mean_score,
        "mean_area": summary.mean_area,
        "is_primary": summary.is_primary,
        "run_id": run_id,
        "pipeline_version": PIPELINE_VERSION,
        "config_hash": config_hash,
    }


def _per_step(values: np.ndarray | None, i: int) -> float | None:
    """Step ``i``'s value of a per-step float array (speech_prob, speaking), or None (null) where it is
    NaN (no soundtrack there; for ``speaking`` also no face) or the array was not computed. Not tied to
    ``audio_mask``: a face row whose audio was gated off still says how much speech there was."""
    if values is None or not np.isfinite(values[i]):
        return None
    return float(values[i])


def video_row(outcome: VideoOutcome, run_id: str, model_version: str | None, config_hash: str) -> Row:
    ref, info = outcome.ref, outcome.info
    return {
        "post_id": ref.post_id,
        "user_id": ref.user_id,
        "video_uri": ref.video_uri,
        "posted_at": ref.posted_at,
        "status": outcome.status,
        "error_code": outcome.error_code,
        "error_message": outcome.error_message,
        "duration_s": info.duration_s if info else None,
        "has_audio": info.has_audio if info else None,
        "has_video": info.has_video if info else None,
        "n_tracks": outcome.n_tracks,
        "n_steps": outcome.n_steps,
        "partial": outcome.partial,
        "model_version": model_version,
        "run_id": run_id,
        "pipeline_version": PIPELINE_VERSION,
        "config_hash": config_hash,
    }
