"""Facial cues for the synthetic corpus: a real face photo whose mouth and brows move with the latents.

The face is ``skimage.data.astronaut()``. Its five landmarks come from running the product's own
``FaceDetector`` on the photo once, so every deformation is placed where the pipeline's alignment will
look for it. A deformation is a smooth local warp (``cv2.remap``) built from Gaussian displacement bumps
around the landmarks, plus a darkened mouth interior when the mouth opens:

* smile (valence): mouth corners lift (or drop) and spread, the lip centre moves the other way;
* opening (speech, scaled by arousal): the lower lip drops, the upper lip lifts, the gap darkens;
* brow raise (arousal share + nuisance) and inner-brow knit (negative valence share).

Missing face: an opaque occluder (a hand or sticker) over the face, or the camera panning down to the
suit until the face leaves the frame. Pure core: no Beam import.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# Displacement amplitudes in source (512 px photo) pixels at cue = +-1. The face is ~120 px tall in the
# photo and ~75 px of it reaches a 64 px aligned crop, so 10 px here is ~6 px in the model's input.
SMILE_PX = 10.0
OPEN_PX = 7.0
BROW_PX = 6.0
KNIT_PX = 3.0
_ROI = (150, 40, 300, 200)  # x0, y0, x1, y1 of the photo region the warp may touch (the face)


@dataclass(frozen=True)
class FaceRig:
    """The photo and where its features are. ``landmarks``: float32[5, 2] (x, y) in photo pixels,
    RetinaFace order (right eye, left eye, nose, right mouth corner, left mouth corner)."""

    image: np.ndarray  # uint8[512, 512, 3] RGB
    landmarks: np.ndarray
    face_box: np.ndarray  # float32[4] (x0, y0, x1, y1)

    @property
    def interocular_px(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))


@lru_cache(maxsize=1)
def astronaut_rig() -> FaceRig:
    """Run the detector once on the photo (the product's detector, default thresholds)."""
    from skimage import data  # lazy: only the generator needs the photo

    from emotrace.features.faces import FaceDetector
    from emotrace.schemas.config import FaceConfig

    image = data.astronaut()
    faces = FaceDetector(FaceConfig()).detect(image[None])[0]
    if not faces:
        raise RuntimeError("RetinaFace found no face on skimage's astronaut photo; the detector is broken")
    return FaceRig(image=image, landmarks=faces[0].landmarks.copy(), face_box=faces[0].box.copy())


@dataclass(frozen=True)
class FaceCues:
    """One frame's expression. ``smile`` in [-1, 1] (frown .. smile); ``open`` in [0, 1]; ``brow`` in
    [-1, 1] (lowered .. raised); ``knit`` in [0, 1] (inner brows pulled down and together)."""

    smile: float
    open: float
    brow: float
    knit: float


def _bump(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * (((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2))


def render_expression(rig: FaceRig, cues: FaceCues) -> np.ndarray:
    """The photo with ``cues`` applied: uint8[512, 512, 3] RGB (a new array; the rig is untouched).

    Forward displacements (dx, dy) are summed from bumps; ``cv2.remap`` needs the inverse map, which
    for small smooth fields is ``src = dst - d(dst)`` to first order (displacements <= 7 px over
    bumps of sigma >= 6 px keep the map monotonic, so no fold-over).
    """
    x0, y0, x1, y1 = _ROI
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    lm = rig.landmarks.astype(np.float32)
    iod = rig.interocular_px
    (rex, rey), (lex, ley) = lm[0], lm[1]
    (rmx, rmy), (lmx, lmy) = lm[3], lm[4]
    cx, cy = (rmx + lmx) / 2, (rmy + lmy) / 2
    half_w = (lmx - rmx) / 2
    dx = np.zeros_like(xx)
    dy = np.zeros_like(xx)

    # Smile: corners up and out, the centre of the lips slightly down (curvature, not a shift).
    for mx, my, side in ((rmx, rmy, -1.0), (lmx, lmy, 1.0)):
        b = _bump(xx, yy, mx, my, 0.18 * iod, 0.16 * iod)
        dy -= SMILE_PX * cues.smile * b
        dx += 0.4 * SMILE_PX * cues.smile * side * b
    dy += 0.3 * SMILE_PX * cues.smile * _bump(xx, yy, cx, cy + 0.05 * iod, 0.2 * iod, 0.12 * iod)

    # Opening: lower lip and jaw down, upper lip up a little.
    dy += OPEN_PX * cues.open * _bump(xx, yy, cx, cy + 0.22 * iod, 0.45 * iod, 0.22 * iod)
    dy -= 0.3 * OPEN_PX * cues.open * _bump(xx, yy, cx, cy - 0.12 * iod, 0.35 * iod, 0.1 * iod)

    # Brows sit ~0.3 interocular distances above the eyes.
    for ex, ey, inward in ((rex, rey, 1.0), (lex, ley, -1.0)):
        by = ey - 0.32 * iod
        dy -= BROW_PX * cues.brow * _bump(xx, yy, ex, by, 0.35 * iod, 0.2 * iod)
        inner = _bump(xx, yy, ex + inward * 0.25 * iod, by, 0.18 * iod, 0.18 * iod)
        dy += KNIT_PX * cues.knit * inner
        dx += inward * KNIT_PX * cues.knit * inner

    out = rig.image.copy()
    roi = cv2.remap(
        rig.image, xx - dx, yy - dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    if cues.open > 0.02:
        # The gap between the lips shows the dark mouth interior.
        gap = _bump(xx, yy, cx, cy + 0.1 * iod, 0.55 * half_w, 0.03 * iod + 0.07 * iod * cues.open)
        shade = 1.0 - 0.6 * np.clip(gap * 1.5 * min(1.0, 2 * cues.open), 0.0, 1.0)
        roi = (roi.astype(np.float32) * shade[..., None]).astype(np.uint8)
    out[y0:y1, x0:x1] = roi
    return out


def occlude(image: np.ndarray, rig: FaceRig, rng_value: float) -> np.ndarray:
    """Cover the whole face with an opaque hand-coloured ellipse (in place and returned).

    ``rng_value`` in [0, 1) picks the shade, so consecutive frames of one occlusion look alike.
    """
    x0, y0, x1, y1 = rig.face_box
    centre = (int((x0 + x1) / 2), int((y0 + y1) / 2))
    axes = (int((x1 - x0) * 0.75), int((y1 - y0) * 0.72))
    colour = tuple(int(c) for c in np.array([196, 150, 120]) * (0.8 + 0.3 * rng_value))
    cv2.ellipse(image, centre, axes, 0, 0, 360, colour, thickness=-1)
    return image


def camera_crop(image: np.ndarray, x0: float, y0: float, crop_h: float, out_w: int, out_h: int) -> np.ndarray:
    """Bilinear resample of the sub-pixel crop at (x0, y0) of height ``crop_h`` (aspect out_w:out_h)
    to uint8[out_h, out_w, 3]. Sub-pixel offsets keep slow pans smooth."""
    s = crop_h / out_h
    m = np.array([[s, 0.0, x0 + 0.5 * s - 0.5], [0.0, s, y0 + 0.5 * s - 0.5]], dtype=np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, m, (out_w, out_h), flags=flags, borderMode=cv2.BORDER_REFLECT)
