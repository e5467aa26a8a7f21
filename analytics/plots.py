"""Figures from trace rows (pure: matplotlib with the Agg backend, no Beam, no I/O but ``save``).

- ``trace_figure``: one post over time. Top: arousal and valence of the post's primary lane (the same
  selection as ``emotrace aggregate``), with face presence and audio presence shaded, and a band at
  the bottom where the face is the one speaking (``speaking`` >= 0.5, issue 18); the line breaks
  where steps are missing. Bottom: the model's attention weight on the face for each dimension (the
  voice gets the rest).
- ``plane_figure``: one user's posts on the valence-arousal plane: each post at its time-weighted mean,
  bars from its p10 to its p90 on both axes, marker area by seconds analysed.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on workers or CI; must precede pyplot's import

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from emotrace.analytics.aggregate import Row, post_aggregate, select_lanes, step_seconds
from emotrace.schemas.config import SpeakingConfig

FACE_COLOR, AUDIO_COLOR, SPEAKING_COLOR = "#4c72b0", "#dd8452", "#8172b3"
SPEAKING_GATE = SpeakingConfig().gate  # the plot marks the steps whose row got the voice


def _with_breaks(t: np.ndarray, step: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Insert a NaN after every step followed by a gap, so lines never bridge missing steps."""
    gap = np.flatnonzero(np.diff(t) > step[:-1] + 1e-6) + 1
    t_out = np.insert(t, gap, np.nan)
    return (t_out, *(np.insert(y.astype(np.float64), gap, np.nan) for y in ys))


def _shade(
    ax: plt.Axes,
    t: np.ndarray,
    step: np.ndarray,
    mask: np.ndarray,
    color: str,
    label: str | None,
    band: tuple[float, float] = (0.0, 1.0),
    alpha: float = 0.15,
) -> None:
    """Shade [t, t + step) wherever ``mask`` holds, over ``band`` (axes fraction); one patch per run."""
    spans, first = [], True
    for start, length, on in zip(t, step, mask, strict=True):
        if on and spans and abs(spans[-1][1] - start) < 1e-6:
            spans[-1][1] = start + length
        elif on:
            spans.append([start, start + length])
    for a, b in spans:
        ax.axvspan(a, b, *band, color=color, alpha=alpha, lw=0, label=label if first else None)
        first = False


def trace_figure(rows: Sequence[Row], title: str | None = None) -> Figure:
    """One post's rows (``schemas.tables.TRACES`` dicts) -> figure; raises ValueError when empty."""
    lanes = select_lanes(rows)
    if not lanes:
        raise ValueError("no trace rows to plot")
    lane = lanes[0]
    t = np.array([float(r["t_s"]) for r in lane])
    step = np.array([step_seconds(r) for r in lane])
    col = {
        k: np.array([r[k] for r in lane])
        for k in ("arousal", "valence", "attn_face_arousal", "attn_face_valence")
    }
    face = np.array([bool(r["face_present"]) for r in lane])
    audio = np.array([bool(r["audio_present"]) for r in lane])
    # speaking (issue 18): this face is the one talking; null on face-less rows and without soundtrack
    speaking = np.array(
        [r.get("speaking") is not None and float(r["speaking"]) >= SPEAKING_GATE for r in lane]
    )

    fig, (top, strip, bottom) = plt.subplots(
        3, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 0.45, 1]}, layout="constrained"
    )
    _shade(top, t, step, face, FACE_COLOR, "face present")  # the face the lines come from
    _shade(strip, t, step, face, FACE_COLOR, None, band=(0.55, 0.95), alpha=0.6)
    _shade(strip, t, step, audio, AUDIO_COLOR, None, band=(0.05, 0.45), alpha=0.6)
    _shade(top, t, step, speaking, SPEAKING_COLOR, "speaking", band=(0.0, 0.06), alpha=0.7)
    strip.set(ylim=(0, 1), yticks=[0.25, 0.75], yticklabels=["audio", "face"])
    strip.tick_params(axis="y", length=0, labelsize=8)
    tb, arousal, valence, face_a, face_v = _with_breaks(
        t, step, col["arousal"], col["valence"], col["attn_face_arousal"], col["attn_face_valence"]
    )
    top.plot(tb, arousal, color="#c44e52", lw=1.6, label="arousal")
    top.plot(tb, valence, color="#55a868", lw=1.6, label="valence")
    top.axhline(0, color="0.6", lw=0.6)
    top.set(ylim=(-1, 1), ylabel="model output [-1, 1]", title=title or f"post {lane[0]['post_id']}")
    top.legend(loc="upper right", fontsize=8, ncols=4)
    # Where any modality is present the voice's weight is 1 minus the face's, so one line per dimension.
    bottom.plot(tb, face_a, color="#c44e52", lw=1.2, label="face weight, arousal")
    bottom.plot(tb, face_v, color="#55a868", lw=1.2, label="face weight, valence")
    bottom.set(ylim=(-0.05, 1.05), ylabel="attention", xlabel="time in the video (s)")
    bottom.legend(loc="upper right", fontsize=8, ncols=2)
    return fig


def plane_figure(rows: Sequence[Row], title: str | None = None) -> Figure:
    """One user's rows (any number of posts) -> valence-arousal plane; raises ValueError when empty."""
    by_post: dict[str, list[Row]] = {}
    for r in rows:
        by_post.setdefault(r["post_id"], []).append(r)
    if not by_post:
        raise ValueError("no trace rows to plot")
    stats = [post_aggregate(p, by_post[p]) for p in sorted(by_post)]
    fig, ax = plt.subplots(figsize=(6, 6), layout="constrained")
    for s in stats:
        x, y = s["valence_mean"], s["arousal_mean"]
        ax.errorbar(
            x,
            y,
            xerr=[[x - s["valence_p10"]], [s["valence_p90"] - x]],
            yerr=[[y - s["arousal_p10"]], [s["arousal_p90"] - y]],
            fmt="none",
            ecolor="0.6",
            lw=0.8,
        )
        ax.annotate(s["post_id"], (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.scatter(
        [s["valence_mean"] for s in stats],
        [s["arousal_mean"] for s in stats],
        s=[20 + 4 * s["seconds_analysed"] for s in stats],
        color="#8172b3",
        zorder=3,
    )
    ax.axhline(0, color="0.7", lw=0.6)
    ax.axvline(0, color="0.7", lw=0.6)
    user = stats[0]["user_id"]
    ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="valence (time-weighted mean; bars p10-p90)", ylabel="arousal")
    ax.set_title(title or f"user {user}: {len(stats)} posts")
    ax.set_aspect("equal")
    return fig


def save(fig: Figure, path: str, dpi: int = 100) -> None:
    """Write a PNG and free the figure (pyplot keeps every open figure alive otherwise)."""
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)
