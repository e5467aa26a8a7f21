"""The three ways a face box is written down, with their units: one module, so no name lies about them.

* ``FaceDetection.box``: float32[4] (x0, y0, x1, y1) in pixels of the frame the detector was given
  (detection, alignment, tracking).
* ``NormBox``: float32[4] (x, y, w, h) as fractions of the frame's width and height: what the model's
  windows carry (``StepWindow.face_box``) and trace rows publish (``face_x``, ``face_y``, ``face_w``,
  ``face_h``), independent of the decode size.
* ``FracCorners``: (x0, y0, x1, y1) as fractions of the frame: the boxes kept for stitching tracks across
  segments (``SegmentTracks.head``/``tail``), where overlap (IoU) is computed on corners.
"""

from __future__ import annotations

import numpy as np

NormBox = np.ndarray  # float32[4]: x, y, w, h as fractions of the frame
FracCorners = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the frame


def normalised_box(box_px: np.ndarray, height: int, width: int) -> NormBox:
    """(x0, y0, x1, y1) in pixels of a ``height`` x ``width`` frame -> (x, y, w, h) as fractions."""
    x0, y0, x1, y1 = (float(v) for v in box_px)
    return np.array([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height], np.float32)


def frac_corners(box: NormBox) -> FracCorners:
    """(x, y, w, h) as fractions -> (x0, y0, x1, y1) as fractions."""
    x, y, w, h = (float(v) for v in box)
    return (x, y, x + w, y + h)
