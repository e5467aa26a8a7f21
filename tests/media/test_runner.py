"""The ffmpeg runner against the real binary, on lavfi test sources (no files needed)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from emotrace.media import runner
from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST, encode_argv
from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.runner import STDERR_TAIL_BYTES, FfmpegProcess, iter_blocks, run_to_completion
from emotrace.schemas.errors import EmotraceError, ErrorCode

pytestmark = pytest.mark.media


def lavfi_argv(source: str, *output: str, realtime: bool = False) -> list[str]:
    """argv reading a lavfi test source (still whitelisted, as the runner demands)."""
    pre = ["-re"] if realtime else []
    return [ffmpeg_exe(), *GLOBAL_ARGS, *pre, "-protocol_whitelist", PROTOCOL_WHITELIST, "-f", "lavfi",
            "-i", source, *output]  # fmt: skip


RGB_16X16 = ("-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:")


def test_blocks_have_exact_size_and_a_short_last_one() -> None:
    argv = lavfi_argv("color=c=red:size=16x16:rate=10:duration=1", *RGB_16X16)
    blocks = list(iter_blocks(argv, 1000, timeout_s=30))
    assert [len(b) for b in blocks] == [1000] * 7 + [680]  # 10 frames x 16 x 16 x 3 = 7680 bytes
    r, g, b = blocks[0][:3]
    assert r > 240 and g < 15 and b < 15  # red, really decoded (via lavfi's YUV, hence not exact)


def test_reused_blocks_share_one_buffer_and_carry_the_same_bytes() -> None:
    argv = lavfi_argv("testsrc=size=16x16:rate=10:duration=1", *RGB_16X16)
    fresh = [bytes(b) for b in iter_blocks(argv, 1000, timeout_s=30)]
    copies, owners = [], set()
    for block in iter_blocks(argv, 1000, timeout_s=30, reuse=True):
        assert isinstance(block, memoryview)
        owners.add(id(block.obj))
        copies.append(bytes(block))  # copied now: the next block overwrites this one
    assert copies == fresh and [len(b) for b in copies] == [1000] * 7 + [680]
    assert len(owners) == 1  # one buffer for the whole stream, not a fresh one per block


def test_hung_ffmpeg_is_killed_with_decode_timeout() -> None:
    # -re paces an endless source in real time: it would never finish on its own.
    argv = lavfi_argv("testsrc=size=64x64:rate=25", *RGB_16X16[:-1], "pipe:", realtime=True)
    t0 = time.monotonic()
    with pytest.raises(EmotraceError) as err:
        for _ in iter_blocks(argv, 64 * 64 * 3, timeout_s=0.5):
            pass
    assert err.value.code == ErrorCode.DECODE_TIMEOUT
    assert time.monotonic() - t0 < 5.0


def test_time_spent_by_a_slow_consumer_does_not_count() -> None:
    # Wall clock here is ~1.5 s, past the 1 s budget, but ffmpeg itself waits on us, not we on it.
    argv = lavfi_argv("color=size=16x16:rate=5:duration=1", *RGB_16X16)
    n = 0
    for _ in iter_blocks(argv, 16 * 16 * 3, timeout_s=1.0):
        time.sleep(0.3)
        n += 1
    assert n == 5


def test_nonzero_exit_raises_decode_failed_with_stderr() -> None:
    argv = lavfi_argv("no_such_source_filter", *RGB_16X16)
    with pytest.raises(EmotraceError) as err:
        run_to_completion(argv, timeout_s=30)
    assert err.value.code == ErrorCode.DECODE_FAILED
    assert "no_such_source_filter" in err.value.message  # ffmpeg's own words reach the message


def test_stderr_tail_is_bounded() -> None:
    # ffmpeg echoes the unknown filter name, so stderr is far longer than the tail kept.
    argv = lavfi_argv("nosuchfilter" + "x" * 20_000, *RGB_16X16)
    with FfmpegProcess(argv, timeout_s=30) as proc, pytest.raises(EmotraceError):
        proc.read_all()
    assert 100 < len(proc.stderr_tail.encode()) <= STDERR_TAIL_BYTES


def test_leaving_early_kills_ffmpeg_without_error() -> None:
    argv = lavfi_argv("testsrc=size=64x64:rate=25", *RGB_16X16)  # endless
    with FfmpegProcess(argv, timeout_s=30) as proc:
        first = next(proc.blocks(64 * 64 * 3))
        popen = proc._proc
    assert len(first) == 64 * 64 * 3
    assert popen is not None and popen.returncode is not None  # reaped, not left running


def test_closing_the_generator_kills_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(proc)
        return proc

    monkeypatch.setattr(runner.subprocess, "Popen", spy)
    gen = iter_blocks(lavfi_argv("testsrc=size=64x64:rate=25", *RGB_16X16), 1024, timeout_s=30)
    next(gen)
    gen.close()
    assert len(started) == 1 and started[0].returncode is not None


def test_popen_gets_an_argv_list_and_no_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    real_popen = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        calls.append((args, kwargs))
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(runner.subprocess, "Popen", spy)
    run_to_completion(lavfi_argv("color=size=16x16:rate=5:duration=0.2", *RGB_16X16), timeout_s=30)
    (args, kwargs), *_ = calls
    assert isinstance(args[0], list) and args[0][0] == ffmpeg_exe()
    assert not kwargs.get("shell", False)


def test_a_failing_stdin_producer_is_reraised(tmp_path: Path) -> None:
    def frames() -> Iterator[bytes]:
        yield bytes(64 * 48 * 3)
        raise RuntimeError("frame source broke")

    argv = encode_argv(str(tmp_path / "o.mp4"), 64, 48, 25.0)
    with pytest.raises(RuntimeError, match="frame source broke"):
        run_to_completion(argv, timeout_s=30, stdin_chunks=frames())
