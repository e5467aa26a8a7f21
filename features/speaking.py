"""Active-speaker attribution: per face and step, the probability that this face is the one speaking.

Method (issue 18; docs/speaking.md has the measurements and the limits):

1. **Mouth motion** (``MouthMotion``, per track, at the analysis rate). The aligned crop puts the mouth
   corners of every face at the same template pixels (``features/align.py``), so the mouth is one fixed
   box of a crop. But the 5 landmarks jitter between frames (a pixel or two, a few percent of scale and
   angle; more between a full-frame and a region detection), and a crop aligned on them moves a still
   mouth's pixels as much as speech does. So each step's frame is *registered* onto the track's
   previous grey crop (64 px) on the rigid part of the face (forehead, eyes, nose, cheeks): starting
   from the previous step's alignment (a still face and camera give exactly the previous crop) or from
   this step's (a face that moved), whichever matches better, then Lucas-Kanade steps for a similarity
   (camera pans and zooms, head motion). Net mouth motion ``n``: the mean absolute change of the
   standardised mouth box (light and skin do not matter), less what the rigid part changed in the same
   units (compression noise, resampling, a head turn left after registration change the whole face
   alike). A still face gives 0; a talking one 0.1-0.4 (units: standard deviations of the mouth box),
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

Pure: numpy and OpenCV. Cost: ~0.2-0.45 ms per face and step on the 2-core machine (docs/speaking.md).
"""

from __future__ import annotations

import cv2
import numpy as np

from emotrace.features.align import alignment_matrix, from_shrunk, halved, shrink_factor
from emotrace.schemas.config import SpeakingConfig

_SIDE = 64  # motion is measured on grey crops of this side, whatever the model's crop size
# Boxes (y0, y1, x0, x1) as fractions of the crop side, on the ArcFace template (align.py): the mouth
# corners sit at y = 0.82 and x = 0.37 / 0.63; the eyes at y = 0.46. ``_RIGID`` (forehead, eyes,
# nose, cheeks; not the mouth and jaw) is what two crops are registered on.
_MOUTH = (0.72, 0.97, 0.31, 0.69)
_RIGID = (0.12, 0.68, 0.10, 0.90)
_ITERATIONS = 1  # Gauss-Newton steps of the registration: it starts within a pixel (1, 2 and 3 gave the same)
_SMOOTH_PX = 1.0  # Gaussian the registration compares crops under (its gradients need a smooth image)


def _box(side: int, box: tuple[float, float, float, float], margin: int = 0) -> tuple[slice, slice]:
    y0, y1, x0, x1 = (round(v * side) for v in box)
    return slice(max(margin, y0), min(side - margin, y1)), slice(max(margin, x0), min(side - margin, x1))


# The rigid part's pixels (inside by one for the gradients) and their coordinates from the crop's centre.
_YS, _XS = _box(_SIDE, _RIGID, 1)
_CENTRE = (_SIDE - 1) / 2
_YY, _XX = (a.ravel() - _CENTRE for a in np.mgrid[_YS, _XS].astype(np.float32))


def _standardised(patch: np.ndarray) -> np.ndarray:
    """``patch`` to zero mean and unit spread; a flat patch (< 1 grey level of spread) is not amplified."""
    centred = patch - patch.mean()
    return centred / max(float(centred.std()), 1.0)


def net_mouth_motion(prev: np.ndarray, now: np.ndarray) -> float:
    """How much more the mouth changed than the rest of the face, between two registered grey crops
    float32[S, S]: the mean absolute change of the standardised mouth box (light and skin do not
    matter), less the rigid part's mean absolute change (its mean removed: a light change) in the same
    units (grey levels over the mouth's spread). What registration leaves of a still face (compression
    noise, resampling, a head turn out of the plane) changes the whole face alike; speech changes the
    mouth."""
    ys, xs = _box(prev.shape[0], _MOUTH)
    before, after = prev[ys, xs], now[ys, xs]
    spread = max(float(before.std()), 1.0)
    mouth = float(np.abs(_standardised(after) - _standardised(before)).mean())
    change = now[_YS, _XS] - prev[_YS, _XS]
    rest = float(np.abs(change - change.mean()).mean()) / spread
    return max(0.0, mouth - rest)


