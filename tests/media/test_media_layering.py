"""media/ and the sample-post builder are pure core: importing them never pulls in Beam or torch."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "emotrace.media.ffmpeg_bin",
    "emotrace.media.argv",
    "emotrace.media.runner",
    "emotrace.media.probe",
    "emotrace.media.decode",
    "emotrace.datasets.sample_posts",
]


def test_importing_media_loads_neither_beam_nor_torch() -> None:
    imports = "; ".join(f"import {m}" for m in MODULES)
    code = f"import sys; {imports}; print(sorted({{'apache_beam', 'torch'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
