"""A cheap appearance signature of an aligned face crop, for telling tracks apart when boxes overlap.

Two parts, each L2-normalised, concatenated with equal weight (so a cosine similarity is the mean of
the two parts' cosines):
* colour: a joint RGB histogram (4 x 4 x 4 bins) of the crop's central region, square-rooted
  (Hellinger), so skin tone, hair and lighting colour separate people;
* structure: the crop in grey at 12 x 12 px, zero-mean, so layout (hair line, glasses, beard) counts
  while brightness does not.
No learned embedding: on 2 CPU cores a face-recognition network would cost as much as detection, and
the tracker only needs to tell apart the few faces present in one video at one moment, with IoU
doing most of the work. Cost: ~50 us per 64 px crop.
"""

from __future__ import annotations

import cv2
import numpy as np

_BINS = 4  # per channel: 64 colour cells, coarse enough to survive compression and blur
_GREY_PX = 12
# Central region of an ArcFace-aligned crop (fractions of the side): eyebrows to chin, cheek to cheek;
# corners hold background, which changes as a face moves across the frame.
_CENTRE = (0.15, 0.85)
EMBEDDING_DIM = _BINS**3 + _GREY_PX**2


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v


def appearance_embedding(crop: np.ndarray) -> np.ndarray:
    """float32[EMBEDDING_DIM] unit vector for ``crop``: uint8[S, S, 3] RGB aligned face (S >= 8)."""
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
        raise ValueError(f"crop must be uint8[S, S, 3], got {crop.dtype}{list(crop.shape)}")
    s = crop.shape[0]
    lo, hi = round(s * _CENTRE[0]), round(s * _CENTRE[1])
    centre = crop[lo:hi, lo:hi].reshape(-1, 3).astype(np.int64) * _BINS // 256
    cells = (centre[:, 0] * _BINS + centre[:, 1]) * _BINS + centre[:, 2]
    hist = np.bincount(cells, minlength=_BINS**3).astype(np.float64)
    colour = _unit(np.sqrt(hist))
    grey = cv2.resize(
        cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (_GREY_PX, _GREY_PX), interpolation=cv2.INTER_AREA
    )
    g = grey.astype(np.float64).ravel()
    structure = _unit(g - g.mean())
    return (np.concatenate([colour, structure]) / np.sqrt(2.0)).astype(np.float32)
