"""What each documented query in docs/queries.md should return, computed independently with pandas
from the Parquet files (committed runs only), keyed by the heading the query sits under."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds


def committed(out: Path) -> set[str]:
    return {json.loads(p.read_text())["run_id"] for p in (out / "_runs").glob("*.json")}


def table(out: Path, name: str) -> pd.DataFrame:
    partitioning = "hive" if name in ("traces", "videos") else None
    df = ds.dataset(str(out / name), format="parquet", partitioning=partitioning).to_table().to_pandas()
    if name in ("traces", "videos"):
        df = df[df.run_id.isin(committed(out))].copy()
        df["posted_date"] = pd.to_datetime(df["posted_date"], errors="coerce").dt.date
    return df


def _weighted(df: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    w = df.assign(_x=df[col] * df.step_s)
    g = w.groupby(keys, dropna=False)
    return (g._x.sum() / g.step_s.sum()).rename(col).reset_index()


def top_posts(out: Path) -> pd.DataFrame:
    t = table(out, "traces")
    res = _weighted(t, ["post_id", "user_id"], "arousal")
    res["seconds"] = t.groupby(["post_id", "user_id"], dropna=False).step_s.sum().values
    return res.sort_values("arousal", ascending=False).head(10)


def top_posts_aggregates(out: Path) -> pd.DataFrame:
    a = table(out, "post_aggregates")
    cols = [
        "post_id",
        "user_id",
        "arousal_mean",
        "arousal_p90",
        "peak_arousal",
        "peak_t_s",
        "seconds_analysed",
    ]
    return a[cols].sort_values("arousal_mean", ascending=False).head(10)


def valence_by_month(out: Path) -> pd.DataFrame:
    t = table(out, "traces")
    t = t[(t.user_id == "user_a") & t.posted_date.notna()].copy()
    t["month"] = [d.replace(day=1) for d in t.posted_date]
    res = _weighted(t, ["user_id", "month"], "valence")
    res["posts"] = t.groupby(["user_id", "month"]).post_id.nunique().values
    return res.sort_values("month")


def one_day(out: Path) -> pd.DataFrame:
    t = table(out, "traces")
    t = t[t.posted_date == pd.Timestamp("2024-05-01").date()].assign(end=lambda d: d.t_s + d.step_s)
    g = t.groupby("post_id")
    return pd.DataFrame({"rows": g.size(), "first_s": g.t_s.min(), "last_s": g.end.max()}).reset_index()


def coverage(out: Path) -> pd.DataFrame:
    t, v = table(out, "traces"), table(out, "videos")
    steps = t.groupby(["post_id", "t_s"]).agg(step_s=("step_s", "max"), face=("face_present", "any"),
                                               audio=("audio_present", "any")).reset_index()  # fmt: skip
    j = v[v.status == "ok"][["post_id", "duration_s"]].merge(steps, on="post_id")
    rows = []
    for (post, duration), s in j.groupby(["post_id", "duration_s"]):
        total = s.step_s.sum()
        rows.append((post, duration, total, s.step_s[s.face].sum() / total, s.step_s[s.audio].sum() / total))
    res = pd.DataFrame(rows, columns=["post_id", "duration_s", "seconds_traced", "face_share", "audio_share"])
    return res.sort_values("face_share")


def failures(out: Path) -> pd.DataFrame:
    v = table(out, "videos")
    bad = v[v.status != "ok"]
    return (
        bad.groupby("error_code").size().rename("videos").reset_index().sort_values("videos", ascending=False)
    )


def every_input(out: Path) -> pd.DataFrame:
    v = table(out, "videos")
    g = v.groupby(["run_id", "status"])
    return pd.DataFrame({"videos": g.size(), "trace_rows": g.n_steps.sum()}).reset_index()


def latest_run(out: Path) -> pd.DataFrame:
    t = table(out, "traces")
    t = t[t.run_id == t.groupby("post_id").run_id.transform("max")]
    res = _weighted(t, ["post_id", "run_id"], "arousal")
    res.insert(2, "rows", t.groupby(["post_id", "run_id"]).size().values)
    return res.sort_values("post_id")


def lineage(out: Path) -> pd.DataFrame:
    t = table(out, "traces")
    keys = ["model_version", "config_hash", "pipeline_version", "run_id"]
    return t.groupby(keys).size().rename("rows").reset_index().sort_values("rows", ascending=False)


def users(out: Path) -> pd.DataFrame:
    u = table(out, "user_aggregates")
    cols = [
        "user_id",
        "n_posts",
        "seconds_analysed",
        "positive_valence_share",
        "valence_mean",
        "arousal_variability",
    ]
    return u[cols].sort_values(["positive_valence_share", "arousal_variability"], ascending=False)


def moments(out: Path) -> pd.DataFrame:
    t, a = table(out, "traces"), table(out, "post_aggregates")
    j = t.merge(a[["post_id", "peak_t_s"]], on="post_id")
    j = j[(j.t_s >= j.peak_t_s - 1) & (j.t_s <= j.peak_t_s + 1)]
    return j[["post_id", "t_s", "arousal", "valence", "face_present"]].sort_values(["post_id", "t_s"])


# heading in docs/queries.md -> one oracle per SQL block under it, in order
ORACLES: dict[str, list[Callable[[Path], pd.DataFrame]]] = {
    "Top posts by arousal (time-weighted)": [top_posts, top_posts_aggregates],
    "A user's valence by month": [valence_by_month],
    "One day only (reads one partition folder)": [one_day],
    "Coverage: how much of each video was traced, with a face, with sound": [coverage],
    "Failures by error code": [failures],
    "Every input accounted for (one videos row per input and run)": [every_input],
    "Only the latest run of each post": [latest_run],
    "Lineage: which model, settings and release produced what": [lineage],
    "Users: most positive, most variable": [users],
    "Moments: the highest-arousal second of each post, with its neighbourhood": [moments],
}
