"""Still pictures become one face-only window through the analyze pipeline's detector and aligner."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from emotrace.datasets.labels import LabelledVideo
from emotrace.datasets.stills import STILL_STEPS, load_frame
from emotrace.datasets.window_cache import cached_windows, load_corpus
from emotrace.features.align import align_face
from emotrace.features.faces import detector_for
from emotrace.schemas.config import AnalyzeConfig


def test_a_portrait_gives_the_aligned_crop_held_for_a_few_steps(tmp_path):
    face = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(face)
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(blank)
    items = [
        LabelledVideo("a", str(face), "test", (), clip_label=(0.1, 0.6), kind="image"),
        LabelledVideo("b", str(blank), "test", (), clip_label=(0.0, 0.0), kind="image"),
    ]
    cfg = AnalyzeConfig()
    a, b = load_corpus(items, cfg, 64, str(tmp_path / "cache"), workers=1)
    assert len(a) == 1 and len(b) == 0  # no face in the wall: no window
    assert a.face_mask[0, :STILL_STEPS].all() and not a.face_mask[0, STILL_STEPS:].any()
    assert not a.audio_mask.any() and (a.valid == a.face_mask).all()
    assert np.allclose(a.gold[0, :STILL_STEPS], [0.1, 0.6])
    frame = load_frame(str(face), cfg.decode.max_side_px)
    det = detector_for(cfg.faces).detect(frame[None])[0][0]
    assert np.array_equal(a.faces[0, 0], align_face(frame, det.landmarks, 64))
    again, cached = cached_windows(items[0], cfg, 64, str(tmp_path / "cache"))
    assert cached and np.array_equal(again.faces, a.faces)


def test_frames_are_scaled_like_decoded_video(tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((1000, 1500, 3), np.uint8)).save(big)
    assert load_frame(str(big), 640).shape == (427, 640, 3)
    grey = tmp_path / "grey.png"
    Image.fromarray(np.zeros((50, 40), np.uint8)).save(grey)
    assert load_frame(str(grey), 640).shape == (50, 40, 3)
