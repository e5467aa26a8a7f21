"""Overlapping windows cross-faded into one prediction per step (features/blend.py, issue 14).

Pure: windows are built by hand, and a toy windowed "model" stands in for the BiGRU with the property
that makes seams: a step near a window's edge sees context on one side only, and edge steps carry a
transient. The real model on real clips: tests/pipelines/test_seams_realdata.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from emotrace.features.blend import blend_windows, window_weights, without_inputs, writes
from emotrace.schemas.records import StepWindow, VideoRef, WindowPrediction

REF = VideoRef("/v.mp4", "v")
W = 25


def toy_model(x: np.ndarray) -> np.ndarray:
    """Per-window output: a Gaussian smoothing of the window's signal, renormalised at the edges (less
    context there), plus a transient at both edges."""
    i = np.arange(len(x))
    k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / 3.0) ** 2)
    return k @ x / k.sum(axis=1) + 0.3 * (np.exp(-i / 3) + np.exp(-(len(x) - 1 - i) / 3))


def predictions(signal: np.ndarray, hop: int, track: int | None = 0, valid=None) -> list[WindowPrediction]:
    """Windows on the tiling from step 0, every ``hop`` steps, over a lane valid wherever ``valid`` (all
    of the signal by default), predicted by ``toy_model`` (arousal) and its negative (valence)."""
    n = len(signal)
    valid = np.ones(n, bool) if valid is None else valid
    padded = np.concatenate([signal, np.zeros(W)]).astype(np.float32)
    ok = np.concatenate([valid, np.zeros(W, bool)])
    out = []
    for start in range(0, n, hop):
        if not ok[start : start + W].any():
            continue
        x = padded[start : start + W]
        y = toy_model(x).astype(np.float32)
        attention = np.zeros((W, 2, 2), np.float32)
        attention[:, :, 0] = 0.5 + 0.4 * np.tanh(x)[:, None]
        attention[:, :, 1] = 1 - attention[:, :, 0]
        window = StepWindow(
            REF,
            track,
            start,
            0.2,
            np.zeros((W, 8, 8, 3), np.uint8),
            np.ones(W, bool),
            x[:, None].repeat(3, axis=1),
            np.ones(W, bool),
            ok[start : start + W].copy(),
        )
        out.append(WindowPrediction(window, y, -y, attention, "toy"))
    return out


def trace(preds: list[WindowPrediction], hop: int) -> dict[tuple[int | None, int], tuple[float, float]]:
    """{(track, step): (arousal, valence)} from the blended windows; fails on a step written twice."""
    out: dict[tuple[int | None, int], tuple[float, float]] = {}
    for p in blend_windows(preds, hop):
        for i in np.flatnonzero(p.window.valid):
            key = (p.window.track_id, p.window.start_step + int(i))
            assert key not in out, f"{key} written twice"
            out[key] = (float(p.arousal[i]), float(p.valence[i]))
    return out


def signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.convolve(rng.normal(size=n), np.ones(8) / 8, "same")


def test_weights_are_a_positive_symmetric_taper_near_zero_at_the_edges():
    w = window_weights(W)
    assert (w > 0).all() and np.allclose(w, w[::-1])
    assert w[0] < 0.01 and w[W // 2] == pytest.approx(1.0)
    # Five windows a hop of 5 apart weigh every interior step the same (sin^2 over 5 equal phase steps).
    assert np.allclose([w[r::5].sum() for r in range(5)], 2.5)


@pytest.mark.parametrize("hop", [W, 10, 5, 1])
def test_every_step_of_every_lane_is_written_exactly_once(hop):
    x = signal(203)
    face = np.zeros(203, bool)
    face[30:150] = True
    preds = predictions(x, hop, 0, face) + predictions(x, hop, None, ~face)
    got = trace(preds, hop)
    assert sorted(s for t, s in got if t == 0) == list(range(30, 150))
    assert sorted(s for t, s in got if t is None) == [*range(30), *range(150, 203)]


def test_back_to_back_windows_keep_their_own_predictions():
    preds = predictions(signal(120), W)
    blended = blend_windows(preds, W)
    assert len(blended) == len(preds)
    for before, after in zip(preds, blended, strict=True):
        np.testing.assert_array_equal(after.arousal, before.arousal)
        np.testing.assert_array_equal(after.attention, before.attention)
        np.testing.assert_array_equal(after.window.valid, before.window.valid)


def test_a_step_gets_the_weighted_mean_of_every_window_over_it():
    hop = 5
    preds = predictions(signal(100), hop)
    got = trace(preds, hop)
    w = window_weights(W)
    step = 47  # covered by the windows starting at 25, 30, 35, 40 and 45
    over = [(p, step - p.window.start_step) for p in preds if 0 <= step - p.window.start_step < W]
    assert [p.window.start_step for p, _ in over] == [25, 30, 35, 40, 45]
    expected = sum(w[i] * p.arousal[i] for p, i in over) / sum(w[i] for _, i in over)
    assert got[(0, step)][0] == pytest.approx(expected, rel=1e-6)
    # Attention pairs stay pairs: the blend of pairs that sum to 1 sums to 1.
    (written,) = [p for p in blend_windows(preds, hop) if p.window.start_step == 45]
    np.testing.assert_allclose(written.attention.sum(axis=2)[written.window.valid], 1.0, rtol=1e-6)


def test_input_order_does_not_matter():
    preds = predictions(signal(90), 5)
    shuffled = [preds[i] for i in np.random.default_rng(1).permutation(len(preds))]
    assert trace(shuffled, 5) == trace(preds, 5)


def test_inputs_are_dropped_but_the_rows_fields_kept():
    (pred,) = predictions(signal(20), W)
    light = without_inputs(pred)
    assert light.window.faces.size == 0 and light.window.audio.size == 0
    np.testing.assert_array_equal(light.window.valid, pred.window.valid)
    np.testing.assert_array_equal(writes(light.window, 5), np.arange(W) < 5)


def _phase_spread(hop: int) -> float:
    """Largest change of a step's prediction when the same content starts 1..24 steps later in the
    video (the tiling, anchored at step 0, then meets it at another phase), away from the ends."""
    x = signal(300)
    base = trace(predictions(x, hop), hop)
    spread = 0.0
    for p in range(1, W):
        shifted = trace(predictions(np.concatenate([np.zeros(p), x]), hop), hop)
        spread = max(spread, max(abs(shifted[(0, s + p)][0] - base[(0, s)][0]) for s in range(50, 250)))
    return spread


def test_a_steps_prediction_does_not_depend_on_where_the_windows_start():
    back_to_back = _phase_spread(W)
    assert back_to_back > 0.3  # the sawtooth: the toy's edges move with the tiling
    assert _phase_spread(5) < 0.02 * back_to_back  # a window every 1 s: 0.005 vs 0.69
    assert _phase_spread(1) < 1e-6  # a window at every step: exactly shift-invariant
