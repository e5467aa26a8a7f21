"""The probe under a deadline: :func:`emotrace.media.probe.probe` in a child process that can be killed.

PyAV runs inside the interpreter and cannot be interrupted: a file whose read blocks (a stalled network
or FUSE mount, a special file under /proc) would hang the worker for good. So a pipeline worker keeps
one long-lived child (``python -m emotrace.media.probe_worker``) and sends it one JSON line per video; the
answer must come within the video's deadline, else the child is killed (and replaced on the next call)
and the video fails with INPUT_TIMEOUT. A child that crashes on a crafted file (a segfault in libav)
costs that video a PROBE_FAILED row, not the worker. Cost per video: one round trip on a pipe (about a
millisecond, docs/reliability.md), plus the child's start once per worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import traceback
from typing import IO, Any, NoReturn

from emotrace.schemas.errors import EmotraceError, ErrorCode, SkipInput
from emotrace.schemas.records import MediaInfo

_KILL_WAIT_S = 1.0  # after SIGKILL; a child stuck in an uninterruptible read is then left behind


class ProbeWorker:
    """One child process probing local files, one at a time (a DoFn instance holds one)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def probe(
        self,
        path: str,
        format_whitelist: str,
        max_pixels: int | None,
        timeout_s: float,
        started: float | None = None,
    ) -> MediaInfo:
        """MediaInfo of ``path``; the probe's EmotraceError re-raised here; INPUT_TIMEOUT once
        ``timeout_s`` seconds have passed since ``started`` (``time.monotonic()``; default: now);
        PROBE_FAILED if the child dies."""
        deadline = (time.monotonic() if started is None else started) + timeout_s
        if time.monotonic() >= deadline:
            raise _timeout(path, timeout_s)
        proc = self._child()
        request = {"path": path, "formats": format_whitelist, "max_pixels": max_pixels}
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            return self._died(path)
        line = self._read_line(proc, deadline)
        if line is None:
            self.close()
            raise _timeout(path, timeout_s)
        if not line:
            return self._died(path)
        return _answer(json.loads(line))

    def close(self) -> None:
        """Stop the child (killed: it may be blocked in a read)."""
        proc, self._proc, self._buffer = self._proc, None, b""
        if proc is None:
            return
        proc.kill()
        # Still in an uninterruptible read after the wait: the kernel reaps it when the read returns.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_KILL_WAIT_S)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "emotrace.media.probe_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # libav's warnings; answers carry the errors
                close_fds=True,
            )
            self._buffer = b""
        return self._proc

    def _read_line(self, proc: subprocess.Popen[bytes], deadline: float) -> bytes | None:
        """One line from the child; b"" at end of file (it died); None past ``deadline``."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    return None
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b""
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def start(self) -> None:
        """Start the child now (e.g. in a DoFn's setup), so its imports overlap other set-up work."""
        self._child()

    def _died(self, path: str) -> NoReturn:
        proc = self._proc
        code = proc.wait() if proc is not None else None
        self.close()
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        raise EmotraceError(ErrorCode.PROBE_FAILED, f"{path}: the probe process died ({how})")


def _timeout(path: str, timeout_s: float) -> EmotraceError:
    return EmotraceError(
        ErrorCode.INPUT_TIMEOUT,
        f"reading {path} to probe it took longer than the {timeout_s:g} s timeout and was stopped "
        "(a read that blocks: a stalled network or FUSE mount, a special file?)",
    )


def _answer(reply: dict[str, Any]) -> MediaInfo:
    if "info" in reply:
        return MediaInfo(**reply["info"])
    if "error" in reply:
        code, message, status = reply["error"]
        error = SkipInput if status == SkipInput.status else EmotraceError
        raise error(ErrorCode(code), message)
    raise RuntimeError(f"probe child: {reply.get('bug')}")  # a bug: the row says INTERNAL_ERROR


# -- the child -------------------------------------------------------------------------------------------


def _exit_with_parent(interval_s: float = 1.0) -> None:
    """End this child when the worker that started it is gone, even while a probe blocks in a read.

    Not PR_SET_PDEATHSIG: that fires when the *thread* that started the child exits, and a Beam worker
    runs a DoFn from pooled threads that come and go."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="emotrace-probe-parent-watch", daemon=True).start()


def reply_to(request: dict[str, Any]) -> dict[str, Any]:
    from emotrace.media.probe import probe  # PyAV loads in the child only

    try:
        info = probe(request["path"], request["formats"], request.get("max_pixels"))
    except EmotraceError as err:
        return {"error": [err.code.value, err.message, err.status]}
    except Exception as err:  # a bug: the parent raises it, and the row names it
        return {"bug": "".join(traceback.format_exception_only(err)).strip()}
    return {"info": dataclasses.asdict(info)}


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    for line in requests:
        replies.write(json.dumps(reply_to(json.loads(line))).encode("utf-8") + b"\n")
        replies.flush()


if __name__ == "__main__":
    _exit_with_parent()
    import emotrace.media.probe  # noqa: F401  (PyAV loads now, not inside the first video's deadline)

    serve(sys.stdin.buffer, sys.stdout.buffer)
