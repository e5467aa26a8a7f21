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

from emotrace.datasets.face_warp import FaceCues, WarpAmplitudes, warp_region

__all__ = ["FaceCues", "FaceRig", "astronaut_rig", "camera_crop", "occlude", "render_expression"]

# Displacement amplitudes in source (512 px photo) pixels at cue = +-1. The face is ~120 px tall in the
# photo and ~75 px of it reaches a 64 px aligned crop, so 10 px here is ~6 px in the model's input.
SMILE_PX = 10.0
# Jaw and lip opening at open = 1: 14 px, ~12 % of the face's height (real open vowels drop the jaw and
# lower lip 10-20 mm on a ~180 mm face). Speaking reaches open 0.6 at neutral arousal (synth.py): ~8 px,
# ~5 px in the aligned crop. With 7 px and 0.45 (synth-v2) the mouth moved too little to be seen talking:
# the net mouth motion of features/speaking.py rose +0.06 over the closed mouth's, +0.14 on the real GRID
# talkers (docs/speaking.md); with 14 px and 0.6, +0.14.
OPEN_PX = 14.0
BROW_PX = 6.0
KNIT_PX = 3.0
_AMPLITUDES = WarpAmplitudes(SMILE_PX, OPEN_PX, BROW_PX, KNIT_PX)
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


def render_expression(rig: FaceRig, cues: FaceCues) -> np.ndarray:
    """The photo with ``cues`` applied: uint8[512, 512, 3] RGB (a new array; the rig is untouched).
    The warp itself is ``datasets.face_warp.warp_region`` (shared with the real-face augmentations)."""
    return warp_region(rig.image, _ROI, rig.landmarks, cues, _AMPLITUDES)


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
