"""Active-speaker attribution: per face and step, the probability that this face is the one speaking.

Method (issue 18; docs/speaking.md has the measurements and the limits):

1. **Mouth motion** (``MouthMotion``, per track, at the analysis rate). The aligned crop puts the mouth
   corners of every face at the same template pixels (``features/align.py``), so the mouth is one fixed
   box of the crop. Each crop's grey mouth box and eye band are standardised (zero mean, unit std: the
   light and the skin do not matter), and a step's motion is the mean absolute change of each from the
   same track's crop one step earlier. Net mouth motion ``n = max(0, mouth - eyes)``: the eye band moves
   with what is not speech (alignment jitter of the landmarks, head turns, compression noise, light), so
   it is subtracted. A still face gives ~0; a talking one 0.1-0.4 (units: standard deviations of the patch),
   measured on the GRID clips of ``realdata/video`` at 5 fps (docs/speaking.md).
2. **Talking evidence** (``talking_evidence``), per track over a centred window of ``2 * half_steps + 1``
   steps around each step, weighted by the per-step ``speech_prob`` ``p`` (``features/speech.py``): mouth
   motion during speech minus ``rest_weight`` times the motion during the pauses,
   ``e = sum(p n) / sum(p) - rest_weight * sum((1 - p) n) / sum(1 - p)``: mouths that move when there
   is a voice, and less when there is none (chewing, smiling and nodding move it in the pauses too).
   ``v = sigmoid((e - evidence_mid) / evidence_width)``: how likely this face talks at all.
3. **Attribution** (``attribute``): at most one visible face speaks at a time. With independent ``v_g``
   for the faces visible at the step, ``P(f) = v_f prod_{g != f} (1 - v_g) / Z`` over the outcomes
   "exactly one face speaks" and "none speaks" (``Z`` their total), and ``speaking_f = t * P(f)``, with
   ``t`` the step's turn activity (``turn_activity``): the highest ``speech_prob`` within ``turn_steps``
   (2) steps, so a pause of up to 0.6 s between two voiced steps, or 0.4 s around a phrase, stays the
   talker's turn (the hangover of a voice-activity detector; the speaker keeps the audio of their own
   pauses instead of dropping to the face-only path every few syllables). ``t * P(none)`` is the
   voice's share that no visible face explains (a voice-over).

The model's audio input for a face row is gated at ``gate`` (``SpeakingConfig.gate``, 0.5): since the
``speaking`` values of one step sum to at most 1, at most one face per step gets the voice.

Pure: numpy only. Cost: two 16 x 24 and 14 x 36 grey patches per face and step (~10 us).
"""

from __future__ import annotations

import numpy as np

from emotrace.schemas.config import SpeakingConfig

_GREY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma
# Boxes (y0, y1, x0, x1) as fractions of the crop side, on the ArcFace template (align.py): the mouth
# corners sit at y = 0.82 and x = 0.37 / 0.63; the eyes at y = 0.46 and x = 0.34 / 0.66.
_MOUTH = (0.72, 0.97, 0.31, 0.69)
_EYES = (0.34, 0.56, 0.22, 0.78)


_EYE_WEIGHT = 0.6  # talking faces move the brows and eyes too: only part of the eye band's motion is jitter
_SHIFT_PX = 2  # alignment jitter searched away, in crop pixels at 64 px (scaled with the crop)


def _grey(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) @ _GREY


def _box(side: int, box: tuple[float, float, float, float], margin: int) -> tuple[slice, slice]:
    y0, y1, x0, x1 = (round(v * side) for v in box)
    return slice(max(margin, y0), min(side - margin, y1)), slice(max(margin, x0), min(side - margin, x1))


def _standardised(patches: np.ndarray) -> np.ndarray:
    """Each [h, w] patch of ``patches`` [..., h, w] to zero mean and unit spread; a flat patch (< 1 grey
    level of spread) is not amplified."""
    centred = patches - patches.mean(axis=(-2, -1), keepdims=True)
    return centred / np.maximum(centred.std(axis=(-2, -1), keepdims=True), 1.0)


