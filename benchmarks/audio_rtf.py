"""Real-time factor of the audio stage (decode + descriptors + speech_prob) on 60 s of speech.

    .venv/bin/python benchmarks/audio_rtf.py [--seconds 60] [--repeats 3] [--source espeak|synthetic]

Writes a 60 s MP4 (64x48 grey frames; 48 kHz stereo AAC of espeak-ng speech, or the speech-like
generator without espeak-ng), then times, in the same process and run:

* ``decode``: ffmpeg audio decode alone (``media.decode.iter_audio`` consumed to the end);
* ``stage``: the same decode feeding ``StepAcoustics`` and ``SpeechActivity`` chunk by chunk, as
  ``features.windows`` does.

Reports the median over ``--repeats`` of each, wall and CPU seconds (ffmpeg's included), the real-time
factor RTF = seconds / audio seconds (lower is faster; 0.01 = 100x real time), and stage / decode, the
ratio that survives a change of machine. The stage's first run (``warm_up``: numba's compile until
issue 16, FFT plans now) is timed once and kept out of the stage figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np
import soundfile as sf
import soxr

from emotrace.datasets.sample_posts import speech_like, write_video
from emotrace.features.acoustics import StepAcoustics, warm_up
from emotrace.features.speech import SpeechActivity
from emotrace.media.decode import iter_audio
from emotrace.media.probe import probe
from emotrace.schemas.config import AnalyzeConfig

SOURCE_RATE_HZ = 48_000
_TEXT = (
    "Good morning everyone, and welcome back to the channel. Today I want to show you something I "
    "found last week, and honestly I still cannot believe how well it turned out. Let me know in the "
    "comments what you think, and do not forget to share it with your friends."
)


def speech(seconds: float, source: str) -> tuple[np.ndarray, str]:
    """float32[seconds * 48 kHz] of speech and a description of where it came from."""
    n = round(seconds * SOURCE_RATE_HZ)
    exe = shutil.which("espeak-ng") if source == "espeak" else None
    if exe is None:
        return speech_like(seconds, SOURCE_RATE_HZ, np.random.default_rng(0)), "speech-like generator"
    parts, total, pitch = [], 0, 20
    with tempfile.TemporaryDirectory(prefix="emotrace-bench-") as tmp:
        while total < n:  # different voices in turn, as in a conversation
            wav = os.path.join(tmp, "s.wav")
            subprocess.run([exe, "-w", wav, "-p", str(pitch), "-s", "165", _TEXT], check=True, timeout=60)
            x, sr = sf.read(wav, dtype="float32")
            parts.append(soxr.resample(x, sr, SOURCE_RATE_HZ).astype(np.float32))
            total += len(parts[-1])
            pitch = (pitch + 30) % 100
    return np.concatenate(parts)[:n], "espeak-ng (pitches 20/50/80)"


def _cpu_s() -> float:
    """CPU seconds of this process plus its waited-for children (the ffmpeg decoders)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median (wall seconds, CPU seconds) of ``fn()`` over ``repeats`` runs. CPU time is the steadier
    figure on a shared machine: waiting for a core counts in wall time only."""
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _cpu_s()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu_s() - c0)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", choices=("espeak", "synthetic"), default="espeak")
    args = parser.parse_args(argv)
    cfg = AnalyzeConfig()

    t0 = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="emotrace-bench-") as tmp:
        samples, origin = speech(args.seconds, args.source)
        path = os.path.join(tmp, "speech.mp4")
        frames = np.full((round(args.seconds * 25), 48, 64, 3), 128, np.uint8)
        write_video(path, frames, 25, np.c_[samples, samples], SOURCE_RATE_HZ, crf=40, preset="ultrafast")
        info = probe(path)

        def decode_only() -> None:
            for _ in iter_audio(path, info, cfg.decode):
                pass

        def stage() -> None:
            acoustics = StepAcoustics(cfg.audio, cfg.grid.step_s)
            activity = SpeechActivity(cfg.grid.step_s)
            for chunk in iter_audio(path, info, cfg.decode):
                activity.update(acoustics.feed(chunk.samples))
            activity.update(acoustics.finish())

        decode_s, decode_cpu = timed(decode_only, args.repeats)
        stage_s, stage_cpu = timed(stage, args.repeats)

    media_s = info.duration_s
    print(f"audio: {media_s:.1f} s of {origin}, 48 kHz stereo AAC in MP4 -> 16 kHz mono")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f}; warm-up {warm_s:.2f} s")
    for name, wall, cpu in (
        ("ffmpeg audio decode alone", decode_s, decode_cpu),
        ("audio stage (decode + descriptors + speech_prob)", stage_s, stage_cpu),
    ):
        rtf = f"wall {wall:6.3f} s (RTF {wall / media_s:.4f})  CPU {cpu:6.3f} s (RTF {cpu / media_s:.4f})"
        print(f"{name:50s} {rtf}")
    print(
        f"stage / decode: wall {stage_s / decode_s:.1f}x, CPU {stage_cpu / decode_cpu:.1f}x; "
        f"stage runs {media_s / stage_s:.0f}x real time (wall)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
