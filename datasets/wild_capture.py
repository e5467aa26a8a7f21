"""A face picture as a phone camera in the wild would capture it: the degradations of posted video.

The face pool's augmented views (``datasets.face_pool.make_view``) are mild: studio-like lighting changes
on a warped face. Posted frames are worse, and a face branch trained only on clean portraits reads their
defects as expression (the screening in docs/model.md: on the one real video with changing expressions,
frames the teacher calls sad or afraid read +0.05 valence; with these views in distillation, -0.24).
``capture`` applies what such frames show: a tilted head, then one to three of defocus, low light with
sensor noise, low contrast, a small face (24-64 px wide, resized back) and heavy JPEG; sometimes grey.

Pure core: numpy and OpenCV only; deterministic given the ``rng``.
"""

from __future__ import annotations

import cv2
import numpy as np

_GREY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma
_N_DEFECTS = 5  # defocus, low light, low contrast, small face, JPEG


def _tilt(img: np.ndarray, lm: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> tuple:
    """Roll the picture about the face box's centre by up to 15 degrees (head tilt, a held phone)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(rng.uniform(-15, 15)), 1.0)
    size = (img.shape[1], img.shape[0])
    out = cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out, lm @ m[:, :2].T + m[:, 2]


def _photometric(x: np.ndarray, defects: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """Defocus, low light and low contrast on float32 RGB in [0, 1]."""
    for d in defects:
        if d == 0:  # defocus: a blur of 1-3 % of the face's side
            x = cv2.GaussianBlur(x, (0, 0), max(rng.uniform(0.01, 0.03) * side, 0.3))
        elif d == 1:  # low light: darker and crushed, then the sensor's noise
            x = (x ** rng.uniform(1.2, 2.0)) * rng.uniform(0.5, 0.9)
            x = np.clip(x + rng.normal(0, rng.uniform(0.01, 0.04), x.shape).astype(np.float32), 0, 1)
        elif d == 2:  # low contrast: haze, flat light
            mean = x.mean()
            x = (x - mean) * rng.uniform(0.45, 0.75) + mean
    return x


def grey3(x: np.ndarray) -> np.ndarray:
    """Float RGB [..., 3] to grey, kept as three equal channels (BT.601 luma)."""
    return np.repeat((x @ _GREY)[..., None], 3, axis=-1)


def down_up(img: np.ndarray, f: float, min_px: int) -> np.ndarray:
    """``img`` shrunk by ``f`` (at least ``min_px`` a side) and back to its size: a smaller face's detail."""
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(min_px, int(w * f)), max(min_px, int(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """``img`` through a JPEG encode and decode at ``quality`` (unchanged if encoding fails)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


def capture(
    img: np.ndarray, lm: np.ndarray, box: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8[H, W, 3] degraded picture, float64[5, 2] landmarks moved with it) of an RGB picture whose
    face has landmarks ``lm`` and box ``box`` (x0, y0, x1, y1); the box stays (the roll is about it)."""
    side = float(max(box[2] - box[0], box[3] - box[1]))
    if rng.random() < 0.5:
        img, lm = _tilt(img, lm, box, rng)
    defects = rng.permutation(_N_DEFECTS)[: int(rng.integers(1, 4))]
    x = _photometric(img.astype(np.float32) / 255.0, defects, side, rng)
    if rng.random() < 0.3:
        x = grey3(x)
    out = (np.clip(x, 0, 1) * 255).astype(np.uint8)
    if 3 in defects:  # a small face, 24-64 px wide
        out = down_up(out, float(np.clip(rng.uniform(24, 64) / max(side, 1.0), 0.05, 1.0)), 4)
    if 4 in defects:
        out = jpeg(out, int(rng.integers(10, 50)))
    return out, lm
