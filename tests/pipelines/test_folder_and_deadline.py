"""A folder input with entries that are no video files, and one whose read blocks (issue 15, classes 3 and
11), through one real run with ``--timeout 3``: each entry named like a video ends as the row the
corpus table in docs/reliability.md says, and the job ends in seconds, not at the blocked read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from emotrace.pipelines import analyze
from tests.pipelines.bad_inputs import FOLDER, ReadLease, build_folder
from tests.pipelines.test_bad_inputs import documented_outcomes

pytestmark = [pytest.mark.pipeline, pytest.mark.media]
LEASE_BREAK_S = (
    float(Path("/proc/sys/fs/lease-break-time").read_text()) if Path("/proc/sys/fs").exists() else 45
)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    work = tmp_path_factory.mktemp("folder")
    build_folder(work / "posts")
    lease = ReadLease(work / "posts" / "leased.mp4")
    try:
        t0 = time.monotonic()
        analyze.run(["--input", str(work / "posts"), "--output", str(work / "out"), "--timeout", "3"])
        took = time.monotonic() - t0
    finally:
        lease.release()
    yield work / "out", took


def test_every_entry_named_like_a_video_gets_its_documented_row(folder_run):
    out, _ = folder_run
    rows = ds.dataset(str(out / "videos"), format="parquet").to_table().to_pylist()
    actual = {
        FOLDER[Path(r["video_uri"]).name]: (r["status"], r["error_code"], bool(r["partial"])) for r in rows
    }
    expected = {k: v for k, v in documented_outcomes().items() if k in FOLDER.values()}
    assert len(rows) == len(FOLDER) and actual == expected  # notes.txt is not an input


def test_a_blocking_read_ends_at_the_deadline_not_with_the_job(folder_run):
    out, took = folder_run
    rows = ds.dataset(str(out / "videos"), format="parquet").to_table().to_pylist()
    (blocked,) = [r for r in rows if r["error_code"] == "INPUT_TIMEOUT"]
    assert "3 s" in blocked["error_message"]
    assert took < LEASE_BREAK_S  # it did not wait for the kernel to break the lease