def _footprint(matrices: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Frame-pixel corners (x, y) of the box that holds the crops of ``matrices`` (similarities): each
    crop's centre, and half its side over its scale, turned."""
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for m in matrices:
        a, b, s2 = m[0, 0], m[1, 0], m[0, 0] ** 2 + m[1, 0] ** 2
        centre = np.array([[a, b], [-b, a]]) @ (_CENTRE - m[:, 2]) / s2
        reach = (_SIDE / 2) * (abs(a) + abs(b)) / s2
        lo, hi = np.minimum(lo, centre - reach), np.maximum(hi, centre + reach)
    return lo, hi


def grey_region(frame: np.ndarray, matrices: list[np.ndarray], k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The grey part of ``frame`` (uint8[H, W, 3] RGB) that the crops of ``matrices`` (frame to
    ``_SIDE`` crop, similarities float[2, 3]) show, shrunk ``k`` times (2 x 2 means, on blocks anchored
    to the frame, so that a still face gets the same pixels wherever its box is), and the matrices
    rewritten for it. Only that part is converted: a face costs the same in any frame."""
    lo, hi = _footprint(matrices)
    start, stop = [0, 0], [0, 0]
    for axis, size in enumerate((frame.shape[1], frame.shape[0])):
        start[axis] = int(max(0, min(lo[axis] - 2 * k, size - k))) // k * k
        stop[axis] = start[axis] + max(k, (int(min(hi[axis] + 2 * k, size)) - start[axis]) // k * k)
    (x0, y0), (x1, y1) = start, stop
    grey = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    grey = halved(grey, k).astype(np.float32)
    return grey, [from_shrunk(m, k, x0, y0) for m in matrices]


def _warp(region: np.ndarray, m: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(region, m, (_SIDE, _SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class Reference:
    """One step's grey crop (float32[S, S]) and what registering the next step's frame onto it needs:
    inverse-compositional Lucas-Kanade (Baker & Matthews 2004) for a similarity (rotation, scale,
    translation) over ``_RIGID``, with the crop's own gradients (computed once, when first needed: a
    face that did not move needs none)."""

    def __init__(self, crop: np.ndarray) -> None:
        self.crop = crop
        self.smooth = cv2.GaussianBlur(crop, (0, 0), _SMOOTH_PX)
        self._descent: tuple[np.ndarray, np.ndarray] | None = None

    def error(self, crop: np.ndarray) -> np.ndarray:
        """``crop`` minus this one over ``_RIGID``, both smoothed: float32[n]."""
        return (cv2.GaussianBlur(crop, (0, 0), _SMOOTH_PX) - self.smooth)[_YS, _XS].ravel()

    def _steepest_descent(self) -> tuple[np.ndarray, np.ndarray]:
        """(the crop's change per unit of (scale - 1, angle, x, y) at each pixel of ``_RIGID``,
        float[4, n]; the inverse of its Gauss-Newton hessian, float[4, 4]; zero for a flat crop)."""
        if self._descent is None:
            inner = self.smooth[_YS.start - 1 : _YS.stop + 1, _XS.start - 1 : _XS.stop + 1]
            gx = (0.5 * (inner[1:-1, 2:] - inner[1:-1, :-2])).ravel()  # central differences
            gy = (0.5 * (inner[2:, 1:-1] - inner[:-2, 1:-1])).ravel()
            sd = np.stack([gx * _XX + gy * _YY, gy * _XX - gx * _YY, gx, gy])
            hessian = (sd @ sd.T).astype(np.float64)
            ok = np.linalg.det(hessian) > 0  # a flat crop has nothing to register on
            self._descent = (sd, np.linalg.inv(hessian) if ok else np.zeros((4, 4)))
        return self._descent

    def refined(self, m: np.ndarray, error: np.ndarray) -> np.ndarray:
        """``m`` (region to crop) after one Gauss-Newton step on ``error``: composed with the inverse
        of the small similarity that best explains it."""
        sd, inverse = self._steepest_descent()
        a, b, tx, ty = inverse @ (sd @ error)
        rot = np.array([[1.0 + a, -b], [b, 1.0 + a]])
        shift = np.array([tx, ty]) + _CENTRE - rot @ np.array([_CENTRE, _CENTRE])
        return np.hstack([rot @ m[:, :2], (rot @ m[:, 2] + shift)[:, None]])


def registered(
    ref: Reference, region: np.ndarray, m_was: np.ndarray, own: Reference, m_own: np.ndarray
) -> np.ndarray:
    """The grey crop of ``region`` that best matches ``ref`` on the rigid part of the face. It starts
    from the previous step's matrix ``m_was`` (a face and camera that did not move give exactly the
    same crop: done) or from this step's landmarks (``m_own``, whose crop is ``own``) when they match
    better (the face moved), then takes up to ``_ITERATIONS`` Gauss-Newton steps while they improve
    the match (sub-pixel shifts, camera pans and zooms, head motion)."""
    crop = _warp(region, m_was)
    error = ref.error(crop)
    cost = float(np.abs(error).mean())
    if cost == 0.0:
        return crop
    own_error = (own.smooth - ref.smooth)[_YS, _XS].ravel()
    own_cost = float(np.abs(own_error).mean())
    m = m_was
    if own_cost < cost:
        m, crop, error, cost = m_own, own.crop, own_error, own_cost
    for _ in range(_ITERATIONS):
        m2 = ref.refined(m, error)
        crop2 = _warp(region, m2)
        error2 = ref.error(crop2)
        cost2 = float(np.abs(error2).mean())
        if cost2 >= cost:
            break
        m, crop, error, cost = m2, crop2, error2, cost2
    return crop


class MouthMotion:
    """Net mouth motion per track and step, from the same track's frames one step apart (streamed).

    Each step's frame is registered onto the track's previous crop (``registered``) before the mouth
    is compared: the landmarks, hence the aligned crops, jitter by a pixel or two and by a few percent
    of scale and angle between frames (more between a full-frame and a region detection), which moves
    a still mouth's pixels as much as speech does."""

    def __init__(self) -> None:
        # track -> (step, its landmarks' matrix, shrink factor, registration reference)
        self._last: dict[int, tuple[int, np.ndarray, int, Reference]] = {}

    def update(self, track_id: int, step: int, frame: np.ndarray, landmarks: np.ndarray) -> float:
        """Net mouth motion of ``track_id`` at ``step`` (>= 0) in ``frame`` (uint8[H, W, 3] RGB), the
        face's 5 landmarks float[5, 2] (frame pixels), or NaN when the track has no crop at
        ``step - 1`` to compare with (its first step, or after a miss)."""
        m = alignment_matrix(landmarks, _SIDE)
        k = shrink_factor(m)
        prev = self._last.get(track_id)
        if prev is None or prev[0] != step - 1:
            region, (moved,) = grey_region(frame, [m], k)
            self._last[track_id] = (step, m, k, Reference(_warp(region, moved)))
            return float("nan")
        _, m_prev, k_prev, ref = prev
        region, (m_was, m_own) = grey_region(frame, [m_prev, m], k_prev)  # shrunk as the reference was
        own = Reference(_warp(region, m_own))  # also the next step's reference
        now = registered(ref, region, m_was, own, m_own)
        if k != k_prev:  # the face's scale crossed a power of 2 (a zoom): the next step's shrink
            region, (moved,) = grey_region(frame, [m], k)
            own = Reference(_warp(region, moved))
        self._last[track_id] = (step, m, k, own)
        return net_mouth_motion(ref.crop, now)

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
