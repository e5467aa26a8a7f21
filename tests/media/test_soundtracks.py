"""Every kind of soundtrack through the real decoder (probe -> ffmpeg -> descriptors -> step windows).

Tones give known answers: 220 Hz is 36 semitones above 27.5 Hz; a sine of amplitude A is
20 log10(A / sqrt(2)) dBFS.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from emotrace.features.acoustics import AUDIO_FEATURE_NAMES, StepAcoustics, warm_up
from emotrace.features.step_grid import StepGrid, iter_step_windows
from emotrace.features.windows import WindowStats
from emotrace.media.decode import iter_audio, iter_frames
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig
from emotrace.schemas.records import FaceDetection, MediaInfo, StepWindow, VideoRef
from tests.media.soundtracks import surround_51, tone, write_clip, write_muxed

CFG = AnalyzeConfig()
STEP_S = CFG.grid.step_s
COL = {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}
ST_220 = 12 * math.log2(220 / 27.5)  # 36 semitones
AMP = 0.3
TONE_DBFS = 20 * math.log10(AMP / math.sqrt(2))  # -13.5 dBFS for a mono 0.3 sine


class NoFaces:
    """A face detector stand-in: these clips are grey frames, and faces are not under test here."""

    def detect(self, frames: np.ndarray) -> list[list[FaceDetection]]:
        return [[] for _ in frames]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """kind -> path of a small MP4 (all written once: ~2 s of ffmpeg on one core)."""
    warm_up()
    d: Path = tmp_path_factory.mktemp("soundtracks")
    t48 = tone(220, 2.0, 48_000, AMP)
    return {
        "none": write_clip(str(d / "none.mp4"), 2.0),
        "silent": write_clip(str(d / "silent.mp4"), 2.0, np.zeros((96_000, 2), np.float32)),
        "mono": write_clip(str(d / "mono.mp4"), 2.0, tone(220, 2.0, 44_100, AMP), 44_100),
        "stereo": write_clip(str(d / "stereo.mp4"), 2.0, np.c_[t48, t48]),
        "5.1": write_clip(str(d / "surround.mp4"), 2.0, surround_51(t48)),
        "8k": write_clip(str(d / "8k.mp4"), 2.0, tone(220, 2.0, 8_000, AMP), 8_000),
        "96k": write_clip(str(d / "96k.mp4"), 2.0, tone(220, 2.0, 96_000, AMP), 96_000),
        "two": write_muxed(str(d / "two.mp4"), 2.0, [(t48, 48_000), (tone(440, 2.0, 48_000, AMP), 48_000)]),
        "short": write_clip(str(d / "short.mp4"), 3.0, tone(220, 1.2, 48_000, AMP)),
        "long": write_clip(str(d / "long.mp4"), 1.2, tone(220, 3.0, 48_000, AMP)),
        "late": write_muxed(
            str(d / "late.mp4"), 2.0, [(tone(220, 1.0, 48_000, AMP), 48_000)], audio_offset_s=0.5
        ),
    }


def decode(path: str) -> tuple[MediaInfo, np.ndarray, np.ndarray]:
    """(info, samples float32[N] at 16 kHz, step features float32[n, D]) the way the pipeline streams them."""
    info = probe(path)
    acoustics = StepAcoustics(CFG.audio, STEP_S)
    chunks, feats = [], []
    for chunk in iter_audio(path, info, CFG.decode):
        chunks.append(chunk.samples)
        feats.append(acoustics.feed(chunk.samples))
    feats.append(acoustics.finish())
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return info, samples, np.concatenate(feats)


def windows(path: str) -> tuple[list[StepWindow], WindowStats]:
    info = probe(path)
    ref = VideoRef(path, Path(path).stem)
    grid = StepGrid(ref, info, NoFaces(), CFG, 16)  # type: ignore[arg-type]
    frames, audio = iter_frames(path, info, CFG.decode), iter_audio(path, info, CFG.decode)
    return list(iter_step_windows(grid, frames, audio)), grid.stats


def per_step(ws: list[StepWindow]) -> Iterator[tuple[int, bool, float]]:
    """(step, audio_mask, speech_prob) for every valid step (the face-less lane covers them all here)."""
    for w in ws:
        assert w.speech_prob is not None
        for i in np.flatnonzero(w.valid):
            yield w.start_step + int(i), bool(w.audio_mask[i]), float(w.speech_prob[i])


def assert_tone_220(feats: np.ndarray, loudness_dbfs: float | None = TONE_DBFS) -> None:
    inner = feats[1:-1]  # the first and last steps' contexts are cut by the clip's ends
    np.testing.assert_allclose(inner[:, COL["f0_semitone_mean"]], ST_220, atol=0.15)
    assert np.all(inner[:, COL["voiced_fraction"]] == 1.0)
    if loudness_dbfs is not None:
        np.testing.assert_allclose(inner[:, COL["loudness_db_mean"]], loudness_dbfs, atol=0.5)


def test_no_audio_stream(clips: dict[str, str]) -> None:
    info, samples, feats = decode(clips["none"])
    assert not info.has_audio and len(samples) == 0 and feats.shape == (0, len(AUDIO_FEATURE_NAMES))
    steps = list(per_step(windows(clips["none"])[0]))
    assert [s for s, _, _ in steps] == list(range(10))
    assert not any(mask for _, mask, _ in steps)
    assert all(math.isnan(p) for _, _, p in steps)  # -> null speech_prob in traces


def test_silent_audio_stream(clips: dict[str, str]) -> None:
    info, samples, feats = decode(clips["silent"])
    assert info.has_audio and len(samples) == 32_000
    assert np.abs(samples).max() < 1e-4
    assert np.all(feats[:, COL["loudness_db_mean"]] < -80) and np.all(feats[:, COL["voiced_fraction"]] == 0)
    steps = list(per_step(windows(clips["silent"])[0]))
    assert len(steps) == 10 and all(mask and p < 0.01 for _, mask, p in steps)


def test_mono_44k(clips: dict[str, str]) -> None:
    info, samples, feats = decode(clips["mono"])
    assert (info.audio_channels, info.audio_sample_rate_hz) == (1, 44_100)
    assert len(samples) == 32_000
    assert_tone_220(feats)
    steps = list(per_step(windows(clips["mono"])[0]))
    assert len(steps) == 10 and all(mask and 0.5 < p <= 1.0 for _, mask, p in steps)


def test_stereo_downmix(clips: dict[str, str]) -> None:
    info, _, feats = decode(clips["stereo"])
    assert info.audio_channels == 2
    # ffmpeg's stereo -> mono matrix is (L + R) / sqrt(2): the same tone in both channels is +3 dB.
    assert_tone_220(feats, TONE_DBFS + 20 * math.log10(math.sqrt(2)))


def test_surround_51_downmix_keeps_the_front_channels(clips: dict[str, str]) -> None:
    info, _, feats = decode(clips["5.1"])
    assert info.audio_channels == 6
    _, _, stereo = decode(clips["stereo"])
    assert_tone_220(feats, None)
    # The front pair is mixed as in stereo: same level as the stereo clip.
    np.testing.assert_allclose(
        feats[1:-1, COL["loudness_db_mean"]], stereo[1:-1, COL["loudness_db_mean"]], atol=0.3
    )


@pytest.mark.parametrize("kind, rate", [("8k", 8_000), ("96k", 96_000)])
def test_sample_rates_are_resampled_to_16k(clips: dict[str, str], kind: str, rate: int) -> None:
    info, samples, feats = decode(clips[kind])
    assert info.audio_sample_rate_hz == rate
    assert abs(len(samples) - 32_000) <= 16  # 2 s at 16 kHz, whatever the source rate
    assert_tone_220(feats)


def test_two_audio_streams_decode_the_first(clips: dict[str, str]) -> None:
    info, _, feats = decode(clips["two"])
    assert info.has_audio
    assert_tone_220(feats)  # the first (default) stream is 220 Hz; the second is 440 Hz (48 semitones)


def test_audio_shorter_than_video_is_masked_where_it_ends(clips: dict[str, str]) -> None:
    info, samples, _ = decode(clips["short"])
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert len(samples) == pytest.approx(1.2 * 16_000, abs=16)
    ws, stats = windows(clips["short"])
    steps = list(per_step(ws))
    assert [s for s, _, _ in steps] == list(range(15))  # the grid follows the video
    assert [mask for _, mask, _ in steps] == [s < 6 for s in range(15)]  # 1.2 s of audio = 6 steps
    assert all(math.isnan(p) == (s >= 6) for s, _, p in steps)
    assert stats.n_frames == 15


def test_audio_longer_than_video_keeps_its_tail(clips: dict[str, str]) -> None:
    # The container lasts as long as its longest stream; steps after the last picture keep the sound
    # (audio_mask True) and have no frame to find a face in.
    info, samples, _ = decode(clips["long"])
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert len(samples) == pytest.approx(3.0 * 16_000, abs=16)
    ws, stats = windows(clips["long"])
    steps = list(per_step(ws))
    assert [s for s, _, _ in steps] == list(range(15))
    assert all(mask and p > 0.5 for _, mask, p in steps)
    assert stats.n_frames == 6  # 1.2 s of video at 5 fps


def test_late_audio_start_is_aligned_by_timestamps(clips: dict[str, str]) -> None:
    _, samples, feats = decode(clips["late"])
    onset = np.flatnonzero(np.abs(samples) > 0.05)[0] / 16_000
    assert onset == pytest.approx(0.5, abs=0.005)  # padded with silence, not shifted to t = 0
    loud = feats[:, COL["loudness_db_mean"]]
    assert np.all(loud[:2] < -60)  # steps 0-1 (0-0.4 s) see only the padding
    np.testing.assert_allclose(feats[3:7, COL["f0_semitone_mean"]], ST_220, atol=0.15)  # 0.6-1.4 s
