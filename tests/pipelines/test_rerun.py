"""Re-runs: --skip-existing writes nothing new, a repeated --run-id needs --force and then leaves no
duplicates, run ids are exact names, inputs are canonical, and a run that dies midway (multi-processing
DirectRunner) recovers with nothing lost. (Killed runs, at many points: test_fault_injection.py.)"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from emotrace.pipelines import analyze

pytestmark = [pytest.mark.pipeline, pytest.mark.media]


def _snapshot(out: Path) -> dict[str, str]:
    """Every file under ``out`` -> sha256 of its bytes."""
    files = [p for p in out.rglob("*") if p.is_file()]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _rows(out: Path, table: str):
    """Every row a reader of ``out/<table>`` sees (pyarrow skips ``_``- and ``.``-prefixed names)."""
    return ds.dataset(str(out / table), format="parquet").to_table().to_pandas()


def _refused(argv: list[str], *words: str) -> None:
    with pytest.raises(SystemExit) as err:
        analyze.run(argv)
    assert err.value.code == 2 and all(w in str(err.value) for w in words), str(err.value)


@pytest.fixture(scope="module")
def manifest(sample_posts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("rerun")
    for name in os.listdir(sample_posts_dir):
        shutil.copy(sample_posts_dir / name, work / name)
    return work / "manifest.csv"


def test_skip_existing_processes_nothing_and_leaves_tables_unchanged(manifest: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "r1"])
    assert first.by_status == {"ok": 3}
    before = _snapshot(out)
    again = analyze.run(["--input", str(manifest), "--output", str(out), "--skip-existing"])
    assert again.n_inputs == 0 and again.n_already_ok == 3
    assert _snapshot(out) == before

    _refused(["--input", str(manifest), "--output", str(out), "--run-id", "r1"], "r1", "--force")
    # The same run id with --skip-existing (a scheduled job re-running its day): nothing left, nothing new.
    same = analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "r1", "--skip-existing"])
    assert same.n_inputs == 0 and same.n_already_ok == 3
    assert _snapshot(out) == before
    forced = analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "r1", "--force"])
    assert forced.by_status == {"ok": 3}
    videos, traces = _rows(out, "videos"), _rows(out, "traces")
    assert len(videos) == 3 and not videos.duplicated(["post_id"]).any()
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    assert len(traces) == videos.n_steps.sum()


def test_a_day_rerun_under_its_run_id_continues_it_and_force_replaces_both(manifest: Path, tmp_path: Path):
    """--run-id X --skip-existing once X is committed: run X~002 does what X left, as its own commit;
    --force --run-id X then replaces X and X~002 together."""
    out = tmp_path / "out"
    late = manifest.parent / "late.mp4"
    day = manifest.with_name("day.csv")
    day.write_text(manifest.read_text() + "late.mp4,late,user_b,2024-05-03T20:00:00Z\n")
    base = ["--input", str(day), "--output", str(out), "--run-id", "day"]
    first = analyze.run(base)
    assert first.by_status == {"ok": 3, "failed": 1}  # late.mp4 was not uploaded yet
    shutil.copy(manifest.parent / "no_face.mp4", late)
    try:
        again = analyze.run([*base, "--skip-existing"])
    finally:
        late.unlink()
    assert again.run_id == "day~002" and again.by_status == {"ok": 1} and again.n_already_ok == 3
    videos = _rows(out, "videos")
    assert sorted(zip(videos.run_id, videos.post_id, videos.status, strict=True))[-2:] == [
        ("day", "talking_head", "ok"),
        ("day~002", "late", "ok"),
    ]
    forced = analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "day", "--force"])
    assert forced.by_status == {"ok": 3}
    videos = _rows(out, "videos")
    assert sorted(videos.post_id) == ["no_face", "silent_face", "talking_head"] and set(videos.run_id) == {
        "day"
    }
    assert not list(out.rglob("part-day~*"))


def test_a_run_id_that_prefixes_another_is_a_different_run(manifest: Path, tmp_path: Path):
    """Issue 15, class 2: `--run-id day --force` deleted run day-2's files, and --skip-existing miscounted."""
    out = tmp_path / "out"
    base = ["--input", str(manifest), "--output", str(out)]
    analyze.run([*base, "--run-id", "day-2"])
    day2 = sorted(p.name for p in out.rglob("part-day-2-*.parquet"))
    analyze.run([*base, "--run-id", "day", "--force"])  # "day" never ran: nothing of day-2 may go
    assert sorted(p.name for p in out.rglob("part-day-2-*.parquet")) == day2 and day2
    again = analyze.run([*base, "--run-id", "day", "--force"])
    assert again.reconciled and again.by_status == {"ok": 3}
    assert sorted(p.name for p in out.rglob("part-day-2-*.parquet")) == day2
    videos = _rows(out, "videos")
    assert sorted(videos.run_id) == ["day"] * 3 + ["day-2"] * 3
    skipped = analyze.run([*base, "--skip-existing"])
    assert skipped.n_inputs == 0 and skipped.n_already_ok == 3 and skipped.reconciled


