"""The Hive-partitioned Parquet writer on the DirectRunner (pipeline tier, no media)."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from emotrace.schemas.lineage import DEFAULT_PARTITION
from emotrace.schemas.tables import PARTITIONING, TRACKS
from emotrace.transforms.partitioned import WritePartitioned, shard_of


def _row(post: str, track: int, run: str = "r1") -> dict:
    geometry = dict(first_s=0.0, last_s=1.0, n_steps=5, mean_score=0.9, mean_area=0.1)
    lineage = dict(run_id=run, pipeline_version="0", config_hash="h")
    return dict(post_id=post, track_id=track, is_primary=track == 0, **geometry, **lineage)


PAIRS = [
    ("2024-05-02", _row("b", 1)),
    ("2024-05-01", _row("a", 2)),
    ("2024-05-01", _row("a", 0)),
    (DEFAULT_PARTITION, _row("c", 0)),
    ("2024-05-01", _row("d", 0)),
]


def _write(out: Path, shards: int = 1) -> list[str]:
    with BeamPipeline() as p:
        _ = p | beam.Create(PAIRS) | WritePartitioned("tracks", str(out), "r1", shards=shards)
    return sorted(str(f.relative_to(out)) for f in out.rglob("*") if f.is_file())


def test_one_file_per_partition_named_by_run_and_rows_sorted(tmp_path: Path):
    files = _write(tmp_path)
    assert files == [
        "tracks/posted_date=2024-05-01/part-r1-00000.parquet",
        "tracks/posted_date=2024-05-02/part-r1-00000.parquet",
        f"tracks/posted_date={DEFAULT_PARTITION}/part-r1-00000.parquet",
    ]
    day = pq.read_table(tmp_path / files[0])
    assert day.schema.equals(TRACKS, check_metadata=False)
    assert list(zip(day["post_id"].to_pylist(), day["track_id"].to_pylist(), strict=True)) == [
        ("a", 0), ("a", 2), ("d", 0)
    ]  # fmt: skip
    table = ds.dataset(
        str(tmp_path / "tracks"), format="parquet", partitioning=ds.partitioning(PARTITIONING, flavor="hive")
    ).to_table()
    dates = {r["post_id"]: r["posted_date"] for r in table.to_pylist()}
    assert str(dates["a"]) == "2024-05-01" and dates["c"] is None


def test_rewriting_gives_identical_bytes_and_shards_keep_posts_together(tmp_path: Path):
    first = _write(tmp_path / "x")
    again = _write(tmp_path / "y")
    assert first == again
    for f in first:
        assert (tmp_path / "x" / f).read_bytes() == (tmp_path / "y" / f).read_bytes()
    files = _write(tmp_path / "z", shards=4)
    for f in files:
        posts = set(pq.read_table(tmp_path / "z" / f)["post_id"].to_pylist())
        shard = int(f.rsplit("-", 1)[1].split(".")[0])
        assert {shard_of({"post_id": p}, 4) for p in posts} == {shard}
