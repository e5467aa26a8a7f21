"""A synthetic clip with three real faces that move and cross, and where each face is at each moment.

The faces are the astronaut photograph's head (``skimage.data.astronaut()``) in three looks: as is,
in grey, and mirrored with red and blue swapped (a bluish skin tone): three identities a viewer and
an appearance cue can tell apart, while RetinaFace finds all three. Face A walks right, face B walks
left in front of A (hiding it for a few frames mid-way), face C climbs through both paths later.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data

from emotrace.datasets.sample_posts import ASTRONAUT_FACE_BOX

WIDTH, HEIGHT, FPS, DURATION_S = 640, 360, 10.0, 6.0
_HEAD = (145, 10, 305, 195)  # head with hair in the astronaut photo (x0, y0, x1, y1)
_SCALE = 0.6  # head 96 x 111 px, face box about 57 x 72 px


@dataclass(frozen=True)
class Sprite:
    name: str
    image: np.ndarray  # uint8[h, w, 3]
    start: tuple[float, float]  # top-left (x, y) at t = 0
    end: tuple[float, float]  # top-left at t = DURATION_S


def _heads() -> list[np.ndarray]:
    x0, y0, x1, y1 = _HEAD
    head = skimage.data.astronaut()[y0:y1, x0:x1]
    head = cv2.resize(head, None, fx=_SCALE, fy=_SCALE, interpolation=cv2.INTER_AREA)
    grey = np.repeat(cv2.cvtColor(head, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    blue = np.ascontiguousarray(head[:, ::-1, ::-1])
    return [head, grey, blue]


def sprites() -> list[Sprite]:
    """In drawing order (later ones hide earlier ones)."""
    a, b, c = _heads()
    return [
        Sprite("A", a, (20.0, 40.0), (520.0, 40.0)),
        Sprite("C", c, (420.0, 250.0), (200.0, -60.0)),
        Sprite("B", b, (520.0, 60.0), (20.0, 60.0)),
    ]


def _top_left(s: Sprite, t_s: float) -> tuple[int, int]:
    u = t_s / DURATION_S
    return round(s.start[0] + u * (s.end[0] - s.start[0])), round(s.start[1] + u * (s.end[1] - s.start[1]))


def frame_at(t_s: float) -> np.ndarray:
    """uint8[HEIGHT, WIDTH, 3]: a soft two-colour gradient background with the sprites pasted on."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    frame = np.stack([90 + 60 * xx / WIDTH, 120 + 40 * yy / HEIGHT, 150 - 50 * xx / WIDTH], axis=2)
    frame = frame.astype(np.uint8)
    for s in sprites():
        x, y = _top_left(s, t_s)
        h, w = s.image.shape[:2]
        fx0, fy0, fx1, fy1 = max(x, 0), max(y, 0), min(x + w, WIDTH), min(y + h, HEIGHT)
        if fx1 > fx0 and fy1 > fy0:
            frame[fy0:fy1, fx0:fx1] = s.image[fy0 - y : fy1 - y, fx0 - x : fx1 - x]
    return frame


def frames() -> np.ndarray:
    """uint8[T, HEIGHT, WIDTH, 3] at FPS for DURATION_S."""
    return np.stack([frame_at(i / FPS) for i in range(round(DURATION_S * FPS))])


def face_centres(t_s: float) -> dict[str, np.ndarray]:
    """Where each face's centre is at ``t_s`` (frame pixels), for faces whose centre is in the frame."""
    fx0, fy0, fx1, fy1 = ASTRONAUT_FACE_BOX
    hx0, hy0 = _HEAD[:2]
    out = {}
    for s in sprites():
        x, y = _top_left(s, t_s)
        w = s.image.shape[1]
        cx = ((fx0 + fx1) / 2 - hx0) * _SCALE
        if s.name == "C":  # mirrored
            cx = w - cx
        cy = ((fy0 + fy1) / 2 - hy0) * _SCALE
        centre = np.array([x + cx, y + cy])
        if 0 <= centre[0] < WIDTH and 0 <= centre[1] < HEIGHT:
            out[s.name] = centre
    return out
