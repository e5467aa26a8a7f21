"""A long video cut into segments through the real decoder and pipeline gives the uncut video's trace
(issue 6). The pure property over random durations and cuts is tests/features/test_segments.py; this
one checks what only the real thing can: ffmpeg's seeking, the Reshuffle of segments, the stitching
join and the one merged ``videos`` row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from emotrace.datasets.sample_posts import speech_like, talking_head_frames, write_video
from emotrace.pipelines import analyze

pytestmark = [pytest.mark.pipeline, pytest.mark.media]
SECONDS, FPS, SR = 24.0, 10.0, 16_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("segments")
    rng = np.random.default_rng(3)
    video = work / "long.mp4"
    sound = speech_like(SECONDS, SR, rng)
    write_video(str(video), talking_head_frames(round(SECONDS * FPS), FPS, rng), FPS, sound, SR)
    out = {}
    # 5 s segments (one model window each): 24 s -> 5 segments, 4 cuts. 0: never cut.
    for name, seg in (("cut", "5"), ("whole", "0")):
        out[name] = work / name
        argv = ["--input", str(video), "--output", str(out[name]), "--run-id", name, "--segment-s", seg]
        summary = analyze.run(argv)
        assert summary.reconciled
    return out


def _rows(out: Path, table: str) -> list[dict]:
    return ds.dataset(str(out / table), format="parquet").to_table().to_pylist()


def test_cut_video_has_one_videos_row_and_the_same_tracks(runs):
    (cut,) = _rows(runs["cut"], "videos")
    (whole,) = _rows(runs["whole"], "videos")
    assert cut["status"] == whole["status"] == "ok" and not cut["partial"]
    # n_steps counts trace rows: one per step and face, plus a face-less row where a voice is heard that
    # no visible face speaks (the photo under a moving camera does not talk: features/speaking.py).
    n_rows = len(_rows(runs["whole"], "traces"))
    assert cut["n_steps"] == whole["n_steps"] == n_rows >= round(SECONDS / 0.2)
    assert cut["n_tracks"] == whole["n_tracks"] == 1  # one face all along: stitched across 4 cuts
    tracks_cut, tracks_whole = _rows(runs["cut"], "tracks"), _rows(runs["whole"], "tracks")
    assert [(t["track_id"], t["n_steps"], t["is_primary"]) for t in tracks_cut] == [
        (t["track_id"], t["n_steps"], t["is_primary"]) for t in tracks_whole
    ]
    assert tracks_cut[0]["first_s"] == tracks_whole[0]["first_s"]
    assert tracks_cut[0]["last_s"] == tracks_whole[0]["last_s"]


def test_cut_video_trace_has_every_step_once_and_matches_the_uncut_one(runs):
    cut = {(r["t_s"], r["track_id"]): r for r in _rows(runs["cut"], "traces")}
    whole = {(r["t_s"], r["track_id"]): r for r in _rows(runs["whole"], "traces")}
    assert len(cut) == len(_rows(runs["cut"], "traces"))  # no (step, track) twice
    assert sorted(cut, key=str) == sorted(whole, key=str)  # no gap, nothing extra, same track ids
    steps = sorted({round(t / 0.2) for t, _ in cut})
    assert steps == list(range(round(SECONDS / 0.2)))
    for key, w in whole.items():
        c = cut[key]
        assert (c["face_present"], c["audio_present"], c["is_primary"]) == (
            w["face_present"],
            w["audio_present"],
            w["is_primary"],
        ), key
        # The preroll covers speech_prob's noise floor, the speaking evidence and the mouth motion
        # behind it (full-frame detection on the video's schedule): the same values, bit for bit.
        assert (c["speech_prob"], c["speaking"]) == (w["speech_prob"], w["speaking"]), key
    # Same windows, same model: predictions agree up to what the decoder's seek and the face detector's
    # schedule change in a crop (a pixel or two of alignment).
    diff = np.array(
        [[cut[k]["arousal"] - w["arousal"], cut[k]["valence"] - w["valence"]] for k, w in whole.items()]
    )
    assert np.abs(diff).max() < 0.1, np.abs(diff).max()
    assert np.abs(diff).mean() < 0.01, np.abs(diff).mean()