def test_run_ids_outside_the_character_set_are_refused_before_any_work(manifest: Path, tmp_path: Path):
    """Issue 15, class 9: `z/../../../../x` wrote Parquet outside --output."""
    out = tmp_path / "deep" / "out"
    for bad in ["z/../../../../x", "..", "a..b", "-x", "", "x" * 129, "a b", "day/2", "é"]:
        _refused(["--input", str(manifest), "--output", str(out), "--run-id", bad], "--run-id")
    assert not list(tmp_path.rglob("*.parquet"))


def test_the_same_manifest_relative_then_absolute_is_the_same_inputs(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 15, class 7: --skip-existing re-ran everything when the manifest path was spelled otherwise."""
    out = tmp_path / "out"
    monkeypatch.chdir(manifest.parent)
    analyze.run(["--input", "manifest.csv", "--output", str(out)])
    again = analyze.run(["--input", str(manifest), "--output", str(out), "--skip-existing"])
    assert again.n_inputs == 0 and again.n_already_ok == 3
    videos = _rows(out, "videos")
    assert len(videos) == 3 and all(uri.startswith(str(manifest.parent)) for uri in videos.video_uri)


def test_killed_once_its_traces_are_written_then_skip_existing_keeps_each_step_once(
    manifest: Path, tmp_path: Path
):
    """Issue 15, class 8: a run SIGKILLed after its traces but before its videos were written, re-run
    with --skip-existing, doubled those trace rows. Killed from outside, as soon as a trace file exists
    (test_fault_injection.py kills at chosen points from inside)."""
    out = tmp_path / "out"
    argv = [
        "analyze",
        "--input",
        str(manifest),
        "--output",
        str(out),
        "--run-id",
        "k",
        "--direct_num_workers=1",
    ]
    run = subprocess.Popen(
        [sys.executable, "-m", "emotrace.pipelines.cli", *argv],
        start_new_session=True,  # its own process group: the kill takes its workers and ffmpeg too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not any("traces" in p.parts for p in out.rglob("*.parquet")):  # staged: being written
        assert run.poll() is None and time.monotonic() < deadline, "the run never wrote a trace file"
        time.sleep(0.002)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    again = analyze.run(["--input", str(manifest), "--output", str(out), "--skip-existing"])
    assert again.reconciled
    videos, traces = _rows(out, "videos"), _rows(out, "traces")
    assert sorted(videos.post_id) == ["no_face", "silent_face", "talking_head"]
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    assert len(traces) == videos.n_steps.sum()


def test_a_run_that_dies_midway_recovers_without_loss_or_duplicates(manifest: Path, tmp_path: Path):
    from emotrace.transforms.faults import FaultPlan
    from emotrace.transforms.publish import committed_files

    out = tmp_path / "out"
    faults = FaultPlan("video:silent_face", str(tmp_path / "fault"))
    argv = ["--input", str(manifest), "--output", str(out), "--run-id", "f1"]
    multi = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    with pytest.raises(Exception, match="injected fault"):
        analyze.run(argv + multi, faults=faults)
    # Nothing half-done is visible: no file of the failed attempt outside its staging folder.
    assert committed_files(str(out), "videos") == [] and committed_files(str(out), "traces") == []
    assert not [p for p in out.rglob("*.parquet") if "_staging" not in p.parts]

    recovered = analyze.run(argv + multi + ["--force"], faults=faults)  # the fault fired once already
    assert recovered.reconciled and recovered.by_status == {"ok": 3}
    videos, traces = _rows(out, "videos"), _rows(out, "traces")
    assert sorted(videos.post_id) == ["no_face", "silent_face", "talking_head"]
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    assert len(traces) == videos.n_steps.sum() and len(traces) > 0
    assert not (out / "_staging").exists()  # --force cleared the failed attempt
