"""Seamless traces: overlapping windows cross-faded into one prediction per step and lane.

The model predicts each window of ``window_steps`` steps on its own, and a bidirectional GRU sees less
context near a window's edges than in its middle. With windows back to back, the prediction jumps
where one window ends and the next begins: an analyst sees a sawtooth every 5 s that the person never
made (issue 14: on a real 20 s clip the change across those seams was 2.6-3.5x the change elsewhere).

So windows overlap: one starts every ``hop`` steps on a tiling anchored at step 0 (``GridConfig.hop``),
each step lies in ``window_steps / hop`` of them, and its prediction is their weighted mean with a
Hann taper over the window position, ``sin^2(pi (i + 0.5) / W)``: ~0 at a window's first and last step
(where the GRU has the least context on one side) and 1 in its middle. A window entering or leaving
therefore changes a step's prediction by almost nothing, and every step gets most of its prediction from
windows that have it near their centre. The weights are normalised per step, so steps near the start
of the video, covered by fewer windows, get a proper mean too. With hop == window_steps every step has
one window and its prediction is exactly that window's (no blending).

Where blending happens: predictions of one video meet in ``transforms/tracks.StitchTracks`` (they are
grouped per video there anyway); crops and descriptors are dropped first (``without_inputs``), so a
group holds only per-step numbers. Which steps each window writes: the valid steps in its first
``hop`` positions, so that each (step, lane) is written exactly once, by the window of the tiling that
starts in the same hop. Segments: a step is valid only in the windows of the segment that owns it
(``features/windows.py``), so blending by (local track id, step) never mixes two segments' trackers.

Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emotrace.schemas.records import StepWindow, WindowPrediction


def window_weights(window_steps: int) -> np.ndarray:
    """float64[W]: the cross-fade weight of each position of a window (Hann; positive, symmetric)."""
    i = np.arange(window_steps) + 0.5
    return np.sin(np.pi * i / window_steps) ** 2


def writes(window: StepWindow, hop: int) -> np.ndarray:
    """bool[W]: the steps whose rows this window writes: its valid steps among its first ``hop``."""
    out = np.zeros_like(window.valid)
    out[:hop] = window.valid[:hop]
    return out


def without_inputs(pred: WindowPrediction) -> WindowPrediction:
    """``pred`` without the model inputs (crops, descriptors: zero-size arrays): what blending and the
    trace rows need is per-step numbers only, a few KB per window instead of ~300 KB."""
    w = pred.window
    stripped = w._replace(faces=np.empty((0,), np.uint8), audio=np.empty((0,), np.float32))
    return pred._replace(window=stripped)


def blend_windows(preds: Sequence[WindowPrediction], hop: int) -> list[WindowPrediction]:
    """One video's window predictions -> the windows that write rows, with every valid step's arousal,
    valence and attention replaced by the weighted mean over all windows where that step is valid, and
    ``valid`` narrowed to the steps the window writes (``writes``). Windows that write nothing are left
    out. Input order does not matter."""
    if not preds:
        return []
    width = len(preds[0].window.valid)
    weights = window_weights(width)
    sums = _weighted_sums(preds, weights)
    out: list[WindowPrediction] = []
    for pred in preds:
        w = pred.window
        write = writes(w, hop)
        if not write.any():
            continue
        lo, total, acc = sums[w.track_id]
        at = w.start_step - lo + np.flatnonzero(w.valid)
        arousal, valence = pred.arousal.copy(), pred.valence.copy()
        attention = pred.attention.copy()
        blended = acc[at] / total[at, None]  # every valid step has this window's weight: total > 0
        arousal[w.valid], valence[w.valid] = blended[:, 0], blended[:, 1]
        attention[w.valid] = blended[:, 2:].reshape(-1, 2, 2)
        out.append(
            pred._replace(
                window=w._replace(valid=write),
                arousal=arousal.astype(np.float32),
                valence=valence.astype(np.float32),
                attention=attention.astype(np.float32),
            )
        )
    return out


def _weighted_sums(
    preds: Sequence[WindowPrediction], weights: np.ndarray
) -> dict[int | None, tuple[int, np.ndarray, np.ndarray]]:
    """Per lane (local track id): its first window's start step ``lo`` and, over the steps from there
    on, the sum of the weights and the weighted sum of (arousal, valence, 4 attention weights) of every
    window where the step is valid.

    A step is valid in one segment's windows only, so a local id that two segments' trackers both use
    never mixes their predictions."""
    spans: dict[int | None, tuple[int, int]] = {}
    for p in preds:
        lo, hi = spans.get(p.window.track_id, (p.window.start_step, p.window.start_step))
        spans[p.window.track_id] = (min(lo, p.window.start_step), max(hi, p.window.start_step + len(weights)))
    sums = {t: (lo, np.zeros(hi - lo), np.zeros((hi - lo, 6))) for t, (lo, hi) in spans.items()}
    for p in preds:
        w = p.window
        lo, total, acc = sums[w.track_id]
        at = w.start_step - lo + np.flatnonzero(w.valid)
        wt = weights[w.valid]
        values = np.concatenate(
            [p.arousal[:, None], p.valence[:, None], p.attention.reshape(len(weights), 4)], axis=1
        )[w.valid]
        total[at] += wt  # positions within one window are distinct: no np.add.at needed
        acc[at] += wt[:, None] * values
    return sums
