"""Real decoder + detector + tracker on encoded clips: crossing faces keep their ids; no face, no track."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from emotrace.datasets.sample_posts import write_video
from emotrace.features.faces import FaceDetector
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.features.windows import WindowStats
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.records import StepWindow, VideoRef
from tests.features import crossing_faces

pytestmark = pytest.mark.media


def windows_of(path: str, detector: FaceDetector, cfg: AnalyzeConfig) -> tuple[list[StepWindow], WindowStats]:
    info = probe(path)
    ref = VideoRef(path, Path(path).stem)
    grid = StepGrid(ref, info, detector, cfg, 64)
    frames, audio = iter_frames(path, info, cfg.decode), iter_audio(path, info, cfg.decode)
    return list(iter_step_windows(grid, frames, audio)), grid.stats


def identities_per_track(windows: list[StepWindow], step_s: float) -> dict[int, dict[str, int]]:
    """For each track: how many of its steps sit on each ground-truth face (nearest face centre)."""
    out: dict[int, dict[str, int]] = {}
    for w in windows:
        if w.track_id is None:
            continue
        for i in np.flatnonzero(w.face_mask):
            x, y, bw, bh = w.face_box[i] * np.tile([crossing_faces.WIDTH, crossing_faces.HEIGHT], 2)
            centre = np.array([x + bw / 2, y + bh / 2])
            # The step's frame is the first decoded frame at or after the step start.
            truth = crossing_faces.face_centres((w.start_step + i) * step_s)
            name = min(truth, key=lambda n: np.linalg.norm(truth[n] - centre))
            assert np.linalg.norm(truth[name] - centre) < 20, (w.track_id, w.start_step + i, name)
            counts = out.setdefault(w.track_id, {})
            counts[name] = counts.get(name, 0) + 1
    return out


@pytest.fixture(scope="module")
def crossing_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("faces") / "crossing.mp4")
    write_video(path, crossing_faces.frames(), crossing_faces.FPS, crf=20)
    return path


def test_three_crossing_faces_make_exactly_three_stable_tracks(
    crossing_clip: str, detector: FaceDetector
) -> None:
    cfg = AnalyzeConfig()
    windows, stats = windows_of(crossing_clip, detector, cfg)
    per_track = identities_per_track(windows, cfg.grid.step_s)
    assert stats.n_tracks == 3 and len(per_track) == 3, per_track
    # Stable ids: every step of a track shows one and the same face, and each face has one track.
    assert all(len(names) == 1 for names in per_track.values()), per_track
    assert sorted(next(iter(n)) for n in per_track.values()) == ["A", "B", "C"]
    # A hides behind B for about a second: its track spans the gap, so it has fewer steps than B's.
    steps = {next(iter(n)): sum(n.values()) for n in per_track.values()}
    assert steps["B"] >= 28 and steps["A"] < steps["B"], steps
    summaries = stats.track_stats.summaries(VideoRef(crossing_clip, "crossing"), cfg.grid.step_s)
    assert [s.track_id for s in summaries] == sorted(per_track) and sum(s.is_primary for s in summaries) == 1
    # All faces are the same size, so the face on screen longest is the primary one.
    primary = next(s for s in summaries if s.is_primary)
    assert primary.n_steps == max(s.n_steps for s in summaries)
    # Face boxes and scores are filled where the lane has a face, NaN elsewhere.
    for w in windows:
        if w.track_id is not None:
            assert np.isfinite(w.face_score[w.face_mask]).all() and np.isnan(w.face_box[~w.face_mask]).all()


def test_geometry_alone_carries_the_hidden_face_where_its_velocity_puts_it(
    crossing_clip: str, detector: FaceDetector
) -> None:
    # A is hidden behind B for about a second and comes back out on the far side of B: no overlap with
    # its last box, but with that box moved on at A's velocity. (Before tracks had a velocity, geometry
    # alone made 5 tracks of this clip; appearance is what tells faces apart where motion cannot: see
    # tests/features/test_features_appearance.py and the real-face crossings.)
    cfg = AnalyzeConfig()
    cfg = dataclasses.replace(cfg, faces=dataclasses.replace(cfg.faces, track_appearance_weight=0.0))
    windows, stats = windows_of(crossing_clip, detector, cfg)
    per_track = identities_per_track(windows, cfg.grid.step_s)
    assert stats.n_tracks == 3 and all(len(names) == 1 for names in per_track.values()), per_track


def test_a_face_less_video_has_no_tracks(sample_posts_dir: Path, detector: FaceDetector) -> None:
    cfg = AnalyzeConfig()
    windows, stats = windows_of(str(sample_posts_dir / "no_face.mp4"), detector, cfg)
    assert windows and stats.n_frames > 0
    assert stats.n_tracks == 0 and stats.track_stats.summaries(VideoRef("x", "x"), 0.2) == []
    assert all(w.track_id is None and w.face_score is None for w in windows)
