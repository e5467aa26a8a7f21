"""Which ffmpeg binary to run.

A system ffmpeg (on ``PATH``) wins so that deployments can pin their own build; otherwise the static
build shipped in the ``imageio-ffmpeg`` wheel is used (this is what the test machines run: ffmpeg 9
with libx264 and aac, but no ffprobe, which is why probing goes through PyAV).
"""

from __future__ import annotations

import functools
import shutil


@functools.cache
def ffmpeg_exe() -> str:
    """Absolute path of the ffmpeg executable (resolved once per process)."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    # Imported lazily: only needed when no system ffmpeg exists.
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()
