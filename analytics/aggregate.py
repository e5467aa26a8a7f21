"""Per-post and per-user summaries of trace rows (pure: numpy only, no Beam).

Definitions (docs/schema.md repeats them for analysts):

- Rows are trace rows (dicts keyed by ``schemas.tables.TRACES`` columns). Each row stands for
  ``step_s`` seconds, so every statistic is weighted by ``step_s``, never by row count.
- Run: when a post was analysed by several runs, only the rows of its latest ``run_id`` count (run ids
  sort by time), so re-runs never double-count.
- Lanes (``select_lanes``): by default the post's *primary* lane, one row per step: the primary face
  track's row where that face is seen, else the face-less row (``track_id`` null: no face seen, audio or
  nothing; or a voice that no visible face speaks, issue 18), i.e. what the post looks and sounds like
  from its main person's view. The voice enters only through rows it was attributed to (the primary
  face's rows while it speaks, face-less voice rows where that face is not seen), never a listener's.
  The primary track is the one flagged ``is_primary`` when that column
  exists, else the track with the most seconds (ties: lowest ``track_id``). Steps where only a secondary
  face is seen are then missing (gaps). ``all_tracks=True`` keeps every row: statistics are then over
  track-steps (two faces in one step count twice), while coverage still counts wall-clock seconds.
- Weighted quantile at ``q``: the smallest value ``v`` whose cumulative weight (values sorted ascending)
  reaches ``q`` times the total weight (the inverted CDF; numpy's ``method="inverted_cdf"`` with
  ``weights``). The median is the quantile at 0.5. The std is the population std with the same weights.
- Variability: over consecutive rows of one lane (and one post) whose start times differ by more than 0
  and at most the earlier row's ``step_s`` (longer gaps are skipped), ``sum |delta value| / sum delta t``:
  mean absolute change per second. Null when there is no such pair.
- Peak: the row with the highest arousal (ties: earliest post id, then earliest ``t_s``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Row = dict[str, Any]
Lane = list[Row]  # one post's rows of one lane, sorted by t_s

_EPS = 1e-6  # seconds: float slack when comparing step starts


def step_seconds(row: Row) -> float:
    """``step_s`` as written is float32 (0.2 reads back as 0.20000000298); steps are whole microseconds."""
    return round(float(row["step_s"]), 6)


def latest_run(rows: Sequence[Row]) -> list[Row]:
    """Rows of the newest ``run_id`` present (run ids are ``YYYYmmddTHHMMSSZ-xxxxxx``: they sort by time)."""
    if not rows:
        return []
    newest = max(r["run_id"] for r in rows)
    return [r for r in rows if r["run_id"] == newest]


def primary_track(rows: Sequence[Row]) -> int | None:
    """The post's primary face track: ``is_primary`` if that column exists, else the most seconds
    (lowest id on ties); None when the post has no face track."""
    faced = [r for r in rows if r.get("track_id") is not None]
    if not faced:
        return None
    if any("is_primary" in r for r in faced):
        flagged = sorted({r["track_id"] for r in faced if r.get("is_primary")})
        return flagged[0] if flagged else None
    seconds: dict[int, float] = {}
    for r in faced:
        seconds[r["track_id"]] = seconds.get(r["track_id"], 0.0) + step_seconds(r)
    return min(seconds, key=lambda t: (-seconds[t], t))


def select_lanes(rows: Sequence[Row], all_tracks: bool = False) -> list[Lane]:
    """One post's rows -> its lanes, each sorted by ``t_s`` (see the module docstring)."""
    rows = latest_run(rows)
    if all_tracks:
        by_track: dict[int | None, Lane] = {}
        for r in rows:
            by_track.setdefault(r.get("track_id"), []).append(r)
        lanes = [by_track[k] for k in sorted(by_track, key=lambda t: (t is not None, t or 0))]
    else:
        lanes = [_primary_lane(rows)]
    return [sorted(lane, key=lambda r: r["t_s"]) for lane in lanes if lane]


