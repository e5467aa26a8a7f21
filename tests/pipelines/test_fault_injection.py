"""Runs killed with SIGKILL at random points, then re-run: every step exactly once, every input exactly
one ``videos`` row (issue 15: class 8 and the acceptance's fault-injection test).

Each killed run is a real process (``tests/pipelines/fault_child.py``, its own session) that a
:class:`FaultPlan` kills, process group and all, at a chosen point: after some trace files are written,
when one table is complete and the next is not, in the middle of the publication, or in the middle of a
``--force`` retraction. The points are drawn from a seeded generator (``EMOTRACE_FAULT_SEED`` changes
the draw). The folder each kill leaves is then re-run twice, from two copies, under the killed run's id:
with ``--skip-existing`` (as a scheduled job re-runs its day) and with ``--force``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from emotrace.media.argv import GLOBAL_ARGS, PROTOCOL_WHITELIST
from emotrace.media.ffmpeg_bin import ffmpeg_exe
from emotrace.media.runner import run_to_completion
from emotrace.pipelines import analyze
from emotrace.schemas.naming import run_of_file
from emotrace.transforms.publish import committed_files, committed_runs

pytestmark = [pytest.mark.pipeline, pytest.mark.media, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
POSTS = ["no_face", "silent_face", "talking_head"]
FILES = {"traces": 3, "videos": 3, "tracks": 2}  # the sample posts: three posting days, two with a face
SEED = int(os.environ.get("EMOTRACE_FAULT_SEED", "15"))
# The kill points count files per table: one writer bundle per table, one file per partition.
ONE_WORKER = ["--direct_num_workers=1"]


def _draw() -> list[tuple[str, dict]]:
    """(name, FaultPlan fields) of each kill, one per kind of point."""
    rng = random.Random(SEED)
    table = rng.choice(sorted(FILES))
    published = sum(FILES.values())
    return [
        ("after some traces", {"point": "file:traces", "after": rng.randint(1, FILES["traces"] - 1)}),
        (f"{table} complete, the next table not", {"point": f"file:{table}", "after": FILES[table]}),
        # The last draw is after every rename, before the commit marker.
        ("during publication", {"point": "publish", "after": rng.randint(1, published)}),
    ]


def _committed_rows(out: Path, table: str):
    files = committed_files(str(out), table)
    return ds.dataset(files, format="parquet").to_table().to_pandas() if files else None


def assert_exactly_once(out: Path) -> None:
    """Every input exactly one videos row, every step of its trace exactly once, nothing uncommitted
    in the table folders, and no staging left (a re-run under the killed run's id discards it)."""
    videos, traces = _committed_rows(out, "videos"), _committed_rows(out, "traces")
    assert sorted(videos.post_id) == POSTS and set(videos.status) == {"ok"}
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    for row in videos.itertuples():
        assert (traces.post_id == row.post_id).sum() == row.n_steps > 0, row.post_id
    runs = committed_runs(str(out))
    visible = [p for t in FILES for p in (out / t).rglob("*.parquet")]
    assert visible and all(run_of_file(str(p)) in runs for p in visible)
    assert not (out / "_staging").exists()


def _kill(work: Path, out: Path, plan: dict, argv: list[str]) -> None:
    spec = json.dumps({**plan, "action": "kill", "counter_dir": str(work / f"hits-{len(os.listdir(work))}")})
    proc = subprocess.run(
        [sys.executable, "-m", "tests.pipelines.fault_child", spec, *argv],
        cwd=REPO,
        start_new_session=True,  # the plan kills this process group: the run, never the test runner
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def work(sample_posts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample posts cut to their first 2 s (the runs here are about files, not media)."""
    work = tmp_path_factory.mktemp("faults")
    shutil.copy(sample_posts_dir / "manifest.csv", work / "manifest.csv")
    for post in POSTS:
        src, dst = sample_posts_dir / f"{post}.mp4", work / f"{post}.mp4"
        run_to_completion(
            [ffmpeg_exe(), *GLOBAL_ARGS, "-protocol_whitelist", PROTOCOL_WHITELIST, "-i", f"file:{src}",
             "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", f"file:{dst}"],
            timeout_s=60,
        )  # fmt: skip
    return work


@pytest.mark.parametrize(("name", "plan"), _draw(), ids=[n for n, _ in _draw()])
def test_a_killed_run_then_a_rerun_leaves_every_step_once(work: Path, name: str, plan: dict):
    out = work / f"out-{plan['point'].replace(':', '-')}-{plan['after']}"
    argv = ["--input", str(work / "manifest.csv"), "--output", str(out), "--run-id", "k1", *ONE_WORKER]
    _kill(work, out, plan, argv)
    before = _committed_rows(out, "videos")
    assert before is None  # killed before its commit: nothing of the run counts
    skip, force = out.with_name(out.name + "-skip"), out.with_name(out.name + "-force")
    shutil.copytree(out, skip)
    shutil.copytree(out, force)

    again = analyze.run([*argv[:3], str(skip), "--run-id", "k1", "--skip-existing"])  # as a day's rerun
    assert again.reconciled
    assert_exactly_once(skip)
    forced = analyze.run([*argv[:3], str(force), "--run-id", "k1", "--force"])
    assert forced.reconciled and forced.by_status == {"ok": 3}
    assert_exactly_once(force)


def test_a_force_killed_while_it_retracts_the_old_run(work: Path):
    out = work / "out-retract"
    argv = ["--input", str(work / "manifest.csv"), "--output", str(out), "--run-id", "k2", *ONE_WORKER]
    analyze.run(argv)
    plan = {"point": "retract", "after": random.Random(SEED).randint(1, sum(FILES.values()) - 1)}
    _kill(work, out, plan, [*argv, "--force"])
    assert _committed_rows(out, "videos") is None  # the marker went first: the old run no longer counts
    skip = out.with_name("out-retract-skip")
    shutil.copytree(out, skip)
    analyze.run([*argv[:3], str(skip), "--run-id", "k2", "--skip-existing"])
    assert_exactly_once(skip)
    analyze.run([*argv, "--force"])
    assert_exactly_once(out)