def shifted_patches(grey: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The standardised ``box`` (fractions of the crop side) of grey crop ``grey`` (float32[S, S]) moved
    by up to ``_SHIFT_PX`` (scaled to S) pixels each way: float[2r+1, 2r+1, h, w], centre unmoved. One
    vectorised pass over a strided view (a Python loop over the shifts cost ~9 ms per media second)."""
    side = grey.shape[0]
    r = max(1, round(_SHIFT_PX * side / 64))
    ys, xs = _box(side, box, r)
    around = grey[ys.start - r : ys.stop + r, xs.start - r : xs.stop + r]
    return _standardised(
        np.lib.stride_tricks.sliding_window_view(around, (ys.stop - ys.start, xs.stop - xs.start))
    )


def region_motion(prev: np.ndarray, now: np.ndarray) -> float:
    """Mean absolute change of a region from the previous crop to this one, from their
    ``shifted_patches``: the smallest over the shifts of ``now``, because the landmarks, hence the crops,
    jitter by a pixel or two between frames (more between a full-frame and a region detection), which
    is not motion of the face. The reference is ``prev``'s unmoved patch, standardised in the same pass
    shape, so that an unchanged crop gives exactly 0 (numpy's summation order follows the shape)."""
    r = prev.shape[0] // 2
    return float(np.abs(now - prev[r, r]).mean(axis=(2, 3)).min())


class MouthMotion:
    """Net mouth motion per track and step, from consecutive aligned crops of that track (streamed)."""

    def __init__(self) -> None:
        # track -> (step, shifted patches of the mouth and of the eyes) of its latest crop: each crop is
        # standardised once, as ``now`` and then as the next step's reference.
        self._last: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def update(self, track_id: int, step: int, crop: np.ndarray) -> float:
        """Net mouth motion of ``track_id`` at ``step`` (>= 0), or NaN when the track has no crop at
        ``step - 1`` to compare with (its first step, or after a miss)."""
        grey = _grey(crop)
        now = (step, shifted_patches(grey, _MOUTH), shifted_patches(grey, _EYES))
        prev = self._last.get(track_id)
        self._last[track_id] = now
        if prev is None or prev[0] != step - 1:
            return float("nan")
        mouth = region_motion(prev[1], now[1])
        eyes = region_motion(prev[2], now[2])
        return max(0.0, mouth - _EYE_WEIGHT * eyes)

    def forget_before(self, step: int) -> None:
        """Drop tracks last seen before ``step - 1`` (they cannot give a motion any more)."""
        self._last = {t: v for t, v in self._last.items() if v[0] >= step - 1}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def talking_evidence(motion: np.ndarray, speech: np.ndarray, cfg: SpeakingConfig) -> np.ndarray:
    """``v``: float64[n], how likely the face talks at each step, from its net mouth motion float[n]
    (NaN: unknown) and ``speech_prob`` float[n] (NaN: no soundtrack) of the same steps; each step uses
    the steps within ``cfg.half_steps`` of it that have both. NaN where none has."""
    known = np.isfinite(motion) & np.isfinite(speech)
    n = np.where(known, motion, 0.0)
    p = np.where(known, speech, 0.0)
    q = np.where(known, 1.0 - speech, 0.0)
    k = np.ones(2 * cfg.half_steps + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return np.convolve(x, k, mode="same")

    sum_p, sum_q = box(p), box(q)
    talk = box(p * n) / np.maximum(sum_p, 1e-6)
    rest = np.where(sum_q > 1e-6, box(q * n) / np.maximum(sum_q, 1e-6), 0.0)
    evidence = talk - cfg.rest_weight * rest
    v = _sigmoid((evidence - cfg.evidence_mid) / cfg.evidence_width)
    return np.where(box(known.astype(float)) > 0, v, np.nan)


def attribute(v: np.ndarray, speech: float) -> tuple[np.ndarray, float]:
    """One step: ``v`` float[F] talking evidence of the F faces visible (NaN counts as 0) and the step's
    ``speech_prob`` -> (``speaking`` float64[F], the voice-over share ``p * P(none)``), under "at most
    one visible face speaks"."""
    v = np.clip(np.nan_to_num(np.asarray(v, np.float64), nan=0.0), 0.0, 1.0 - 1e-9)
    none = float(np.prod(1.0 - v))
    one = v / (1.0 - v) * none  # v_f prod_{g != f} (1 - v_g)
    z = none + float(one.sum())
    return speech * one / z, speech * none / z


def turn_activity(speech: np.ndarray, reach: int) -> np.ndarray:
    """float64[n]: the highest ``speech`` (float[n], NaN: no soundtrack) within ``reach`` steps of each
    step; NaN where the step itself has no soundtrack."""
    speech = np.asarray(speech, np.float64)
    known = np.where(np.isfinite(speech), speech, -np.inf)
    padded = np.concatenate([np.full(reach, -np.inf), known, np.full(reach, -np.inf)])
    turn = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)
    return np.where(np.isfinite(speech), turn, np.nan)


def lane_speaking(
    motion: dict[int, np.ndarray], present: dict[int, np.ndarray], speech: np.ndarray, cfg: SpeakingConfig
) -> dict[int, np.ndarray]:
    """``speaking`` per track over n steps: float32[n], NaN where the track is absent or there is no
    soundtrack. ``motion``: net mouth motion per track, float[n]; ``present``: bool[n] per track;
    ``speech``: float[n] ``speech_prob`` (NaN: no soundtrack)."""
    v = {t: talking_evidence(m, speech, cfg) for t, m in motion.items()}
    turn = turn_activity(speech, cfg.turn_steps)
    out = {t: np.full(len(speech), np.nan, np.float32) for t in motion}
    for i in np.flatnonzero(np.isfinite(speech)):
        seen = [t for t in motion if present[t][i]]
        if seen:
            shares, _ = attribute(np.array([v[t][i] for t in seen]), float(turn[i]))
            for t, s in zip(seen, shares, strict=True):
                out[t][i] = s
    return out
