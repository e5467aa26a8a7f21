"""Landmark-driven expression warps of a face photo: smooth local displacements around the features.

Used by the synthetic corpus (``datasets.synth_face``: the astronaut photo's mouth and brows move with
the latents) and by the real-face distillation (``datasets.face_pool``: real portraits, most of them
neutral or smiling, are warped towards frowns, knitted or raised brows, raised upper lips, so that the
teacher can label expressions the photos themselves do not show).

A warp is a sum of Gaussian displacement bumps placed relative to the five RetinaFace landmarks and
scaled by the interocular distance, applied with ``cv2.remap`` inside a region of interest:

* smile (+) / frown (-): mouth corners up and out (down and in), the lip centre the other way;
* open: lower lip and jaw down, upper lip up a little, the gap darkened;
* brow: both brows raised (+) or lowered (-); knit: inner brows pulled down and together (anger);
* inner_raise: inner brow ends raised (sadness, fear); lip_raise: upper lip raised (disgust).

Pure core: no Beam import.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceCues:
    """One frame's expression. ``smile`` in [-1, 1] (frown .. smile); ``open`` in [0, 1]; ``brow`` in
    [-1, 1] (lowered .. raised); ``knit`` in [0, 1] (inner brows pulled down and together);
    ``inner_raise`` in [0, 1] (inner brow ends up); ``lip_raise`` in [0, 1] (upper lip up)."""

    smile: float
    open: float
    brow: float
    knit: float
    inner_raise: float = 0.0
    lip_raise: float = 0.0


@dataclass(frozen=True)
class WarpAmplitudes:
    """Displacement in image pixels at cue = 1 (use ``for_face`` to scale them to a face's size)."""

    smile_px: float
    open_px: float
    brow_px: float
    knit_px: float
    inner_raise_px: float = 0.0
    lip_raise_px: float = 0.0

    def scaled(self, factor: float) -> WarpAmplitudes:
        return WarpAmplitudes(*(factor * v for v in vars(self).values()))


# The synthetic corpus's amplitudes on the astronaut photo, whose interocular distance is 42.65 px:
# expressed per interocular distance, they carry over to any face size.
ASTRONAUT_IOD_PX = 42.65


def _bump(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))


_Field = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # xx, yy, dx, dy (dx, dy accumulated)


def _add_mouth(f: _Field, lm: np.ndarray, iod: float, cues: FaceCues, amp: WarpAmplitudes) -> None:
    xx, yy, dx, dy = f
    (rmx, rmy), (lmx, lmy) = lm[3], lm[4]
    cx, cy = (rmx + lmx) / 2, (rmy + lmy) / 2
    # Smile: corners up and out, the centre of the lips slightly down (curvature, not a shift).
    for mx, my, side in ((rmx, rmy, -1.0), (lmx, lmy, 1.0)):
        b = _bump(xx, yy, mx, my, 0.18 * iod, 0.16 * iod)
        dy -= amp.smile_px * cues.smile * b
        dx += 0.4 * amp.smile_px * cues.smile * side * b
    dy += 0.3 * amp.smile_px * cues.smile * _bump(xx, yy, cx, cy + 0.05 * iod, 0.2 * iod, 0.12 * iod)
    # Opening: lower lip and jaw down, upper lip up a little.
    dy += amp.open_px * cues.open * _bump(xx, yy, cx, cy + 0.22 * iod, 0.45 * iod, 0.22 * iod)
    dy -= 0.3 * amp.open_px * cues.open * _bump(xx, yy, cx, cy - 0.12 * iod, 0.35 * iod, 0.1 * iod)
    if cues.lip_raise:  # upper lip up towards the nose (AU 10)
        dy -= amp.lip_raise_px * cues.lip_raise * _bump(xx, yy, cx, cy - 0.14 * iod, 0.4 * iod, 0.1 * iod)


def _add_brows(f: _Field, lm: np.ndarray, iod: float, cues: FaceCues, amp: WarpAmplitudes) -> None:
    xx, yy, dx, dy = f
    (rex, rey), (lex, ley) = lm[0], lm[1]
    # Brows sit ~0.3 interocular distances above the eyes.
    for ex, ey, inward in ((rex, rey, 1.0), (lex, ley, -1.0)):
        by = ey - 0.32 * iod
        dy -= amp.brow_px * cues.brow * _bump(xx, yy, ex, by, 0.35 * iod, 0.2 * iod)
        inner = _bump(xx, yy, ex + inward * 0.25 * iod, by, 0.18 * iod, 0.18 * iod)
        dy += amp.knit_px * cues.knit * inner
        dx += inward * amp.knit_px * cues.knit * inner
        if cues.inner_raise:  # inner brow ends up (AU 1)
            dy -= amp.inner_raise_px * cues.inner_raise * inner


def warp_region(
    image: np.ndarray,
    roi: tuple[int, int, int, int],
    landmarks: np.ndarray,
    cues: FaceCues,
    amp: WarpAmplitudes,
) -> np.ndarray:
    """``image`` (uint8[H, W, 3]) with ``cues`` applied inside ``roi`` = (x0, y0, x1, y1): a new array.

    ``landmarks``: float[5, 2] in RetinaFace order. Forward displacements are summed from bumps;
    ``cv2.remap`` needs the inverse map, which for small smooth fields is ``src = dst - d(dst)`` to first
    order (displacements well below the bumps' widths keep the map monotonic, so no fold-over).
    """
    x0, y0, x1, y1 = roi
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    lm = np.asarray(landmarks, np.float32)
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    dx = np.zeros_like(xx)
    dy = np.zeros_like(xx)
    # Accumulated in place, mouth then brows: the order the synthetic corpus was generated with.
    _add_mouth((xx, yy, dx, dy), lm, iod, cues, amp)
    _add_brows((xx, yy, dx, dy), lm, iod, cues, amp)
    out = image.copy()
    region = cv2.remap(image, xx - dx, yy - dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if cues.open > 0.02:
        # The gap between the lips shows the dark mouth interior.
        (rmx, rmy), (lmx, lmy) = lm[3], lm[4]
        cx, cy, half_w = (rmx + lmx) / 2, (rmy + lmy) / 2, (lmx - rmx) / 2
        gap = _bump(xx, yy, cx, cy + 0.1 * iod, 0.55 * half_w, 0.03 * iod + 0.07 * iod * cues.open)
        shade = 1.0 - 0.6 * np.clip(gap * 1.5 * min(1.0, 2 * cues.open), 0.0, 1.0)
        region = (region.astype(np.float32) * shade[..., None]).astype(np.uint8)
    out[y0:y1, x0:x1] = region
    return out


def face_roi(
    landmarks: np.ndarray, shape: tuple[int, ...], margin_iod: float = 1.3
) -> tuple[int, int, int, int]:
    """A region around the five landmarks, ``margin_iod`` interocular distances wide on each side
    (brows above the eyes and the jaw below the mouth are inside), clipped to the image."""
    lm = np.asarray(landmarks, np.float32)
    iod = float(np.linalg.norm(lm[1] - lm[0]))
    m = margin_iod * max(iod, 1.0)
    h, w = shape[:2]
    x0, y0 = (lm.min(axis=0) - m).astype(int)
    x1, y1 = (lm.max(axis=0) + m).astype(int)
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1) + 1), min(h, int(y1) + 1)
