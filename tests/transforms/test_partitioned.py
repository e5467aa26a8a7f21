"""The streaming Hive-partitioned Parquet writer (pipeline tier, no media): files per partition under
unique staged names, reported from ``process``, row groups and roll-over bounded by size, and a failed
bundle's files never reported."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline

from emotrace.schemas import naming
from emotrace.schemas.lineage import DEFAULT_PARTITION
from emotrace.schemas.records import PartitionRow, StagedFile
from emotrace.schemas.tables import TRACKS
from emotrace.transforms import partitioned
from emotrace.transforms.partitioned import PartFile, StreamParquet, WritePartitioned


def _row(post: str, track: int, run: str = "r1") -> dict:
    geometry = dict(first_s=0.0, last_s=1.0, n_steps=5, mean_score=0.9, mean_area=0.1)
    lineage = dict(run_id=run, pipeline_version="0", config_hash="h")
    return dict(post_id=post, track_id=track, is_primary=track == 0, **geometry, **lineage)


PAIRS = [
    PartitionRow("2024-05-02", _row("b", 1)),
    PartitionRow("2024-05-01", _row("a", 2)),
    PartitionRow("2024-05-01", _row("a", 0)),
    PartitionRow(DEFAULT_PARTITION, _row("c", 0)),
    PartitionRow("2024-05-01", _row("d", 0)),
]


def _save(staged: list[StagedFile], path: str) -> None:
    Path(path).write_text(json.dumps([list(f) for f in staged]))


def _write(out: Path, pairs: list[PartitionRow]) -> list[StagedFile]:
    """Run the writer; the StagedFile elements it emitted (kept in a file: DoFns run on copies)."""
    reports = str(out.parent / f"{out.name}-reports.json")
    with BeamPipeline() as p:
        staged = p | beam.Create(pairs) | WritePartitioned("tracks", str(out))
        _ = staged | beam.combiners.ToList() | beam.Map(_save, reports)
    return sorted(StagedFile(*f) for f in json.loads(Path(reports).read_text()))


def test_every_row_lands_once_in_its_partition_under_a_staged_name(tmp_path: Path):
    reported = _write(tmp_path, PAIRS)
    on_disk = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert sorted(f.uri for f in reported) == on_disk  # every file written is reported, nothing else
    assert {f.partition for f in reported} == {"2024-05-01", "2024-05-02", DEFAULT_PARTITION}
    for f in reported:
        assert naming.is_staged_part(f.uri) and naming.run_of_file(f.uri) is None  # never a published name
        assert f"/tracks/posted_date={f.partition}/" in f.uri
        assert pq.read_schema(f.uri).equals(TRACKS, check_metadata=False)
    table = ds.dataset(on_disk, format="parquet", partitioning=None).to_table()
    assert sorted(zip(table["post_id"].to_pylist(), table["track_id"].to_pylist(), strict=True)) == [
        ("a", 0), ("a", 2), ("b", 1), ("c", 0), ("d", 0)
    ]  # fmt: skip
    hive = ds.dataset(str(tmp_path / "tracks"), format="parquet", partitioning="hive").to_table()
    dates = {r["post_id"]: r["posted_date"] for r in hive.to_pylist()}
    assert str(dates["a"]) == "2024-05-01" and dates["c"] is None


def test_row_groups_and_files_are_bounded_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Small limits: rows become row groups as they come, files roll over, all rows kept in order."""
    monkeypatch.setattr(partitioned, "ROW_BATCH", 100)
    monkeypatch.setattr(partitioned, "ROW_GROUP_BYTES", 1)  # every record batch is written out at once
    monkeypatch.setattr(partitioned, "FILE_BYTES", 8_000)
    n = 3_000
    pairs = [PartitionRow("2024-05-01", _row(f"p{i:05d}", i)) for i in range(n)]
    reported = _write(tmp_path, pairs)
    assert len(reported) > 2, "no roll-over"
    rows, groups = [], 0
    for f in reported:
        meta = pq.ParquetFile(f.uri).metadata
        groups += meta.num_row_groups
        rows += pq.read_table(f.uri)["post_id"].to_pylist()
    assert sorted(rows) == [f"p{i:05d}" for i in range(n)]
    assert groups >= n // 100  # one row group per batch of 100 rows


def test_a_file_is_reported_when_opened_and_complete_when_the_bundle_ends(tmp_path: Path):
    """The DoFn alone: the report comes from process() (finish_bundle emits nothing: some runners drop
    its outputs), the footer is written in finish_bundle, and a bundle that fails leaves its file
    unreported and unfinished."""
    fn = StreamParquet("tracks", str(tmp_path))
    fn.start_bundle()
    out = list(fn.process(PAIRS[0])) + list(fn.process(PartitionRow("2024-05-02", _row("e", 0))))
    assert len(out) == 1 and isinstance(out[0], StagedFile)  # one file per partition per bundle
    assert fn.finish_bundle() is None
    assert pq.read_table(out[0].uri).num_rows == 2
    failed = StreamParquet("tracks", str(tmp_path / "failed"))
    failed.start_bundle()
    (stray,) = list(failed.process(PAIRS[0]))
    failed.teardown()  # the bundle died before finish_bundle: no footer, and its report is discarded
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's error for a file without a footer)
        pq.read_table(stray.uri)


def test_memory_is_bounded_over_open_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Past ROW_GROUP_BYTES buffered over a bundle's files, the largest buffer is written out; past
    OPEN_FILES partitions, the least recently written file is closed (and reported again if reopened)."""
    monkeypatch.setattr(partitioned, "ROW_BATCH", 10)
    monkeypatch.setattr(partitioned, "OPEN_FILES", 2)
    fn = StreamParquet("tracks", str(tmp_path))
    fn.start_bundle()
    opened = []
    for day in ["2024-05-01", "2024-05-02", "2024-05-03", "2024-05-01"]:
        for i in range(25):
            opened += list(fn.process(PartitionRow(day, _row(f"{day}-{i}", i))))
        assert len(fn._open) <= 2
        assert sum(f.pending_bytes for f in fn._open.values()) < partitioned.ROW_GROUP_BYTES
    fn.finish_bundle()
    assert [f.partition for f in opened] == ["2024-05-01", "2024-05-02", "2024-05-03", "2024-05-01"]
    assert sum(pq.read_table(f.uri).num_rows for f in opened) == 100


def test_a_part_file_counts_its_bytes(tmp_path: Path):
    part = PartFile(str(tmp_path / "x.parquet"), TRACKS)
    for i in range(10):
        part.add(_row("a", i))
    part.close()
    assert part.bytes_written == (tmp_path / "x.parquet").stat().st_size > 0
