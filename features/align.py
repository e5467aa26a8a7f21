"""Five-point face alignment onto the ArcFace template.

Template: insightface's ``arcface_dst`` for 112x112 crops (right eye, left eye, nose, right and left
mouth corners, subject's view, in RetinaFace order). It is the de facto standard for RetinaFace
landmarks, so crops match what public face models were trained on, and it frames eyebrows to chin,
which is where facial expression lives. A *similarity* (rotation, uniform scale, translation; no shear)
keeps the face's proportions: a full affine fit to five noisy points would distort expressions.
"""

from __future__ import annotations

import cv2
import numpy as np

# insightface/python-package/insightface/utils/face_align.py, for a 112x112 crop, (x, y) pixels.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],  # right eye (image left)
        [73.5318, 51.5014],  # left eye
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # right mouth corner
        [70.7299, 92.2041],  # left mouth corner
    ],
    dtype=np.float64,
)


def template(size_px: int) -> np.ndarray:
    """The ArcFace template scaled to a ``size_px`` square crop: float64[5, 2] (x, y) pixels."""
    return ARCFACE_TEMPLATE_112 * (size_px / 112.0)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform taking ``src`` points onto ``dst`` (Umeyama, 1991).

    ``src``, ``dst``: float[N, 2] with N >= 2. Returns float64[2, 3] ``M`` with ``dst ~ M @ [x, y, 1]``.
    Closed form, no RANSAC: with five landmarks from one detector there are no outliers to reject, and
    ``cv2.estimateAffinePartial2D``'s default RANSAC would make the fit depend on a random seed.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    # Force a proper rotation: a mirrored fit would flip the face instead of rotating it.
    fix = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rot = u @ fix @ vt
    var_s = (s0**2).sum() / len(src)
    scale = float((sig * np.diag(fix)).sum() / var_s) if var_s > 0 else 1.0
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def alignment_matrix(landmarks: np.ndarray, size_px: int) -> np.ndarray:
    """float64[2, 3] mapping frame pixels to crop pixels for ``landmarks``: float32[5, 2] (x, y)."""
    if landmarks.shape != (5, 2):
        raise ValueError(f"landmarks must be float[5, 2] (RetinaFace order), got shape {landmarks.shape}")
    return similarity_matrix(landmarks, template(size_px))


def align_face(frame: np.ndarray, landmarks: np.ndarray, size_px: int) -> np.ndarray:
    """The face at ``landmarks`` warped onto the template: uint8[size_px, size_px, 3] (frame's colours).

    ``frame``: uint8[H, W, 3]; ``landmarks``: float32[5, 2] in that frame's pixels. Pixels outside the
    frame are black (constant 0), as insightface does: replicating the border would smear edge pixels
    into a fake face region. Bilinear interpolation; crops are small, so cost is negligible.
    """
    if size_px < 1:
        raise ValueError(f"size_px must be >= 1, got {size_px}")
    m = alignment_matrix(landmarks, size_px)
    return cv2.warpAffine(
        frame,
        m,
        (size_px, size_px),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
