"""Hive-partitioned Parquet writer: ``ROOT/<table>/posted_date=X/part-<run_id>-SSSSS.parquet``.

``ROOT`` is the run's staging folder (``schemas.naming``): the launcher publishes the files into the
output folder once the whole run has written them (``transforms/publish.py``).

``WriteToParquet`` cannot write one folder per partition value, so rows are keyed by (partition,
shard), grouped, and each group becomes one file written with pyarrow through Beam ``FileSystems``
(local, gs://, ...). File names depend only on the run, the partition and the shard, and rows are
sorted inside each file, so a retried bundle rewrites the same file with the same bytes, and a
scheduled job can find "what run R wrote for day D" by name.
"""

from __future__ import annotations

import posixpath
import uuid
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from emotrace.schemas.lineage import posted_date
from emotrace.schemas.naming import part_path
from emotrace.schemas.records import WindowPrediction
from emotrace.schemas.rows import Row, trace_rows
from emotrace.schemas.tables import TABLES
from emotrace.transforms.faults import FaultPlan

GroupKey = tuple[str, int]  # (partition value, shard)


def shard_of(row: Row, shards: int) -> int:
    """Stable across processes (unlike ``hash``): one post's rows always share a file."""
    return zlib.crc32(str(row.get("post_id", "")).encode("utf-8")) % shards


def row_order(columns: list[str]) -> Callable[[Row], tuple[Any, ...]]:
    """Sort key over all columns in schema order; nulls first, so no None is ever compared."""

    def key(row: Row) -> tuple[Any, ...]:
        return tuple((row.get(c) is not None, row.get(c) if row.get(c) is not None else 0) for c in columns)

    return key


def keyed_trace_rows(pred: WindowPrediction, run_id: str, config_hash: str) -> list[tuple[str, Row]]:
    """Trace rows keyed by their post's date: the partition comes from the ref, not from a data column."""
    partition = posted_date(pred.window.ref.posted_at)
    return [(partition, row) for row in trace_rows(pred, run_id, config_hash)]


def keyed_by_posted_at(row: Row) -> tuple[str, Row]:
    """A videos row keyed by its post's date."""
    return posted_date(row.get("posted_at")), row


def write_group(path: str, rows: Iterable[Row], schema: pa.Schema) -> str:
    """Write one file: to a hidden temporary name first, then renamed, so readers never see half a file."""
    ordered = sorted(rows, key=row_order(schema.names))
    table = pa.Table.from_pylist(ordered, schema=schema)
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex}.inprogress")  # ignored by every reader
    with FileSystems.create(tmp) as f:
        pq.write_table(table, f, compression="snappy")
    FileSystems.rename([tmp], [path])
    return path


class WritePartitioned(beam.PTransform):
    """``(partition value, row)`` pairs -> one Parquet file per (partition, shard); emits the paths.

    ``shards`` files per partition value at most (default 1: a day of a run is one file); raise it when
    a day's rows no longer fit one worker's write comfortably.
    """

    def __init__(
        self, table: str, root: str, run_id: str, shards: int = 1, faults: FaultPlan | None = None
    ) -> None:
        super().__init__()
        if shards < 1:
            raise ValueError(f"shards must be >= 1, got {shards}")
        self._table, self._root, self._run_id, self._shards = table, root, run_id, shards
        self._faults = faults  # tests only (transforms/faults.py)

    def expand(self, pairs: beam.PCollection) -> beam.PCollection:
        schema, shards, faults = TABLES[self._table], self._shards, self._faults
        table, root, run_id = self._table, self._root, self._run_id  # closures pickle these only
        counter = beam.metrics.Metrics.counter("emotrace", f"{self._table}_files_written")

        def key(pair: tuple[str, Row]) -> tuple[GroupKey, Row]:
            partition, row = pair
            return (partition, shard_of(row, shards)), row

        def write(group: tuple[GroupKey, Iterable[Row]]) -> str:
            (partition, shard), rows = group
            path = part_path(root, table, partition, run_id, shard)
            counter.inc()
            written = write_group(path, rows, schema)
            if faults is not None:
                faults.hit(f"file:{table}")
            return written

        return pairs | "Key" >> beam.Map(key) | "Group" >> beam.GroupByKey() | "Write" >> beam.Map(write)
