"""Model windows as stacked numpy arrays, with gold labels: what training and evaluation iterate over.

``WindowArrays`` holds N ``StepWindow``s of one or more videos column-wise (so a whole corpus of short
videos fits in memory and batches are slices). Windows themselves come from the same code as the
analyze pipeline (``emotrace.datasets.window_cache`` runs ``features.windows.iter_step_windows``); this
module only stacks, labels, batches and masks them. Pure numpy + torch; no Beam import.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from emotrace.schemas.records import StepWindow


@dataclass(frozen=True)
class WindowArrays:
    """N windows of W steps.

    faces: uint8[N, W, S, S, 3]; face_mask, audio_mask, valid: bool[N, W]; audio: float32[N, W, D];
    start_step: int64[N] (grid step of each window's first step); track_id: int64[N] (-1: face-less
    lane); video: int64[N] index of the window's video in the corpus; gold: float32[N, W, 2] as
    (arousal, valence) averaged onto the grid, NaN where unlabelled (all NaN before ``with_gold``).
    """

    faces: np.ndarray
    face_mask: np.ndarray
    audio: np.ndarray
    audio_mask: np.ndarray
    valid: np.ndarray
    start_step: np.ndarray
    track_id: np.ndarray
    video: np.ndarray
    gold: np.ndarray

    def __len__(self) -> int:
        return len(self.valid)

    @property
    def window_steps(self) -> int:
        return int(self.valid.shape[1])

    def take(self, idx: np.ndarray | slice) -> WindowArrays:
        """The windows at ``idx`` (a copy for index arrays, a view for slices)."""
        return WindowArrays(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def with_gold(self, grid_labels: Sequence[np.ndarray]) -> WindowArrays:
        """Attach labels: ``grid_labels[v]`` is float32[n_steps_v, 2] for video ``v`` (``to_grid``);
        steps beyond it are NaN."""
        w = self.window_steps
        gold = np.full((len(self), w, 2), np.nan, np.float32)
        for i in range(len(self)):
            labels = grid_labels[int(self.video[i])]
            s0 = int(self.start_step[i])
            n = max(0, min(w, len(labels) - s0))
            gold[i, :n] = labels[s0 : s0 + n]
        return replace(self, gold=gold)

    def with_video_index(self, v: int) -> WindowArrays:
        return replace(self, video=np.full(len(self), v, np.int64))


def stack_windows(
    windows: Sequence[StepWindow], crop_px: int, n_features: int, window_steps: int
) -> WindowArrays:
    """``StepWindow``s of one video -> ``WindowArrays`` (video index 0, gold all NaN). An empty list
    gives N = 0 arrays of the right trailing shapes."""
    n, w = len(windows), window_steps
    if n == 0:
        return WindowArrays(
            faces=np.zeros((0, w, crop_px, crop_px, 3), np.uint8),
            face_mask=np.zeros((0, w), bool),
            audio=np.zeros((0, w, n_features), np.float32),
            audio_mask=np.zeros((0, w), bool),
            valid=np.zeros((0, w), bool),
            start_step=np.zeros(0, np.int64),
            track_id=np.zeros(0, np.int64),
            video=np.zeros(0, np.int64),
            gold=np.zeros((0, w, 2), np.float32),
        )
    return WindowArrays(
        faces=np.stack([x.faces for x in windows]).astype(np.uint8, copy=False),
        face_mask=np.stack([x.face_mask for x in windows]).astype(bool),
        audio=np.stack([x.audio for x in windows]).astype(np.float32),
        audio_mask=np.stack([x.audio_mask for x in windows]).astype(bool),
        valid=np.stack([x.valid for x in windows]).astype(bool),
        start_step=np.array([x.start_step for x in windows], np.int64),
        track_id=np.array([-1 if x.track_id is None else x.track_id for x in windows], np.int64),
        video=np.zeros(n, np.int64),
        gold=np.full((n, w, 2), np.nan, np.float32),
    )


def concat(parts: Sequence[WindowArrays]) -> WindowArrays:
    """Windows of several videos (their ``video`` indices are kept as they are)."""
    if not parts:
        raise ValueError("concat needs at least one WindowArrays")
    return WindowArrays(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(parts[0])}
    )


def audio_stats(arrays: WindowArrays, floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Descriptor mean and std (float32[D] each) over the valid steps with audio, NaN skipped.

    Valid steps only: a step belongs to one lane as ``valid`` (for one face), while its audio is copied
    into every lane's window, so counting all steps would weigh multi-lane stretches twice. ``floor``
    keeps constant descriptors from dividing by zero.
    """
    rows = arrays.audio[arrays.valid & arrays.audio_mask]
    if len(rows) == 0:
        raise ValueError("no valid step with audio in the training windows: cannot compute audio stats")
    mean = np.nan_to_num(np.nanmean(rows, axis=0), nan=0.0)
    std = np.nan_to_num(np.nanstd(rows, axis=0), nan=1.0)
    return mean.astype(np.float32), np.maximum(std, floor).astype(np.float32)


@dataclass(frozen=True)
class ModalityDropout:
    """Per-window modality dropout used in training (Liu & Tang's robustness to a missing modality).

    Each window independently: with ``p_face`` its faces are all dropped; else with ``p_audio`` its
    audio is dropped; else with ``p_face_steps`` a random fraction U(0.3, 0.8) of its face steps are
    dropped (the scattered gaps a flaky detector leaves). Dropping sets the mask False, exactly what the
    pipeline emits for a missing modality.
    """

    p_face: float = 0.1
    p_audio: float = 0.1
    p_face_steps: float = 0.5

    def apply(
        self, face_mask: np.ndarray, audio_mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """bool[B, W] masks -> new masks (inputs untouched)."""
        fm, am = face_mask.copy(), audio_mask.copy()
        b, w = fm.shape
        u = rng.random(b)
        frac = rng.uniform(0.3, 0.8, size=b)
        steps = rng.random((b, w))
        for i in range(b):
            if u[i] < self.p_face:
                fm[i] = False
            elif u[i] < self.p_face + self.p_audio:
                am[i] = False
            elif u[i] < self.p_face + self.p_audio + self.p_face_steps:
                fm[i] &= steps[i] >= frac[i]
        return fm, am


def iter_batches(n: int, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` in batches; shuffled by ``rng`` (None: in order)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def to_tensors(
    arrays: WindowArrays, face_mask: np.ndarray | None = None, audio_mask: np.ndarray | None = None
) -> dict[str, torch.Tensor]:
    """Model inputs and targets as tensors; optional replacement masks (e.g. after dropout). Faces at
    dropped steps are zeroed too, so a dropped crop is indistinguishable from a missing one."""
    fm = arrays.face_mask if face_mask is None else face_mask
    am = arrays.audio_mask if audio_mask is None else audio_mask
    faces = arrays.faces
    if face_mask is not None and (arrays.face_mask & ~fm).any():
        faces = faces * fm[..., None, None, None].astype(np.uint8)
    return {
        "faces": torch.from_numpy(np.ascontiguousarray(faces)),
        "face_mask": torch.from_numpy(np.ascontiguousarray(fm)),
        "audio": torch.from_numpy(np.ascontiguousarray(arrays.audio)),
        "audio_mask": torch.from_numpy(np.ascontiguousarray(am)),
        "valid": torch.from_numpy(np.ascontiguousarray(arrays.valid)),
        "gold": torch.from_numpy(np.ascontiguousarray(arrays.gold)),
    }
