"""Re-runs: --skip-existing writes nothing new, a repeated --run-id needs --force and then leaves no
duplicates, and a run that dies midway (multi-processing DirectRunner) recovers with nothing lost."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from emotrace.pipelines import analyze
from emotrace.pipelines.rerun import table_files
from emotrace.transforms.faults import ENV

pytestmark = [pytest.mark.pipeline, pytest.mark.media]


def _snapshot(out: Path) -> dict[str, str]:
    """Every file under ``out`` -> sha256 of its bytes."""
    files = [p for p in out.rglob("*") if p.is_file()]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _rows(out: Path, table: str):
    return ds.dataset(table_files(str(out), table), format="parquet").to_table().to_pandas()


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

    with pytest.raises(SystemExit, match="already wrote"):
        analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "r1"])
    forced = analyze.run(["--input", str(manifest), "--output", str(out), "--run-id", "r1", "--force"])
    assert forced.by_status == {"ok": 3}
    videos, traces = _rows(out, "videos"), _rows(out, "traces")
    assert len(videos) == 3 and not videos.duplicated(["post_id"]).any()
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    assert len(traces) == videos.n_steps.sum()


def test_a_run_that_dies_midway_recovers_without_loss_or_duplicates(
    manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    out = tmp_path / "out"
    marker = tmp_path / "fault-fired"
    monkeypatch.setenv(ENV, f"silent_face:{marker}")
    argv = ["--input", str(manifest), "--output", str(out), "--run-id", "f1"]
    multi = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
    with pytest.raises(Exception, match="injected fault"):
        analyze.run(argv + multi)
    assert marker.exists()
    # Nothing half-done is visible: no finished file of the failed attempt.
    assert table_files(str(out), "videos") == [] and table_files(str(out), "traces") == []

    recovered = analyze.run(argv + multi + ["--force"])  # the fault fires once: this attempt completes
    assert recovered.reconciled and recovered.by_status == {"ok": 3}
    videos, traces = _rows(out, "videos"), _rows(out, "traces")
    assert sorted(videos.post_id) == ["no_face", "silent_face", "talking_head"]
    assert not traces.duplicated(["post_id", "track_id", "t_s"]).any()
    assert len(traces) == videos.n_steps.sum() and len(traces) > 0
    assert not any("beam-temp" in str(p) for p in out.rglob("*.parquet"))  # --force cleared the debris
