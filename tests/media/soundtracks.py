"""Small real MP4s with every kind of soundtrack, written with the bundled ffmpeg (helpers for tests).

Pictures are 64x48 grey frames at 25 fps (cheap to encode); the interest is the audio: AAC in MP4,
as phones publish it.
"""

from __future__ import annotations

import os
import tempfile

import ffmpeg
import numpy as np
import soundfile as sf

from emotrace.datasets.sample_posts import write_video
from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST
from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.runner import run_to_completion

FPS = 25
W, H = 64, 48


def frames(seconds: float) -> np.ndarray:
    """uint8[round(seconds * FPS), H, W, 3] mid-grey frames."""
    return np.full((round(seconds * FPS), H, W, 3), 128, np.uint8)


def tone(freq_hz: float, seconds: float, sample_rate: int, amplitude: float = 0.3) -> np.ndarray:
    """float32[round(seconds * sample_rate)] sine."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def surround_51(front: np.ndarray) -> np.ndarray:
    """float32[N, 6] in WAV/AAC 5.1 order (FL, FR, FC, LFE, BL, BR): ``front`` in FL and FR only."""
    out = np.zeros((len(front), 6), np.float32)
    out[:, 0] = out[:, 1] = front
    return out


def write_clip(path: str, video_s: float, audio: np.ndarray | None = None, sample_rate: int = 48_000) -> str:
    """An MP4 of ``video_s`` seconds of frames with ``audio`` (float32[N] or [N, C]; None: no stream)."""
    write_video(path, frames(video_s), FPS, audio, sample_rate, crf=35, preset="ultrafast")
    return path


def write_muxed(
    path: str,
    video_s: float,
    tracks: list[tuple[np.ndarray, int]],
    *,
    audio_offset_s: float = 0.0,
) -> str:
    """An MP4 with one video stream and one AAC stream per ``(samples, sample_rate)`` in ``tracks``,
    in that order (the first is the default stream); every track starts ``audio_offset_s`` late."""
    with tempfile.TemporaryDirectory(prefix="emotrace-mux-") as tmp:
        silent = write_clip(os.path.join(tmp, "video.mp4"), video_s)
        inputs = [ffmpeg.input("file:" + silent, protocol_whitelist=PROTOCOL_WHITELIST)]
        for i, (samples, rate) in enumerate(tracks):
            wav = os.path.join(tmp, f"track{i}.wav")
            sf.write(wav, samples, rate, "PCM_16")
            kw = {"itsoffset": audio_offset_s} if audio_offset_s else {}
            inputs.append(ffmpeg.input("file:" + wav, protocol_whitelist=PROTOCOL_WHITELIST, **kw))
        streams = [inputs[0].video, *(i.audio for i in inputs[1:])]
        out = ffmpeg.output(
            *streams, "file:" + os.path.abspath(path), vcodec="copy", acodec="aac", audio_bitrate="64k"
        )
        run_to_completion([ffmpeg_exe(), *GLOBAL_ARGS, "-y", *out.get_args()], timeout_s=120)
    return path
