"""Real face crops for distilling the face teacher into the face branch, with teacher-visible variety.

Sources (``realdata_face_sources``): the portraits and talking-face videos of ``../shared/realdata`` that
may train a shipped bundle (its README; never ``validation-only/``). Every face is found and aligned by the
analyze pipeline's own code (``datasets.stills``: the detector ``analyze`` builds, ``align_face``); a
video is sampled at the analysis frame rate and each frame treated the same way.

Each face gives ``views`` training views. View 0 is the face as it is. The others are augmented, the
same way for both networks: an expression warp (``datasets.face_warp``; most portraits are neutral or
smiling, so the warps lean towards frowns, knitted or lowered brows, raised inner brows and upper lips:
what sadness, anger, disgust and fear move), a mirror image, detector-like landmark jitter, lighting,
greyscale, low resolution, JPEG and sensor noise. The student's input is the aligned 64 px RGB crop the
pipeline would produce from the augmented picture; the teacher's is its own framing of the same picture
(``teacher_crop``: fer's square face box with a margin, grey, 64 px), so each view is labelled by what
the teacher sees in it. Pictures also give ``wild_views`` views as a camera in the wild would capture
them (``wild_view``, ``datasets.wild_capture``: tilt, defocus, low light, small faces, heavy JPEG),
numbered from ``WILD_VIEW``; they train the face branch only. Deterministic: view ``k`` of face ``i``
draws from ``default_rng([seed, i, k])``.
Pure core: no Beam import.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from emotrace.datasets.face_warp import ASTRONAUT_IOD_PX, FaceCues, WarpAmplitudes, face_roi, warp_region
from emotrace.datasets.stills import largest, load_frame
from emotrace.datasets.wild_capture import capture, down_up, grey3, jpeg
from emotrace.features.align import align_face
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.records import FaceDetection

TEACHER_PX = 64
TEACHER_MARGIN = 0.1  # fer pads its (Haar) face box by 10 px a side; a tenth of the side here
# Warp amplitudes per interocular distance (the synthetic corpus's, x 1.3: real expressions move more
# than the synthetic corpus's subtle cues), for the two extra cues too.
_PER_IOD = WarpAmplitudes(10.0, 7.0, 6.0, 3.0, 3.5, 3.5).scaled(1.3 / ASTRONAUT_IOD_PX)
_MIRROR = [1, 0, 2, 4, 3]  # landmark order after a horizontal flip (right <-> left)
WILD_VIEW = 100  # view numbers from here on are captured in the wild (``wild_view``); below, ``make_view``


@dataclass(frozen=True)
class FaceSource:
    """A picture or video of real people. ``identity``: who (London's face id, else the file); ``label``:
    a direct expression label where the corpus has one (London: neutral or smiling)."""

    path: str
    corpus: str
    identity: str
    split: str
    kind: str = "image"  # image | video
    label: str | None = None


@dataclass(frozen=True)
class BaseFace:
    """One detected face: ``source`` index, ``frame`` index within it (0 for a picture)."""

    source: int
    frame_index: int
    frame: np.ndarray
    detection: FaceDetection


def teacher_crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The teacher's framing: the face box squared (the shorter side lengthened, as fer's ``tosquare``),
    ``TEACHER_MARGIN`` added on every side, greyscale, ``TEACHER_PX`` square: uint8[64, 64]. Outside the
    picture is the picture's mean grey (fer pads with a mean grey too)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * TEACHER_MARGIN)
    left, top = (x0 + x1 - side) / 2, (y0 + y1 - side) / 2
    s = TEACHER_PX / side
    m = np.array([[s, 0.0, -left * s], [0.0, s, -top * s]])
    border = float(grey.mean())
    return cv2.warpAffine(grey, m, (TEACHER_PX, TEACHER_PX), flags=cv2.INTER_AREA, borderValue=border)


def sample_cues(rng: np.random.Generator) -> FaceCues:
    """A random expression after the FACS prototypes of the basic emotions (Ekman & Friesen), as far as
    the warp's cues reach: happiness AU 12 (+25); sadness AU 1+4+15; anger AU 4+5+7 with lips pressed
    (23) or open and raised (10+25, shouting); disgust AU 9/10 (+25); surprise AU 1+2+5+26; fear
    AU 1+2+4+5+20+26. Weighted towards what neutral and smiling portraits lack."""
    u = rng.uniform
    kind = rng.choice(
        ["none", "smile", "sad", "anger", "disgust", "surprise", "fear"],
        p=[0.1, 0.15, 0.2, 0.2, 0.15, 0.1, 0.1],
    )
    if kind == "smile":
        return FaceCues(smile=u(0.4, 1.0), open=u(0.0, 0.5), brow=u(-0.2, 0.3), knit=0.0)
    if kind == "sad":
        return FaceCues(
            smile=u(-1.0, -0.4), open=0.0, brow=u(-0.3, 0.1), knit=u(0.2, 0.6), inner_raise=u(0.4, 1.0)
        )
    if kind == "anger":
        shouting = rng.random() < 0.5
        return FaceCues(
            smile=u(-0.6, 0.0),
            open=u(0.4, 0.9) if shouting else u(0.0, 0.1),
            brow=u(-1.0, -0.5),
            knit=u(0.5, 1.0),
            lip_raise=u(0.3, 0.8) if shouting else 0.0,
        )
    if kind == "disgust":
        return FaceCues(
            smile=u(-0.7, -0.2), open=u(0.0, 0.4), brow=u(-0.5, 0.0), knit=u(0.3, 0.8), lip_raise=u(0.5, 1.0)
        )
    if kind == "surprise":
        return FaceCues(smile=u(-0.1, 0.2), open=u(0.5, 1.0), brow=u(0.6, 1.0), knit=0.0)
    if kind == "fear":
        return FaceCues(
            smile=u(-0.6, -0.1), open=u(0.3, 0.8), brow=u(0.3, 0.8), knit=u(0.2, 0.5), inner_raise=u(0.5, 1.0)
        )
    return FaceCues(smile=u(-0.2, 0.2), open=u(0.0, 0.2), brow=u(-0.2, 0.2), knit=u(0.0, 0.1))


def _photometric(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting, greyscale, low resolution, JPEG and noise on an RGB patch (a new uint8 array)."""
    x = patch.astype(np.float32) / 255.0
    x = np.clip((x - 0.5) * rng.uniform(0.75, 1.25) + 0.5 + rng.uniform(-0.12, 0.12), 0, 1)
    x = x ** rng.uniform(0.75, 1.35)
    x = np.clip(x * rng.uniform(0.92, 1.08, size=3), 0, 1)  # colour cast
    if rng.random() < 0.3:  # greyscale (old portraits, some Congress photos; the teacher sees grey only)
        x = grey3(x)
    out = (x * 255.0).astype(np.uint8)
    if rng.random() < 0.3:  # a smaller face
        out = down_up(out, rng.uniform(0.25, 0.7), 8)
    if rng.random() < 0.3:
        out = jpeg(out, int(rng.integers(25, 90)))
    if rng.random() < 0.3:
        noisy = out.astype(np.float32) + rng.normal(0, rng.uniform(2, 8), out.shape)
        out = np.clip(noisy, 0, 255).astype(np.uint8)
    return out


def _mirror(img: np.ndarray, lm: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = img.shape[1]
    lm = lm[_MIRROR].copy()
    lm[:, 0] = w - 1 - lm[:, 0]
    return np.ascontiguousarray(img[:, ::-1]), lm, np.array([w - 1 - box[2], box[1], w - 1 - box[0], box[3]])


def make_view(
    frame: np.ndarray, det: FaceDetection, crop_px: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """(student crop uint8[S, S, 3], teacher crop uint8[64, 64]) of one face; ``rng`` None: as it is."""
    lm = det.landmarks.astype(np.float64)
    box = det.box.astype(np.float64)
    if rng is None:
        return align_face(frame, lm.astype(np.float32), crop_px), teacher_crop(frame, box)
    iod = max(float(np.linalg.norm(lm[1] - lm[0])), 1.0)
    img = warp_region(frame, face_roi(lm, frame.shape), lm, sample_cues(rng), _PER_IOD.scaled(iod))
    if rng.random() < 0.5:
        img, lm, box = _mirror(img, lm, box)
    # Photometry on the face's neighbourhood only (both crops lie inside it): cheap on big pictures.
    side = max(box[2] - box[0], box[3] - box[1])
    x0, y0 = int(max(0, box[0] - side)), int(max(0, box[1] - side))
    x1, y1 = int(min(img.shape[1], box[2] + side)), int(min(img.shape[0], box[3] + side))
    img = img.copy()
    img[y0:y1, x0:x1] = _photometric(img[y0:y1, x0:x1], rng)
    lm_seen = lm + rng.normal(0.0, 0.03 * iod, lm.shape)  # the detector's landmarks wobble
    box_seen = box + rng.normal(0.0, 0.04 * side, 4)
    return align_face(img, lm_seen.astype(np.float32), crop_px), teacher_crop(img, box_seen)


def wild_view(
    frame: np.ndarray, det: FaceDetection, crop_px: int, rng: np.random.Generator, warp_p: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(student crop, teacher crop) of one face as captured in the wild (``datasets.wild_capture``): an
    expression warp on half of them, a mirror on half, then the capture's defects on the whole picture,
    and a detector that sees the degraded face (box jitter 6 % of its side, landmarks 3 % of the IOD)."""
    lm = det.landmarks.astype(np.float64)
    box = det.box.astype(np.float64)
    img = frame
    if rng.random() < warp_p:
        iod = max(float(np.linalg.norm(lm[1] - lm[0])), 1.0)
        img = warp_region(frame, face_roi(lm, frame.shape), lm, sample_cues(rng), _PER_IOD.scaled(iod))
    if rng.random() < 0.5:
        img, lm, box = _mirror(img, lm, box)
    img, lm = capture(img, lm, box, rng)
    side = max(box[2] - box[0], box[3] - box[1])
    box_seen = box + rng.normal(0, 0.06 * side, 4)
    iod = max(float(np.linalg.norm(lm[1] - lm[0])), 1.0)
    lm_seen = lm + rng.normal(0.0, 0.03 * iod, lm.shape)
    return align_face(img, lm_seen.astype(np.float32), crop_px), teacher_crop(img, box_seen)


def iter_base_faces(
    sources: Sequence[FaceSource], cfg: AnalyzeConfig, detector: object, first_index: int = 0
) -> Iterator[BaseFace]:
    """The largest face of each picture, and of each analysis frame of each video, in order."""
    from emotrace.media.decode import iter_frames
    from emotrace.media.probe import probe

    for i, src in enumerate(sources):
        if src.kind == "image":
            frames: Iterator[np.ndarray] = iter([load_frame(src.path, cfg.decode.max_side_px)])
        else:
            info = probe(src.path, cfg.decode.format_whitelist)
            frames = (f for chunk in iter_frames(src.path, info, cfg.decode) for f in chunk.frames)
        for k, frame in enumerate(frames):
            det = largest(detector.detect(frame[None])[0])  # type: ignore[attr-defined]
            if det is not None:
                yield BaseFace(first_index + i, k, np.ascontiguousarray(frame), det)


@dataclass(frozen=True)
class FacePool:
    """Views of faces. ``crops``: uint8[N, S, S, 3] student inputs; ``grey``: uint8[N, 64, 64] teacher
    inputs; ``base``: int64[N] face index; ``view``: int64[N] (0: as it is); ``source``: int64[N] index
    into the sources; ``frame``: int64[N] frame index within the source."""

    crops: np.ndarray
    grey: np.ndarray
    base: np.ndarray
    view: np.ndarray
    source: np.ndarray
    frame: np.ndarray

    def __len__(self) -> int:
        return len(self.base)


def build_views(
    faces: Sequence[BaseFace], views: int, crop_px: int, seed: int, wild_views: int = 0
) -> FacePool:
    """``views`` views of each face (see the module docstring), then ``wild_views`` captured in the wild
    (``wild_view``), numbered from ``WILD_VIEW``. View ``k`` of the face in frame ``f`` of source ``s``
    draws from ``default_rng([seed, s, f, k])``: independent of how sources are chunked."""
    crops, grey, view, source, frame = [], [], [], [], []
    for f in faces:
        for k in [*range(views), *range(WILD_VIEW, WILD_VIEW + wild_views)]:
            rng = None if k == 0 else np.random.default_rng([seed, f.source, f.frame_index, k])
            if k >= WILD_VIEW:
                c, g = wild_view(f.frame, f.detection, crop_px, rng)  # type: ignore[arg-type]
            else:
                c, g = make_view(f.frame, f.detection, crop_px, rng)
            crops.append(c)
            grey.append(g)
            view.append(k)
            source.append(f.source)
            frame.append(f.frame_index)
    n = len(view)
    return FacePool(
        np.stack(crops) if n else np.zeros((0, crop_px, crop_px, 3), np.uint8),
        np.stack(grey) if n else np.zeros((0, TEACHER_PX, TEACHER_PX), np.uint8),
        np.zeros(n, np.int64),  # face ids are numbered once all chunks are in (``number_faces``)
        np.asarray(view, np.int64),
        np.asarray(source, np.int64),
        np.asarray(frame, np.int64),
    )


def number_faces(pool: FacePool) -> FacePool:
    """``base``: one id per (source, frame), in order of appearance."""
    key = pool.source * 1_000_000 + pool.frame
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))  # ids in order of first appearance
    return dataclasses.replace(pool, base=rank[inverse].astype(np.int64))


def concat_pools(pools: Sequence[FacePool]) -> FacePool:
    return FacePool(*(np.concatenate([getattr(p, f) for p in pools]) for f in FacePool.__dataclass_fields__))


def _london(root: str, test_every: int, dev_every: int) -> list[FaceSource]:
    with open(os.path.join(root, "labels.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ids = sorted({r["face_id"] for r in rows})
    split = {
        fid: "test" if i % test_every == test_every - 1 else "dev" if i % dev_every == 0 else "train"
        for i, fid in enumerate(ids)
    }
    return [
        FaceSource(
            os.path.join(root, r["file"]),
            "london",
            f"london-{r['face_id']}",
            split[r["face_id"]],
            label=r["expression"],
        )
        for r in sorted(rows, key=lambda r: r["file"])
    ]


_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_PORTRAITS = ("canada", "interfaces", "congress", "lisa_zoom", "pexels")
_VIDEO_EXT = (".mpg", ".mp4", ".mov", ".avi", ".mkv", ".webm")


def realdata_face_sources(realdata: str, dev_every: int = 10) -> list[FaceSource]:
    """Every face source of ``realdata`` that may train a shipped bundle, with splits: London by
    identity (a third test, a ninth of the rest dev), other portraits one in ``dev_every`` dev (they only
    measure agreement with the teacher), videos all train. ``validation-only/`` is never read."""
    out = _london(os.path.join(realdata, "faces", "london"), test_every=3, dev_every=9)
    for folder in _PORTRAITS:
        root = os.path.join(realdata, "faces", folder)
        names = (
            sorted(n for n in os.listdir(root) if n.lower().endswith(_IMAGE_EXT))
            if os.path.isdir(root)
            else []
        )
        for i, name in enumerate(names):
            split = "dev" if i % dev_every == dev_every - 1 else "train"
            out.append(
                FaceSource(os.path.join(root, name), folder, f"{folder}-{os.path.splitext(name)[0]}", split)
            )
    for dirpath, _, files in sorted(os.walk(os.path.join(realdata, "video"))):
        for name in sorted(files):
            if name.lower().endswith(_VIDEO_EXT):
                corpus = "pyfeat" if os.path.basename(dirpath) == "pyfeat" else "grid"
                path = os.path.join(dirpath, name)
                out.append(
                    FaceSource(path, corpus, f"{corpus}-{os.path.splitext(name)[0]}", "train", kind="video")
                )
    return out
