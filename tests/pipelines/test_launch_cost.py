"""Launching a run costs the same for a manifest of 100 rows and of 1,000,000 (issue 16): the launcher
reads no input past the first, and the job it submits names ``--input`` instead of holding its rows.

The Dataflow flex launcher (deploy/dataflow/launch.py, which returns once the job is submitted) runs in
a child process with a runner that executes nothing and records the pipeline proto it would submit
(tests/pipelines/recording_runner.py); tests/peak_rss.py reads the child's own peak RSS. The manifests point
at the sample posts, each row its own post.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.peak_rss import run_measured

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
RUNNER = "tests.pipelines.recording_runner.RecordingRunner"


def _manifest(path: Path, rows: int, videos: list[Path]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write("video_uri,post_id,user_id,posted_at\n")
        for start in range(0, rows, 100_000):
            f.write(
                "".join(
                    f"{videos[i % len(videos)]},post{i:07d},user{i % 997},2024-05-0{1 + i % 3}T12:00:00Z\n"
                    for i in range(start, min(rows, start + 100_000))
                )
            )
    return path


def _launch(manifest: Path, out: Path, record: Path) -> tuple[int, dict]:
    """(peak RSS in KB, what the runner recorded) of one launch in a child process."""
    env = {**os.environ, "EMOTRACE_TEST_RECORD": str(record), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, str(REPO / "deploy" / "dataflow" / "launch.py"), "--input", str(manifest)]
    argv += ["--output", str(out), "--run-id", "launch", f"--runner={RUNNER}"]
    run = run_measured(argv, record.with_suffix(".rss.json"), cwd=REPO, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.peak_bytes >> 10, json.loads(record.read_text())


def test_a_million_row_manifest_launches_like_a_hundred_rows(sample_posts_dir: Path, tmp_path: Path):
    videos = sorted(sample_posts_dir.glob("*.mp4"))
    small = _manifest(tmp_path / "small.csv", 100, videos)
    large = _manifest(tmp_path / "large.csv", 1_000_000, videos)
    assert large.stat().st_size > 50 << 20  # ~70 MB of rows the launcher must not read
    rss_small, rec_small = _launch(small, tmp_path / "out-small", tmp_path / "small.json")
    rss_large, rec_large = _launch(large, tmp_path / "out-large", tmp_path / "large.json")
    assert abs(rss_large - rss_small) <= 0.10 * rss_small, (rss_small, rss_large)
    # The proto differs by the manifest's name only ("large" vs "small": as long, but pickled payloads
    # are compressed), not by its rows: 1,000,000 rows in a Create would be megabytes.
    assert abs(rec_large["proto_bytes"] - rec_small["proto_bytes"]) <= 0.10 * rec_small["proto_bytes"]
    assert abs(rec_large["proto_bytes"] - rec_small["proto_bytes"]) <= 256, (rec_small, rec_large)
    print(f"launcher peak RSS {rss_small >> 10} / {rss_large >> 10} MB, proto {rec_small} / {rec_large}")
    # Nothing ran: no input was read into staging, no file written.
    assert not list((tmp_path / "out-large").rglob("*.json")) and not list(tmp_path.rglob("*.parquet"))
