"""Small faces (issue 18): found by default at 720p and 1080p, tracked through crossings with their
identities, and still given 5 landmarks and an aligned crop.

The real-face tests composite portraits of real, different people (``datasets/face_composites.py``;
identities drawn at random with a fixed seed from four collections) small onto real outdoor scenes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from emotrace.datasets import face_composites as fc
from emotrace.datasets.sample_posts import write_video
from emotrace.features.align import align_face, alignment_matrix, template
from emotrace.features.faces import FaceDetector
from emotrace.features.full_frame import MIN_NET_SIDE_PX, proposal_side
from emotrace.features.roi_detect import RoiFaceDetector
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.features.tracking import iou_matrix
from emotrace.features.windows import WindowStats
from emotrace.features.zoom import ZOOM_FACE_PX, zoomed_canvas
from emotrace.media.decode import iter_frames, open_streams
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig, FaceConfig
from emotrace.schemas.records import FaceDetection, StepWindow, VideoRef
from tests.features import realdata
from tests.features.realdata import require_realdata

FPS = 25.0


# -- the full-frame pass's size and the zoom: pure -------------------------------------------------
@pytest.mark.parametrize(
    ("frame_hw", "min_face_px", "override", "whole_frame", "want"),
    [
        ((480, 854), 20 * 854 / 1280, None, False, 640),  # 720p decoded at 854: a 20 px face is 10 px
        ((720, 1280), 10.0, None, False, 1280),  # --min-face 10 on 1280 px frames: 10 px at 1280
        ((720, 1280), 20 * 1280 / 1920, None, True, 1280),  # 1080p decoded at 1280: taken as it is
        ((360, 640), 20.0, None, False, 640),  # never below 640 px: large faces keep their precision
        ((360, 640), 5.0, None, False, 640),  # never above the frame
        ((720, 1280), 20.0, 800, True, 800),  # --face-max-side sets it
    ],
)
def test_the_proposal_pass_is_sized_so_the_smallest_face_is_10_px_there(
    frame_hw: tuple[int, int], min_face_px: float, override: int | None, whole_frame: bool, want: int
) -> None:
    assert proposal_side(frame_hw, min_face_px, override, whole_frame) == want
    assert MIN_NET_SIDE_PX == 640


def test_a_small_face_is_enlarged_on_a_small_canvas_and_a_large_one_shrunk() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    small = np.array([600.0, 300.0, 624.0, 330.0])  # 24 x 30 px
    canvas, back, _ = zoomed_canvas(frame, small, 192)
    assert back[2] == pytest.approx(ZOOM_FACE_PX / 24, rel=1e-3)  # enlarged: 24 px -> 48
    assert canvas.shape == (128, 128, 3)  # 2 x 30 px x 2 = 120, rounded up to a multiple of 32
    large = np.array([400.0, 100.0, 700.0, 500.0])  # 300 x 400: the ROI (800 px) shrunk to 192
    canvas, back, _ = zoomed_canvas(frame, large, 192)
    assert canvas.shape == (192, 192, 3) and back[2] == pytest.approx(192 / 800, rel=0.02)


# -- a small real face in a 720p frame: no realdata needed --------------------------------------
def _astronaut_at(face_px: float) -> tuple[np.ndarray, np.ndarray]:
    """A 1280x720 frame with the astronaut's face (box 95 x 120 px in the photo) scaled to a shorter
    side of ``face_px``; returns the frame and the face box."""
    photo = skimage.data.astronaut()
    s = face_px / 95.0
    small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), (90, 120, 150), np.uint8)
    ox, oy = 500, 300
    frame[oy : oy + small.shape[0], ox : ox + small.shape[1]] = small
    box = np.array([177.0, 56.0, 272.0, 176.0]) * s + [ox, oy, ox, oy]
    return frame, box


def test_a_24_px_face_missed_by_a_640_px_pass_is_found_with_its_landmarks(detector: FaceDetector) -> None:
    frame, box = _astronaut_at(24.0)
    plain = FaceDetector(FaceConfig(min_face_px=1), max_side_px=640)
    assert not any(iou_matrix(box[None], d.box[None])[0, 0] > 0.3 for d in plain.detect([frame])[0])
    (face,) = RoiFaceDetector(detector, FaceConfig(detect_every_frames=1)).detect(frame[None])[0]
    assert iou_matrix(box[None], face.box[None])[0, 0] >= 0.5 and face.score >= 0.8
    _assert_face_points(face)


def _assert_face_points(face: FaceDetection) -> None:
    """Five landmarks in RetinaFace order inside the box, and an alignment that puts them on the
    ArcFace template to within 8 % of the crop (a face at 24 px: ~2 px of the source)."""
    (rex, rey), (lex, ley), (_, ny), (rmx, rmy), (lmx, lmy) = face.landmarks
    x0, y0, x1, y1 = face.box
    assert np.all((face.landmarks >= [x0 - 1, y0 - 1]) & (face.landmarks <= [x1 + 1, y1 + 1]))
    assert rex < lex and rmx < lmx and max(rey, ley) < ny < max(rmy, lmy)
    m = alignment_matrix(face.landmarks, 64)
    warped = face.landmarks.astype(np.float64) @ m[:, :2].T + m[:, 2]
    assert np.linalg.norm(warped - template(64), axis=1).max() < 0.08 * 64


# -- real people: crossings at 720p, a group at 1080p ----------------------------------------------
def _windows(path: str, cfg: AnalyzeConfig, detector: FaceDetector) -> tuple[list[StepWindow], WindowStats]:
    info = probe(path)
    grid = StepGrid(VideoRef(path, Path(path).stem), info, detector, cfg, 64)
    return list(iter_step_windows(grid, *open_streams(path, info, cfg.decode))), grid.stats


def _crossing(
    realdata: str, seed: int, size: tuple[int, int], tmp: Path
) -> tuple[str, np.ndarray, list[fc.Walk], int]:
    """A 6 s clip of ``size``: three people with faces of 24-40 px (one of exactly 24) crossing, each
    moving about a face side per 0.2 s analysis step (at 720p); returns path, scene, walks, frames."""
    rng = np.random.default_rng(seed)
    heads = fc.pick_heads(realdata, 3, seed)
    sizes = rng.permutation([24.0, *rng.uniform(24.0, 40.0, 2)])
    scene = fc.background(realdata, *size, seed)
    walks = fc.crossing_walks(heads, list(sizes), *size)
    n = round(6.0 * FPS)
    path = str(tmp / f"crossing{seed}.mp4")
    write_video(path, fc.crossing_frames(scene, walks, n), FPS, crf=23)
    return path, scene, walks, n


def _who(scene: np.ndarray, walks: list[fc.Walk], n: int, step: int, box: np.ndarray) -> int | None:
    """Which walker a face box at analysis ``step`` shows; None where that is not clear: the nearest
    face centre is not twice as near as the next, or it overlaps another face (half hidden)."""
    u = min(1.0, step * FPS * 0.2 / (n - 1))
    boxes = np.stack([p.box for p in fc.render(scene, walks, u)[1]])
    centre = (box[:2] + box[2:]) / 2
    dist = np.linalg.norm((boxes[:, :2] + boxes[:, 2:]) / 2 - centre, axis=1)
    order = np.argsort(dist)
    overlap = iou_matrix(boxes, boxes)[order[0]]
    overlap[order[0]] = 0.0
    if dist[order[0]] > 0.5 * dist[order[1]] or overlap.max() > 0.05:
        return None
    return int(order[0])


@pytest.mark.media
@pytest.mark.parametrize(("seed", "size"), [(18, (1280, 720)), (81, (1280, 720)), (7, (1920, 1080))])
def test_three_small_real_faces_crossing_make_exactly_three_tracks(
    seed: int, size: tuple[int, int], detector: FaceDetector, tmp_path: Path
) -> None:
    path, scene, walks, n = _crossing(require_realdata(), seed, size, tmp_path)
    cfg = AnalyzeConfig()  # the defaults
    windows, stats = _windows(path, cfg, detector)
    seen: dict[int, dict[int, int]] = {}  # track -> walker -> steps
    for w in windows:
        for i in np.flatnonzero(w.face_mask) if w.track_id is not None else []:
            x, y, bw, bh = w.face_box[i] * np.tile(size, 2)
            who = _who(scene, walks, n, w.start_step + i, np.array([x, y, x + bw, y + bh]))
            if who is not None:
                seen.setdefault(w.track_id, {}).setdefault(who, 0)
                seen[w.track_id][who] += 1
            assert w.faces[i].std() > 10  # an aligned crop of a face, not a black square
    assert stats.n_tracks == 3, seen
    assert all(len(walkers) == 1 for walkers in seen.values()), seen  # no track swaps people
    steps = {next(iter(walkers)): sum(walkers.values()) for walkers in seen.values()}
    assert sorted(steps) == [0, 1, 2], seen  # each person has their own track
    assert min(steps.values()) >= 15, steps  # of 30 steps, minus the moments half hidden


def _group(realdata: str, seed: int, tmp: Path) -> tuple[str, list[fc.Placed]]:
    """A 1 s 1920x1080 still of ten people with faces of 24-60 px (log-uniform, one of each end)."""
    rng = np.random.default_rng(seed)
    sizes = np.exp(rng.uniform(np.log(24.0), np.log(60.0), 10))
    sizes[:2] = 24.0, 60.0
    heads = fc.pick_heads(realdata, 10, seed)
    frame, placed = fc.group_frame(fc.background(realdata, 1920, 1080, seed), heads, list(sizes), seed)
    path = str(tmp / f"group{seed}.mp4")
    write_video(path, np.repeat(frame[None], 5, axis=0), 5.0, crf=23)
    return path, placed


@pytest.mark.media
@pytest.mark.parametrize("seed", [18, 42, 7])
def test_a_1080p_group_of_ten_faces_of_24_to_60_px_is_found(
    seed: int, detector: FaceDetector, tmp_path: Path
) -> None:
    path, placed = _group(require_realdata(), seed, tmp_path)
    cfg = AnalyzeConfig()
    info = probe(path)
    (frame,) = next(iter_frames(path, info, dataclasses.replace(cfg.decode, chunk_frames=1))).frames
    assert frame.shape == (720, 1280, 3)  # decoded at 2/3 by default: a 24 px face is 16 px here
    faces = RoiFaceDetector(detector, cfg.faces, (info.width, info.height)).detect(frame[None])[0]
    truth = np.stack([p.box for p in placed]) * (1280 / 1920)
    iou = iou_matrix(truth, np.stack([f.box for f in faces])) if faces else np.zeros((10, 1))
    assert (iou.max(axis=1) >= 0.4).sum() >= 9, iou.max(axis=1)
    assert (iou.max(axis=0) < 0.4).sum() <= 1, [f.box for f in faces]  # at most one false face
    for j in np.flatnonzero(iou.max(axis=0) >= 0.4):
        _assert_face_points(faces[j])
        assert align_face(frame, faces[j].landmarks, 64).std() > 10


def test_without_realdata_a_test_skips_and_in_ci_it_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(realdata, "REALDATA", tmp_path / "absent")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="CI runs this test"):
        realdata.require_realdata()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        realdata.require_realdata()
