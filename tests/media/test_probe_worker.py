"""The probe in a killable child (issue 15, class 3): same answers as in-process, and a read that blocks
ends at the deadline with INPUT_TIMEOUT instead of hanging the worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from emotrace.media.probe import probe
from emotrace.media.probe_worker import ProbeWorker
from emotrace.schemas.config import ALLOWED_CONTAINER_FORMATS
from emotrace.schemas.errors import EmotraceError, ErrorCode
from tests.pipelines.bad_inputs import ReadLease, _video

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    _video(path, 1.0, "160x120", 25)
    return path


@pytest.fixture
def worker():
    w = ProbeWorker()
    yield w
    w.close()


def _code(worker: ProbeWorker, path: Path, timeout_s: float = 10) -> ErrorCode:
    with pytest.raises(EmotraceError) as err:
        worker.probe(str(path), ALLOWED_CONTAINER_FORMATS, None, timeout_s)
    return err.value.code


def test_same_answers_as_the_in_process_probe(worker, clip, tmp_path):
    assert worker.probe(str(clip), ALLOWED_CONTAINER_FORMATS, None, 10) == probe(str(clip))
    assert _code(worker, tmp_path / "missing.mp4") == ErrorCode.INPUT_NOT_FOUND
    os.mkfifo(tmp_path / "fifo.mp4")
    assert _code(worker, tmp_path / "fifo.mp4") == ErrorCode.INPUT_UNREADABLE
    (tmp_path / "text.mp4").write_text("not a video\n" * 50)
    assert _code(worker, tmp_path / "text.mp4") == ErrorCode.PROBE_FAILED


def test_a_read_that_blocks_ends_at_the_deadline_and_the_next_probe_works(worker, clip, tmp_path):
    leased = tmp_path / "leased.mp4"
    leased.write_bytes(clip.read_bytes())
    lease = ReadLease(leased)
    try:
        t0 = time.monotonic()
        assert _code(worker, leased, timeout_s=1.5) == ErrorCode.INPUT_TIMEOUT
        assert time.monotonic() - t0 < 1.5 + 2.0  # the deadline, plus killing the child
    finally:
        lease.release()
    assert worker.probe(str(clip), ALLOWED_CONTAINER_FORMATS, None, 10).duration_s == pytest.approx(
        1.0, abs=0.1
    )


def test_a_child_that_dies_costs_one_probe_failed(worker, clip, tmp_path):
    worker.start()
    leased = tmp_path / "leased.mp4"
    leased.write_bytes(clip.read_bytes())
    lease = ReadLease(leased)
    pid = worker._proc.pid  # the child, blocked in the probe below: killed as a libav crash would
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    try:
        with pytest.raises(EmotraceError, match="died") as err:
            worker.probe(str(leased), ALLOWED_CONTAINER_FORMATS, None, 20)
    finally:
        lease.release()
    assert err.value.code == ErrorCode.PROBE_FAILED
    assert worker.probe(str(clip), ALLOWED_CONTAINER_FORMATS, None, 10).has_video
