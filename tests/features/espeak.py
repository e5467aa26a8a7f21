"""Real synthesised speech for audio tests: espeak-ng, installed by .ci/run (apt) and absent elsewhere.

Without espeak-ng a test skips, unless ``CI=true``: in CI it must run, so a missing binary fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
import soundfile as sf
import soxr

SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and nobody seems to mind at all.",
    "Could you tell me where the nearest station is? I think I am completely lost.",
    "We were so happy when the results finally arrived this morning.",
)


def require_espeak() -> str:
    """Path of espeak-ng; skips the test without it, fails it in CI (``CI=true``)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng is missing in CI: .ci/run installs it with apt-get")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); CI runs this test")
    return exe


def espeak_speech(text: str, pitch: int, sample_rate_hz: int, words_per_min: int = 160) -> np.ndarray:
    """``text`` spoken by espeak-ng at ``pitch`` (its -p, 0-99): float32[N] mono at ``sample_rate_hz``."""
    exe = require_espeak()
    with tempfile.TemporaryDirectory(prefix="emotrace-espeak-") as tmp:
        wav = os.path.join(tmp, "speech.wav")
        argv = [exe, "-w", wav, "-p", str(pitch), "-s", str(words_per_min), text]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        x, sr = sf.read(wav, dtype="float32")  # espeak-ng writes 22050 Hz mono
    return soxr.resample(x, sr, sample_rate_hz).astype(np.float32)
