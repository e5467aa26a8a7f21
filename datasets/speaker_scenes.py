"""Real talking faces side by side: test material for active-speaker attribution (issue 18).

The GRID clips of ``realdata/video`` (CC BY 4.0: one speaker each, 3 s, 360x288 at 25 fps, read speech)
are put beside a still portrait of another real person (``realdata/faces``, via ``face_composites``:
cut out with a soft edge and pasted on a real person-free background), or beside another GRID clip, with
the soundtrack of ONE clip. Written as H.264 + AAC MP4s into a folder the caller owns (tmp dirs: shared/
is read-only). Pure core: no Beam.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import NamedTuple

import numpy as np

from emotrace.datasets.face_composites import Head, background, paste, scaled
from emotrace.datasets.sample_posts import write_video
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import DecodeConfig

CLIP_FPS = 25.0
SAMPLE_RATE_HZ = 16000


class Clip(NamedTuple):
    """A decoded talking clip: ``frames`` uint8[T, H, W, 3] at ``CLIP_FPS``; ``audio`` float32[N] mono
    at ``SAMPLE_RATE_HZ``; ``name`` the file's stem."""

    name: str
    frames: np.ndarray
    audio: np.ndarray


def grid_paths(realdata: str) -> list[str]:
    """The GRID clips (one speaker each), sorted."""
    return sorted(glob.glob(os.path.join(realdata, "video", "*.mpg")))


def read_clip(path: str) -> Clip:
    """Every frame (25 fps) and the 16 kHz mono soundtrack of ``path``."""
    info = probe(path)
    cfg = dataclasses.replace(DecodeConfig(), frame_rate_hz=CLIP_FPS)
    frames = np.concatenate([c.frames for c in iter_frames(path, info, cfg)])
    audio = np.concatenate([c.samples for c in iter_audio(path, info, cfg)])
    return Clip(os.path.splitext(os.path.basename(path))[0], frames, audio)


def beside_still(clip: Clip, head: Head, realdata: str, seed: int) -> np.ndarray:
    """uint8[T, H, 2W, 3]: ``clip`` on the left, ``head`` still on the right (its face as tall as a GRID
    face, ~45 % of the frame's height) on a real background; the same right half in every frame."""
    _, height, width, _ = clip.frames.shape
    face_px = 0.42 * height
    small = scaled(head, face_px)
    panel = np.array(background(realdata, width, height, seed))
    face_w = small.face[2] - small.face[0]
    paste(panel, small, (width - face_w) / 2, 0.3 * height)  # the face's top-left corner
    right = np.broadcast_to(panel, clip.frames.shape)
    return np.concatenate([clip.frames, right], axis=2)


def side_by_side(left: Clip, right: Clip) -> np.ndarray:
    """uint8[T, H, 2W, 3]: two clips of one size, cut to the shorter one."""
    n = min(len(left.frames), len(right.frames))
    return np.concatenate([left.frames[:n], right.frames[:n]], axis=2)


def write_scene(path: str, frames: np.ndarray, voice: Clip) -> None:
    """Encode ``frames`` at 25 fps with ``voice``'s soundtrack (cut to the frames' length)."""
    n = int(len(frames) / CLIP_FPS * SAMPLE_RATE_HZ)
    write_video(path, frames, CLIP_FPS, voice.audio[:n], SAMPLE_RATE_HZ, crf=20)
