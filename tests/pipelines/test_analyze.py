"""The real analyze pipeline on the DirectRunner over the real sample posts (pipeline tier)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest

import emotrace
from emotrace.datasets.synth import SynthConfig, write_post
from emotrace.pipelines import analyze
from emotrace.pipelines.summary import RunSummary
from emotrace.schemas.tables import TRACES, TRACKS, VIDEOS
from tests.pipelines.cores import default_cores

pytestmark = [pytest.mark.pipeline, pytest.mark.media]


@pytest.fixture(scope="module")
def run(sample_posts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    work = tmp_path_factory.mktemp("analyze")
    for name in os.listdir(sample_posts_dir):
        shutil.copy(sample_posts_dir / name, work / name)
    # Not a video: must fail alone, not the job. Seeded: a few random byte strings sniff as lyrics files.
    (work / "broken.mp4").write_bytes(np.random.default_rng(7).bytes(20_000))
    with open(work / "manifest.csv", "a", encoding="utf-8") as f:
        f.write("broken.mp4,broken,u9,\n,no_uri,u9,\n")
    out = work / "out"
    with default_cores():  # the product's default: one worker process per core (pipelines/local.py)
        summary = analyze.run(["--input", str(work / "manifest.csv"), "--output", str(out), "--run-id", "t1"])
    return out, summary


def _table(out: Path, name: str):
    return ds.dataset(str(out / name), format="parquet").to_table()


def test_every_input_has_exactly_one_videos_row(run):
    out, summary = run
    videos = _table(out, "videos")
    assert videos.schema.equals(VIDEOS, check_metadata=False)
    rows = {r["post_id"]: r for r in videos.to_pylist()}
    assert len(videos) == summary.n_inputs == 5 and summary.reconciled
    assert rows["talking_head"]["status"] == "ok" and rows["talking_head"]["n_tracks"] >= 1
    assert rows["talking_head"]["has_audio"] is True
    assert rows["silent_face"]["status"] == "ok" and rows["silent_face"]["has_audio"] is False
    assert rows["no_face"]["status"] == "ok" and rows["no_face"]["n_tracks"] == 0
    assert rows["broken"]["status"] == "failed" and rows["broken"]["error_code"] == "PROBE_FAILED"
    invalid = [r for r in rows.values() if r["error_code"] == "MANIFEST_ROW_INVALID"]
    assert len(invalid) == 1


def test_traces_cover_every_step_once_per_lane(run):
    out, _ = run
    traces = _table(out, "traces")
    assert traces.schema.equals(TRACES, check_metadata=False)
    videos = {r["post_id"]: r for r in _table(out, "videos").to_pylist()}
    df = traces.to_pandas()
    for post in ["talking_head", "silent_face", "no_face"]:
        rows = df[df.post_id == post]
        n_steps = int(np.ceil(videos[post]["duration_s"] / 0.2 - 1e-6))
        steps = np.round(rows.t_s.to_numpy() / 0.2).astype(int)
        assert set(steps) == set(range(n_steps)), post  # no gap, nothing past the end
        assert not rows.duplicated(["track_id", "t_s"]).any(), post
        assert videos[post]["n_steps"] == len(rows)
    head = df[df.post_id == "talking_head"]
    assert (head.track_id.notna() & head.face_present).sum() >= 0.8 * head.t_s.nunique()
    assert df.arousal.between(-1, 1).all() and df.valence.between(-1, 1).all()
    assert df.model_version.str.startswith("real-cc-by-nc-sa-").all()  # the default: the real bundle
    assert (df.run_id == "t1").all()


def test_lineage_in_every_row_and_files_partitioned_by_posted_date(run):
    out, _ = run
    traces, videos = _table(out, "traces").to_pandas(), _table(out, "videos").to_pandas()
    for df in (traces, videos):
        assert (df.pipeline_version == emotrace.__version__).all()
        assert df.config_hash.nunique() == 1 and len(df.config_hash.iloc[0]) == 12
    assert traces.config_hash.iloc[0] == videos.config_hash.iloc[0]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
    # sample posts were posted 2024-05-01..03; the broken and invalid rows share a manifest date / none
    assert "traces/posted_date=2024-05-01/part-t1-00000.parquet" in files
    assert "videos/posted_date=__HIVE_DEFAULT_PARTITION__/part-t1-00000.parquet" in files
    assert all(f.split("/")[1].startswith("posted_date=") for f in files)
    assert not list(out.rglob("*.inprogress"))


def test_attention_follows_modality_presence(run):
    out, _ = run
    df = _table(out, "traces").to_pandas()
    no_face = df[~df.face_present]
    no_audio = df[~df.audio_present]
    silent = df[df.post_id == "silent_face"]
    assert (~silent.audio_present).all() and len(no_face) > 0 and len(no_audio) > len(silent)
    for dim in ("arousal", "valence"):
        face, audio = f"attn_face_{dim}", f"attn_audio_{dim}"
        assert (no_face[face] == 0).all()
        assert (no_audio[audio] == 0).all()  # silent_face, and talking_head's still photo (face only)


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline over one synthetic post whose face talks in time with its voice (datasets/synth.py):
    the sample posts have none (talking_head is a still photo, its voice a voice-over)."""
    work = tmp_path_factory.mktemp("talking")
    (work / "videos").mkdir()
    (work / "labels").mkdir()
    row = write_post(str(work), "synthetic_talker", seed=18, k=0, cfg=SynthConfig(duration_s=8.0))
    (work / "manifest.csv").write_text(f"video_uri,post_id,user_id\n{row['video_uri']},synthetic_talker,u1\n")
    out = work / "out"
    with default_cores():
        analyze.run(["--input", str(work / "manifest.csv"), "--output", str(out), "--run-id", "t2"])
    return out