def _primary_lane(rows: Sequence[Row]) -> Lane:
    """One row per step: the primary track's where its face is seen, else the face-less row (a step
    with a voice-over has both: the face's row wins, and the voice counts only where that face is not
    seen, so no step counts twice)."""
    primary = primary_track(rows)

    def step(r: Row) -> tuple[str, float]:
        return r["post_id"], round(float(r["t_s"]), 6)

    faced = [r for r in rows if primary is not None and r.get("track_id") == primary]
    seen = {step(r) for r in faced}
    return faced + [r for r in rows if r.get("track_id") is None and step(r) not in seen]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Inverted-CDF weighted quantile: smallest v with cumulative weight >= q * total."""
    order = np.argsort(values, kind="stable")
    v, cum = values[order], np.cumsum(weights[order])
    idx = int(np.searchsorted(cum, q * cum[-1] - 1e-12 * cum[-1], side="left"))
    return float(v[min(idx, len(v) - 1)])


def variability(lanes: Iterable[Lane], column: str) -> float | None:
    """Mean absolute change per second over adjacent steps of each lane; gaps > one step are skipped."""
    change, span = 0.0, 0.0
    for lane in lanes:
        for a, b in itertools.pairwise(lane):
            dt = float(b["t_s"]) - float(a["t_s"])
            if dt <= _EPS or dt > step_seconds(a) + _EPS:
                continue
            change += abs(float(b[column]) - float(a[column]))
            span += dt
    return change / span if span > 0 else None


def _coverage(rows: Sequence[Row]) -> tuple[float, float, float]:
    """(wall-clock seconds, face share, audio share) over distinct (post, step) pairs."""
    steps: dict[tuple[str, float], list[float]] = {}  # (post, t) -> [seconds, face, audio]
    for r in rows:
        s = steps.setdefault((r["post_id"], round(float(r["t_s"]), 6)), [0.0, 0.0, 0.0])
        s[0] = max(s[0], step_seconds(r))
        s[1] = max(s[1], float(bool(r["face_present"])))
        s[2] = max(s[2], float(bool(r["audio_present"])))
    cells = np.array(list(steps.values()), dtype=np.float64).reshape(-1, 3)
    seconds = float(cells[:, 0].sum())
    if seconds <= 0:
        return 0.0, 0.0, 0.0
    return (
        seconds,
        float((cells[:, 0] * cells[:, 1]).sum() / seconds),
        float((cells[:, 0] * cells[:, 2]).sum() / seconds),
    )


def _dimension(name: str, values: np.ndarray, w: np.ndarray) -> dict[str, float]:
    mean = float(np.sum(w * values) / np.sum(w))
    return {
        f"{name}_mean": mean,
        f"{name}_median": weighted_quantile(values, w, 0.5),
        f"{name}_std": float(np.sqrt(np.sum(w * (values - mean) ** 2) / np.sum(w))),
        f"{name}_p10": weighted_quantile(values, w, 0.1),
        f"{name}_p90": weighted_quantile(values, w, 0.9),
    }


def summarize(lanes: Sequence[Lane]) -> dict[str, Any]:
    """The statistics columns shared by post and user aggregates (see ``schemas.tables.AGGREGATE_STATS``)."""
    rows = [r for lane in lanes for r in lane]
    if not rows:
        raise ValueError("nothing to summarise: no rows selected")
    w = np.array([step_seconds(r) for r in rows])
    arousal = np.array([float(r["arousal"]) for r in rows])
    valence = np.array([float(r["valence"]) for r in rows])
    seconds, face, audio = _coverage(rows)
    peak = min(rows, key=lambda r: (-float(r["arousal"]), r["post_id"], float(r["t_s"])))
    return {
        "n_posts": len({r["post_id"] for r in rows}),
        "seconds_analysed": seconds,
        "face_coverage": face,
        "audio_coverage": audio,
        **_dimension("arousal", arousal, w),
        **_dimension("valence", valence, w),
        "positive_valence_share": float(w[valence > 0].sum() / w.sum()),
        "peak_arousal": float(peak["arousal"]),
        "peak_t_s": float(peak["t_s"]),
        "peak_post_id": peak["post_id"],
        "arousal_variability": variability(lanes, "arousal"),
        "valence_variability": variability(lanes, "valence"),
        "model_version": ",".join(sorted({r["model_version"] for r in rows})),
        "source_run_ids": ",".join(sorted({r["run_id"] for r in rows})),
    }


def post_aggregate(post_id: str, rows: Sequence[Row], all_tracks: bool = False) -> dict[str, Any]:
    """One post's aggregate row (without the aggregate run's lineage columns)."""
    lanes = select_lanes(rows, all_tracks)
    users = sorted({r["user_id"] for lane in lanes for r in lane if r.get("user_id")})  # one, in practice
    return {"post_id": post_id, "user_id": users[0] if users else None, **summarize(lanes)}


def user_aggregate(user_id: str | None, post_lanes: Iterable[Sequence[Lane]]) -> dict[str, Any]:
    """One user's aggregate row from each post's already selected lanes (lanes never cross posts)."""
    lanes = [lane for lanes in post_lanes for lane in lanes]
    return {"user_id": user_id, **summarize(lanes)}
