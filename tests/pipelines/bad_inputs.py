"""The bad-input corpus: every kind of broken, odd or hostile upload the pipeline must account for.

Each kind is generated here (bundled ffmpeg, lavfi sources, byte surgery) so nothing is downloaded.
The expected outcome of each kind is the table in docs/reliability.md; the corpus test compares the
pipeline's real ``videos`` rows with that table.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
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
    posted_at: str | None = None
    line: bytes | None = None  # the manifest line as written (rows whose bytes are the point)
    duplicate: bool = False  # the same input as an earlier row: its row says DUPLICATE_INPUT


def manifest_line(item: BadInput) -> bytes:
    """The JSONL line of one corpus input."""
    if item.line is not None:
        return item.line
    row = {"video_uri": item.video_uri, "post_id": item.post_id, "user_id": "u", "posted_at": item.posted_at}
    if not item.video_uri:
        row.pop("video_uri")
    return json.dumps(row, ensure_ascii=False).encode("utf-8")


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

# Issue 15: one kind per class of hostile input that reached a crash, a hang, a wrong row or no row.
MORE_FILES: dict[str, str] = {
    "lying_duration": "lying_duration.ts",
    "resolution_change": "resolution_change.ts",
    "animated_gif": "animated.gif",
    "animated_webp": "animated.webp",
    "dangling_symlink": "dangling.mp4",
    "symlink_loop": "loop.mp4",
}


def _ts(path: Path, size: str, seconds: float, offset_s: float = 0.0, noise: bool = False) -> None:
    """An MPEG-TS part; ``noise``: lossless noise, so the part is large enough to fill the tail that
    libavformat reads to estimate a TS duration (about 250 kB)."""
    src = (
        f"nullsrc=size={size}:rate=25:duration={seconds},geq=random(1)*255:128:128"
        if noise
        else (f"testsrc2=size={size}:rate=25:duration={seconds}")
    )
    lossless = ["-qp", "0"] if noise else []
    _ff(*_lavfi(src), "-c:v", "libx264", "-preset", "ultrafast", *lossless, "-pix_fmt", "yuv420p",
        "-output_ts_offset", str(offset_s), "-f", "mpegts", "-y", f"file:{path}")  # fmt: skip


def _concat_ts(path: Path, work: Path, parts: list[tuple[str, float, float, bool]]) -> None:
    """MPEG-TS parts (size, seconds, timestamp offset, noise) written back to back into ``path``."""
    files = [work / f"_{path.stem}_{i}.ts" for i in range(len(parts))]
    for file, (size, seconds, offset_s, noise) in zip(files, parts, strict=True):
        _ts(file, size, seconds, offset_s, noise)
    path.write_bytes(b"".join(f.read_bytes() for f in files))


def _make_more(kind: str, path: Path, work: Path) -> None:
    if kind == "lying_duration":
        # 2 s, 12 s stamped 100 s later, 2 s stamped from 0 again: the probe reads the first and last
        # timestamps (2 s), while ffmpeg mends the jumps and decodes 16 s, past --max-duration 10.
        _concat_ts(
            path, work, [("160x120", 2, 0, False), ("160x120", 12, 100, False), ("160x120", 2, 0, True)]
        )
    elif kind == "resolution_change":
        # Probed as 160x120 (the first header); after 6 s, 9.4 Mpx frames, past --max-pixels 8.3 Mpx.
        _concat_ts(path, work, [("160x120", 6, 0, False), ("4096x2304", 0.4, 6, False)])
    elif kind in ("animated_gif", "animated_webp"):
        loop = ["-loop", "0"] if kind == "animated_webp" else []
        _ff(*_lavfi("testsrc2=size=160x120:rate=10:duration=3"), *loop, "-y", f"file:{path}")
    elif kind == "dangling_symlink":
        os.symlink(work / "nowhere.mp4", path)
    elif kind == "symlink_loop":
        os.symlink(path, path)
    else:
        raise ValueError(kind)


def _rows(work: Path) -> list[BadInput]:
    """Kinds that are about the manifest row rather than the file."""
    ok = str(work / "_ok.mp4")
    huge = '{"video_uri": "_ok.mp4", "post_id": ' + "9" * 5000 + "}"  # past Python's 4300 digits
    return [
        BadInput("posted_at_year_1", ok, "posted_at_year_1", posted_at="0001-01-01T00:00:00+01:00"),
        BadInput("relative_uri", "_ok.mp4", "relative_uri"),
        BadInput("upper_case_file_scheme", "FILE://" + ok, "upper_case_file_scheme"),
        BadInput("unknown_allowed_scheme", "zz://bucket/clip.mp4", "unknown_allowed_scheme"),
        BadInput("gs_without_gcp_extra", "gs://emotrace-corpus/clip.mp4", "gs_without_gcp_extra"),
        BadInput("duplicate_row", str(work / FILES["one_frame"]), "one_frame", duplicate=True),
        BadInput("manifest_row_u2028", ok, "u2028\u2028inside"),
        BadInput("manifest_row_bad_utf8", "", "", line=b'{"video_uri": "\xff\xfe.mp4", "post_id": "x"}'),
        BadInput("manifest_row_huge_int", "", "", line=huge.encode("utf-8")),
    ]


ROW_KINDS = [
    "posted_at_year_1", "relative_uri", "upper_case_file_scheme", "unknown_allowed_scheme",
    "gs_without_gcp_extra", "duplicate_row", "manifest_row_u2028", "manifest_row_bad_utf8",
    "manifest_row_huge_int",
]  # fmt: skip

# Run as a folder input with a short --timeout (tests/pipelines/test_folder_and_deadline.py): file name
# in the folder -> kind. A folder lists what a manifest cannot, and a blocking read must end in seconds.
FOLDER: dict[str, str] = {
    "clip.mp4": "listed_video",
    "dangling.mp4": "listed_dangling_symlink",
    "loop.mp4": "listed_symlink_loop",
    "sub.mp4": "listed_subfolder",
    "leased.mp4": "blocking_read",
}
FOLDER_KINDS = list(FOLDER.values())
ALL_KINDS = [*FILES, *URIS, *MORE_FILES, *ROW_KINDS, *FOLDER_KINDS]


def build_folder(folder: Path) -> None:
    """The folder-input kinds (``blocking_read`` is a plain copy: :class:`ReadLease` makes it block)."""
    folder.mkdir(parents=True, exist_ok=True)
    _video(folder / "clip.mp4", 1.0, "160x120", 25)
    (folder / "leased.mp4").write_bytes((folder / "clip.mp4").read_bytes())
    os.symlink(folder / "nowhere.mp4", folder / "dangling.mp4")
    os.symlink(folder / "loop.mp4", folder / "loop.mp4")
    (folder / "sub.mp4").mkdir()
    (folder / "notes.txt").write_text("not a video: not an input")


class ReadLease:
    """A regular file whose ``open()`` blocks, as on a stalled network or FUSE mount: a helper process
    holds a Linux write lease on it (``fcntl F_SETLEASE``), so any other open waits until the lease is
    released or the kernel breaks it (``/proc/sys/fs/lease-break-time``, 45 s by default)."""

    HOLDER = (
        "import fcntl, os, signal, sys, time\n"
        "signal.signal(signal.SIGIO, signal.SIG_IGN)\n"  # the lease-break notice must not kill the holder
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.fcntl(fd, getattr(fcntl, 'F_SETLEASE', 1024), fcntl.F_WRLCK)\n"
        "print('held', flush=True)\n"
        "time.sleep(3600)\n"
    )

    def __init__(self, path: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", self.HOLDER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None and self._proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self._proc.kill()
        self._proc.wait()


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
    for kind, name in MORE_FILES.items():
        _make_more(kind, work / name, work)
        inputs.append(BadInput(kind, str(work / name), kind))
    return inputs + _rows(work)


def is_fifo(path: str) -> bool:
    return os.path.exists(path) and stat.S_ISFIFO(os.stat(path).st_mode)