def test_attention_mixes_both_modalities_where_the_speaking_face_has_the_voice(talking):
    df = _table(talking, "traces").to_pandas()
    both = df[df.face_present & df.audio_present]
    assert len(both) >= 10, len(both)  # the synthetic face gets its voice on most speech steps
    for dim in ("arousal", "valence"):
        face, audio = f"attn_face_{dim}", f"attn_audio_{dim}"
        assert np.allclose(both[face] + both[audio], 1, atol=1e-5)
        assert (both[audio] > 0).all() and (both[face] > 0).all()


def test_duckdb_reads_both_tables_with_hive_partitioning(run):
    out, _ = run
    con = duckdb.connect()
    got = con.execute(
        f"SELECT post_id, count(*) FROM read_parquet('{out}/traces/**/*.parquet', hive_partitioning=true) "
        "GROUP BY post_id ORDER BY post_id"
    ).fetchall()
    assert [p for p, _ in got] == ["no_face", "silent_face", "talking_head"]
    (n,) = con.execute(
        f"SELECT count(*) FROM read_parquet('{out}/videos/**/*.parquet', hive_partitioning=true)"
    ).fetchone()
    assert n == 5


def test_tracks_table_matches_traces_and_marks_one_primary_per_post(run):
    out, _ = run
    tracks = _table(out, "tracks")
    assert tracks.schema.equals(TRACKS, check_metadata=False)
    tr, df = tracks.to_pandas(), _table(out, "traces").to_pandas()
    videos = {r["post_id"]: r for r in _table(out, "videos").to_pylist()}
    for post in ["talking_head", "silent_face"]:
        rows = tr[tr.post_id == post]
        assert len(rows) == videos[post]["n_tracks"] >= 1 and rows.is_primary.sum() == 1, post
    assert (tr.post_id == "no_face").sum() == 0 and (tr.run_id == "t1").all()
    primary = {(r.post_id, r.track_id) for r in tr[tr.is_primary].itertuples()}
    marked = set(df[df.is_primary][["post_id", "track_id"]].itertuples(index=False, name=None))
    assert marked == primary
    for r in tr.itertuples():  # each tracks row summarises exactly its trace rows
        steps = df[(df.post_id == r.post_id) & (df.track_id == r.track_id)]
        assert len(steps) == r.n_steps
        assert (steps.t_s.min(), steps.t_s.max()) == pytest.approx((r.first_s, r.last_s))
        assert steps.face_score.mean() == pytest.approx(r.mean_score, rel=1e-4)
        assert (steps.face_w * steps.face_h).mean() == pytest.approx(r.mean_area, rel=1e-3)
    face_cols = ["face_score", "face_x", "face_y", "face_w", "face_h"]
    faces, no_face = df[df.face_present], df[~df.face_present]
    assert faces[face_cols].notna().all().all() and no_face[face_cols].isna().all().all()
    assert faces.face_x.between(0, 1).all() and (faces.face_x + faces.face_w <= 1 + 1e-6).all()
    assert not no_face.is_primary.any()
