"""The one place that runs ffmpeg subprocesses.

Every call goes through :class:`FfmpegProcess`, which

* takes an argv list (never a shell string) and refuses one that lacks the global flags or an input
  without a protocol whitelist (see :func:`check_argv`);
* drains stderr on a thread, so a chatty ffmpeg never blocks on a full stderr pipe while we read stdout,
  and keeps its last ~2 KB for the error message;
* optionally feeds stdin from an iterable of byte chunks on another thread (encoding raw frames);
* enforces a time budget by killing the process (``ErrorCode.DECODE_TIMEOUT``);
* optionally watches stderr for a refusal (``watch``, e.g. a frame past ``-max_pixels``): ffmpeg is killed
  at once and the reader gets that error instead of more output;
* checks the exit status (``ErrorCode.DECODE_FAILED`` with the stderr tail).

The budget counts the time spent *waiting on ffmpeg* (blocked reads and the final wait), not the time
the caller spends between reads: ffmpeg is paused by back-pressure on its stdout pipe then, so a slow
consumer (face detection on each chunk) never trips it, while a hung or pathological decode does.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType

from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST
from emotrace.schemas.errors import EmotraceError, ErrorCode

STDERR_TAIL_BYTES = 2048  # enough for ffmpeg's last few error lines, small enough for a table cell
StderrWatch = Callable[[bytes], EmotraceError | None]  # stderr tail -> the error that stops ffmpeg, or None
_PIPE_READ_BYTES = 1 << 16


def check_argv(argv: Sequence[str]) -> list[str]:
    """Return ``argv`` as a list after checking the policy every ffmpeg call must follow.

    Raises ``TypeError``/``ValueError`` (a programming error, not a per-video failure) unless: argv is a
    sequence of str (a single string would mean a shell-style command), the global flags
    (``-nostdin -hide_banner -loglevel error``) follow the executable, and each ``-i`` is preceded by its
    own ``-protocol_whitelist`` (so a crafted playlist cannot make ffmpeg open http:// or other protocols).
    """
    if isinstance(argv, str | bytes) or not all(isinstance(a, str) for a in argv):
        raise TypeError("ffmpeg argv must be a list of str (no shell strings)")
    args = list(argv)
    if args[1 : 1 + len(GLOBAL_ARGS)] != list(GLOBAL_ARGS):
        raise ValueError(f"ffmpeg argv must start with <exe> {' '.join(GLOBAL_ARGS)}: {args[:6]}")
    whitelisted = False
    for i, arg in enumerate(args):
        if arg == "-protocol_whitelist" and args[i + 1 : i + 2] == [PROTOCOL_WHITELIST]:
            whitelisted = True
        elif arg == "-i":
            if not whitelisted:
                raise ValueError(
                    f"input {args[i + 1 : i + 2]} lacks -protocol_whitelist {PROTOCOL_WHITELIST}"
                )
            whitelisted = False  # the next input needs its own
    return args


class FfmpegProcess:
    """A running ffmpeg: a context manager whose stdout is read in fixed-size blocks.

    Leaving the ``with`` block always reaps the process: if stdout was not read to the end (the caller
    stopped early, or raised), ffmpeg is killed and no exit status is checked.

    Args:
        argv: full command, ``[exe, *GLOBAL_ARGS, ...]`` (checked by :func:`check_argv`).
        timeout_s: budget for the time spent waiting on ffmpeg, in seconds.
        stdin_chunks: bytes written to ffmpeg's stdin (then closed), e.g. raw frames; None: no stdin.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        stdin_chunks: Iterable[bytes] | None = None,
        watch: StderrWatch | None = None,
    ) -> None:
        self.argv = check_argv(argv)
        self._watch = watch
        self._refused: EmotraceError | None = None
        self.timeout_s = float(timeout_s)
        self._stdin_chunks = stdin_chunks
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._stderr_tail = bytearray()
        self._stdin_error: BaseException | None = None
        self._waited_s = 0.0
        self._timed_out = False

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> FfmpegProcess:
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if self._stdin_chunks is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,  # raw pipes: we read exact block sizes ourselves, no second buffer
        )
        self._start_thread(self._drain_stderr)
        if self._stdin_chunks is not None:
            self._start_thread(self._feed_stdin)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._require_proc()
        if proc.poll() is None:
            proc.kill()  # stopped early or failed: ffmpeg may be blocked on a full stdout pipe
        proc.wait()
        self._join_threads()
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                pipe.close()

    # -- reading ---------------------------------------------------------------------------------
    def blocks(self, block_size: int, reuse: bool = False, unit: int = 1) -> Iterator[bytearray | memoryview]:
        """Yield stdout in blocks of exactly ``block_size`` bytes; the last one may be shorter.

        The exit status is checked at end of stream *before* the last block is yielded, so a failed
        decode raises instead of ending with a silently truncated block. After a ``watch`` refusal, what
        came before it is still yielded, cut to whole ``unit``s (e.g. frames), then the refusal raised.
        ``reuse``: every block is a view of one buffer that the next block overwrites, for consumers
        done with a block before they ask for the next. A fresh multi-MB block per read costs a page
        fault per 4 KB page, since ``media.malloc`` hands every large free straight back to the OS.
        """
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
        shared = bytearray(block_size) if reuse else None
        while True:
            buf = shared if shared is not None else bytearray(block_size)
            got = self._read_into(buf)
            block: bytearray | memoryview
            if shared is not None:
                block = memoryview(shared)[:got]
            else:
                del buf[got:]
                block = buf
            if got < block_size:
                refused = self._refused
                if refused is not None and got >= unit:
                    yield block[: got - got % unit]
                self._finish()
                if got and refused is None:
                    yield block
                return
            yield block

    def read_all(self) -> bytes:
        """Read stdout to the end and check the exit status (for short commands)."""
        out = bytearray()
        for block in self.blocks(_PIPE_READ_BYTES):
            out += block
        return bytes(out)

    def _read_into(self, buf: bytearray) -> int:
        """Fill ``buf`` from stdout; returns the bytes read (fewer only at end of stream)."""
        stdout = self._require_proc().stdout
        assert stdout is not None
        n = len(buf)
        got = 0
        with memoryview(buf) as view, self._budget():
            while got < n:
                k = stdout.readinto(view[got:])  # type: ignore[attr-defined]
                if not k:
                    break  # EOF (or the watchdog killed ffmpeg)
                got += k
        if self._timed_out:
            self._raise_timeout()
        return got  # after a watch refusal: what came before it (blocks() yields it, then raises)

    # -- completion ------------------------------------------------------------------------------
    def _finish(self) -> None:
        """Wait for exit within the remaining budget, then raise on timeout or a non-zero status."""
        proc = self._require_proc()
        remaining = max(self.timeout_s - self._waited_s, 0.0)
        t0 = time.monotonic()
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self._timed_out = True
            proc.kill()
            proc.wait()
        finally:
            self._waited_s += time.monotonic() - t0
        self._join_threads()
        if self._refused is not None:
            raise self._refused
        if self._timed_out:
            self._raise_timeout()
        if self._stdin_error is not None:
            raise self._stdin_error
        if proc.returncode != 0:
            status = (
                f"killed by signal {-proc.returncode}"
                if proc.returncode < 0
                else f"exit status {proc.returncode}"
            )
            raise EmotraceError(
                ErrorCode.DECODE_FAILED, f"ffmpeg {status} on {self._input_name()}: {self.stderr_tail}"
            )

    @property
    def stderr_tail(self) -> str:
        """The last ~2 KB ffmpeg wrote to stderr, decoded leniently and stripped."""
        return bytes(self._stderr_tail).decode("utf-8", errors="replace").strip()

    def _raise_timeout(self) -> None:
        raise EmotraceError(
            ErrorCode.DECODE_TIMEOUT,
            f"ffmpeg ran past the {self.timeout_s:g} s timeout on {self._input_name()} and was killed",
        )

    def _input_name(self) -> str:
        inputs = [self.argv[i + 1] for i, a in enumerate(self.argv[:-1]) if a == "-i"]
        return ", ".join(os.path.basename(x) or x for x in inputs) or "<no input>"

    # -- timeout watchdog ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _budget(self) -> Iterator[None]:
        """Arm a watchdog for the remaining budget while the caller waits on ffmpeg."""
        timer = threading.Timer(max(self.timeout_s - self._waited_s, 0.0), self._on_timeout)
        timer.daemon = True
        t0 = time.monotonic()
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            self._waited_s += time.monotonic() - t0

    def _on_timeout(self) -> None:
        self._timed_out = True
        self._require_proc().kill()  # unblocks the pending read with EOF

    # -- helper threads --------------------------------------------------------------------------
    def _start_thread(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _join_threads(self) -> None:
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _drain_stderr(self) -> None:
        stderr = self._require_proc().stderr
        assert stderr is not None
        while chunk := stderr.read(4096):
            self._stderr_tail += chunk
            del self._stderr_tail[:-STDERR_TAIL_BYTES]
            if self._watch is not None and self._refused is None:
                self._refused = self._watch(bytes(self._stderr_tail))
                if self._refused is not None:
                    # SIGTERM, not SIGKILL: ffmpeg stops reading, flushes what it decoded before the
                    # refusal (frames the fps filter still holds) and exits; killed at once, it lost a
                    # varying number of them (0-29 of 29 in one file), so the rows before the refusal
                    # depended on timing. The reader raises the refusal after those frames; the
                    # per-video deadline still kills an ffmpeg that does not exit.
                    self._require_proc().terminate()

    def _feed_stdin(self) -> None:
        stdin = self._require_proc().stdin
        assert stdin is not None and self._stdin_chunks is not None
        try:
            for chunk in self._stdin_chunks:
                stdin.write(chunk)
        except BrokenPipeError:
            pass  # ffmpeg exited early; its exit status and stderr say why
        except BaseException as exc:  # the producer failed: stop ffmpeg and re-raise in the caller
            self._stdin_error = exc
            self._require_proc().kill()
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            raise RuntimeError("FfmpegProcess used outside its `with` block")
        return self._proc


def iter_blocks(
    argv: Sequence[str],
    block_size: int,
    *,
    timeout_s: float,
    reuse: bool = False,
    watch: StderrWatch | None = None,
    unit: int = 1,
) -> Iterator[bytearray | memoryview]:
    """Run ffmpeg and yield its stdout in ``block_size``-byte blocks (the last may be shorter).

    Memory stays bounded by one block. Closing the generator early kills ffmpeg. ``reuse``: see
    :meth:`FfmpegProcess.blocks`. Raises EmotraceError(DECODE_TIMEOUT | DECODE_FAILED), or what
    ``watch`` returns for ffmpeg's stderr, after the whole ``unit``s read before it.
    """
    with FfmpegProcess(argv, timeout_s=timeout_s, watch=watch) as proc:
        yield from proc.blocks(block_size, reuse, unit)


def run_to_completion(
    argv: Sequence[str], *, timeout_s: float, stdin_chunks: Iterable[bytes] | None = None
) -> bytes:
    """Run a short ffmpeg command to the end and return its stdout (e.g. encoding a sample post).

    Raises EmotraceError(DECODE_TIMEOUT | DECODE_FAILED); an exception raised by ``stdin_chunks``
    kills ffmpeg and is re-raised here.
    """
    with FfmpegProcess(argv, timeout_s=timeout_s, stdin_chunks=stdin_chunks) as proc:
        return proc.read_all()
