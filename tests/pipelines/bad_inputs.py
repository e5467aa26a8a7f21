"""The bad-input corpus: every kind of broken, odd or hostile upload the pipeline must account for.

Each kind is generated here (bundled ffmpeg, lavfi sources, byte surgery) so nothing is downloaded.
The expected outcome of each kind is the table in docs/reliability.md; the corpus test compares the
pipeline's real ``videos`` rows with that table.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST
from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.runner import run_to_completion


@dataclass(frozen=True)
class BadInput:
    kind: str
    video_uri: str  # a path in the corpus folder, or a URI (http://...), or "" for a row without one
    post_id: str


def _ff(*args: str) -> None:
    run_to_completion([ffmpeg_exe(), *GLOBAL_ARGS, *args], timeout_s=120)


def _lavfi(spec: str) -> list[str]:
    return ["-protocol_whitelist", PROTOCOL_WHITELIST, "-f", "lavfi", "-i", spec]


def _video(path: Path, seconds: float = 2.0, size: str = "320x240", rate: int = 25, *extra: str) -> None:
    """A test pattern with a 300 Hz tone: small, fast to encode, decodes everywhere."""
    _ff(
        *_lavfi(f"testsrc2=size={size}:rate={rate}:duration={seconds}"),
        *_lavfi(f"sine=frequency=300:sample_rate=16000:duration={seconds}"),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        *extra, "-y", f"file:{path}",
    )  # fmt: skip


def _audio_variant(path: Path, rate: int, layout: str) -> None:
    _ff(
        *_lavfi("testsrc2=size=160x120:rate=25:duration=2"),
        *_lavfi(f"sine=frequency=220:sample_rate={rate}:duration=2"),
        "-filter:a", f"aformat=channel_layouts={layout}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", str(rate),
        "-y", f"file:{path}",
    )  # fmt: skip


def _make(kind: str, path: Path, work: Path, http_port: int) -> None:
    ok_mp4 = work / "_ok.mp4"
    if kind == "empty_file":
        path.write_bytes(b"")
    elif kind == "random_bytes":
        path.write_bytes(np.random.default_rng(7).bytes(20_000))  # seeded: a few seeds sniff as lyrics
    elif kind == "text_named_mp4":
        path.write_text("This is not a video.\nJust some notes someone renamed to .mp4.\n" * 20)
    elif kind == "truncated_middle":
        data = ok_mp4.read_bytes()  # faststart: the index is intact, the media data stops halfway
        path.write_bytes(data[: len(data) // 2])
    elif kind == "missing_index":
        _video(path, 2.0, "320x240", 25)
        data = path.read_bytes()
        moov = data.rfind(b"moov") - 4  # without faststart the index sits at the end: cut it off
        path.write_bytes(data[:moov])
    elif kind == "audio_only":
        _ff(*_lavfi("sine=frequency=300:sample_rate=16000:duration=2"), "-c:a", "aac", "-y", f"file:{path}")
    elif kind == "video_only":
        _video(path, 2.0, "320x240", 25, "-an")
    elif kind == "zero_duration":
        _ff(*_lavfi("testsrc2=size=320x240:rate=25"), "-frames:v", "0", "-c:v", "libx264",
            "-y", f"file:{path}")  # fmt: skip
    elif kind == "one_frame":
        _ff(*_lavfi("testsrc2=size=320x240:rate=25"), "-frames:v", "1", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-y", f"file:{path}")  # fmt: skip
    elif kind == "tiny_16x16":
        _video(path, 2.0, "16x16")
    elif kind == "uhd_4k":
        _video(path, 1.0, "3840x2160")
    elif kind == "too_large":
        _ff(*_lavfi("testsrc2=size=4608x2592:rate=25"), "-frames:v", "1", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", f"file:{path}")  # fmt: skip
    elif kind == "rotated_90":
        _ff("-protocol_whitelist", PROTOCOL_WHITELIST, "-display_rotation", "90", "-i", f"file:{ok_mp4}",
            "-c", "copy", "-y", f"file:{path}")  # fmt: skip
    elif kind == "variable_frame_rate":
        # Timestamps jump: frames kept only on some seconds, written with their original timestamps.
        _ff(*_lavfi("testsrc2=size=320x240:rate=25:duration=3"),
            "-vf", "select='lt(mod(t,1),0.3)'", "-fps_mode", "vfr",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-y", f"file:{path}")  # fmt: skip
    elif kind == "audio_8khz":
        _audio_variant(path, 8000, "mono")
    elif kind == "audio_96khz":
        _audio_variant(path, 96000, "stereo")
    elif kind == "audio_6ch":
        _audio_variant(path, 48000, "5.1")
    elif kind == "two_audio_streams":
        _ff(*_lavfi("testsrc2=size=160x120:rate=25:duration=2"),
            *_lavfi("sine=frequency=220:sample_rate=16000:duration=2"),
            *_lavfi("anoisesrc=sample_rate=16000:duration=2"),
            "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-y", f"file:{path}")  # fmt: skip
    elif kind == "corrupt_packets":
        _video(path, 3.0, "320x240")
        data = bytearray(path.read_bytes())
        rng = np.random.default_rng(3)
        start, end = len(data) // 3, 2 * len(data) // 3  # the middle of the media data, past the index
        for pos in rng.integers(start, end, size=200):
            data[pos] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "unicode_and_spaces":
        path.write_bytes(ok_mp4.read_bytes())
    elif kind == "missing_file":
        pass  # nothing is written: the manifest names a file that does not exist
    elif kind == "unreadable_file":
        # Root reads any file whatever its mode, so the unreadable file is a FIFO (opening it would block
        # a naive reader forever); for other users a mode-000 file gives the same code.
        if os.geteuid() == 0:
            os.mkfifo(path)
        else:
            path.write_bytes(ok_mp4.read_bytes())
            path.chmod(0)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too_long":
        _video(path, 12.0, "64x48", 5)
    elif kind == "hls_playlist":
        path.write_text(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
            f"#EXTINF:2.0,\nhttp://127.0.0.1:{http_port}/segment0.ts\n#EXTINF:2.0,\n_ok.mp4\n#EXT-X-ENDLIST\n"
        )
    elif kind == "concat_playlist":
        path.write_text(f"ffconcat version 1.0\nfile '_ok.mp4'\nfile 'http://127.0.0.1:{http_port}/x.mp4'\n")
    else:
        raise ValueError(kind)


# kind -> file name in the corpus folder ("" for kinds that are not files)
FILES: dict[str, str] = {
    "empty_file": "empty.mp4",
    "random_bytes": "random.mp4",
    "text_named_mp4": "notes.mp4",
    "truncated_middle": "truncated.mp4",
    "missing_index": "no_moov.mp4",
    "audio_only": "audio_only.mp4",
    "video_only": "video_only.mp4",
    "zero_duration": "zero.mp4",
    "one_frame": "one_frame.mp4",
    "tiny_16x16": "tiny.mp4",
    "uhd_4k": "uhd.mp4",
    "too_large": "too_large.mp4",
    "rotated_90": "rotated.mp4",
    "variable_frame_rate": "vfr.mp4",
    "audio_8khz": "a8k.mp4",
    "audio_96khz": "a96k.mp4",
    "audio_6ch": "a6ch.mp4",
    "two_audio_streams": "two_audio.mp4",
    "corrupt_packets": "corrupt.mp4",
    "unicode_and_spaces": "café clip 🎥 (1).mp4",
    "missing_file": "does_not_exist.mp4",
    "unreadable_file": "unreadable.mp4",
    "folder": "a_folder.mp4",
    "too_long": "too_long.mp4",
    "hls_playlist": "playlist.mp4",
    "concat_playlist": "concat.mp4",
}
URIS: dict[str, Callable[[int], str]] = {
    "http_uri": lambda port: f"http://127.0.0.1:{port}/video.mp4",
    "manifest_row_without_uri": lambda port: "",
}


def build_corpus(work: Path, http_port: int) -> list[BadInput]:
    """Write every kind into ``work`` and return the inputs, one per kind, in a stable order."""
    _video(work / "_ok.mp4", 2.0, "320x240", 25, "-movflags", "+faststart")  # index first, like uploads
    inputs: list[BadInput] = []
    for kind, name in FILES.items():
        path = work / name
        _make(kind, path, work, http_port)
        inputs.append(BadInput(kind, str(path), kind))
    for kind, uri in URIS.items():
        inputs.append(BadInput(kind, uri(http_port), kind))
    return inputs


def is_fifo(path: str) -> bool:
    return os.path.exists(path) and stat.S_ISFIFO(os.stat(path).st_mode)
