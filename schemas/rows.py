"""Build table rows (plain dicts keyed by the columns of ``schemas.tables``) from records.

The only code that knows how a prediction becomes trace rows, so the Beam writer, tests and any
notebook produce identical rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emotrace.schemas.records import VideoOutcome, WindowPrediction

Row = dict[str, Any]


def trace_rows(pred: WindowPrediction, run_id: str) -> list[Row]:
    """One row per valid step of the window, in time order."""
    w = pred.window
    rows: list[Row] = []
    for i in np.flatnonzero(w.valid):
        step = w.start_step + int(i)
        face = bool(w.face_mask[i])
        rows.append(
            {
                "post_id": w.ref.post_id,
                "user_id": w.ref.user_id,
                "track_id": w.track_id,
                "t_s": round(step * w.step_s, 6),  # rounding keeps 0.6 from printing as 0.6000000000000001
                "step_s": float(w.step_s),
                "arousal": float(pred.arousal[i]),
                "valence": float(pred.valence[i]),
                "face_present": face,
                "audio_present": bool(w.audio_mask[i]),
                "attn_face": float(pred.attention[i, 0]),
                "attn_audio": float(pred.attention[i, 1]),
                "model_version": pred.model_version,
                "run_id": run_id,
            }
        )
    return rows


def video_row(outcome: VideoOutcome, run_id: str, model_version: str | None) -> Row:
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
        "model_version": model_version,
        "run_id": run_id,
    }
