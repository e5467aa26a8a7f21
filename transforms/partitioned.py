"""Hive-partitioned Parquet writer, streaming: ``ROOT/<table>/posted_date=X/staged-<token>.parquet``.

``ROOT`` is the run's staging folder (``schemas.naming``). Rows are never grouped: each worker bundle
streams the rows it receives into one open file per partition value, as Parquet row groups, so memory
holds at most :data:`ROW_GROUP_BYTES` of rows across the bundle's files (plus one small batch of row
dicts per file), however many rows a partition gets. A file is closed once it passes
:data:`FILE_BYTES`, and the partition's next rows start another; past :data:`OPEN_FILES` partitions in
one bundle, the least recently written file is closed.

Each file has a name no other file has (a random token). The writer reports a file (``StagedFile``, from
``process``, when it opens it) on its one output; a bundle's outputs count only when the bundle
succeeds, and its files are closed (footer written) before it does, so the commit stage sees exactly the
complete files of successful bundles. A failed or retried bundle's files are never reported: they stay
in the staging folder, unpublished, and go with it. The commit stage names the files it publishes
``part-<run_id>-<shard>.parquet`` (``transforms/publish.py``). Rows within a file are in arrival order,
not sorted.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from emotrace.schemas.lineage import posted_date
from emotrace.schemas.naming import staged_part_path
from emotrace.schemas.records import PartitionRow, StagedFile, TraceStep, WindowPrediction
from emotrace.schemas.rows import Row, trace_steps
from emotrace.schemas.tables import TABLES, checked_batch
from emotrace.transforms.faults import FaultPlan
from emotrace.transforms.io import beam_path

ROW_BATCH = 4096  # row dicts held per open file before they become one Arrow record batch
ROW_GROUP_BYTES = 64 << 20  # Arrow bytes buffered over a bundle's open files before a row group is written
FILE_BYTES = 512 << 20  # bytes after which a file is closed (the partition's next rows go to a new one)
OPEN_FILES = 16  # open files per bundle at most: the least recently written one is closed past that


def keyed_trace_steps(pred: WindowPrediction, run_id: str, config_hash: str) -> list[PartitionRow]:
    """Trace steps keyed by their post's date: the partition comes from the ref, not from a data column."""
    partition = posted_date(pred.window.ref.posted_at)
    return [PartitionRow(partition, step) for step in trace_steps(pred, run_id, config_hash)]


def keyed_by_posted_at(row: Row) -> PartitionRow:
    """A videos row keyed by its post's date."""
    return PartitionRow(posted_date(row.get("posted_at")), row)


class _Counted:
    """A binary stream that counts the bytes written to it (FileSystems streams may not ``tell``)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.n = 0
        self.closed = False
        self.discarding = False

    def write(self, data: bytes) -> int:
        if not self.discarding:
            self._raw.write(data)
            self.n += len(data)
        return len(data)

    def discard(self) -> None:
        """Close the stream; whatever is written later (the writer's footer, when it is collected) is
        dropped, so an abandoned writer never raises from its finaliser."""
        self.discarding = True
        self.close()

    def tell(self) -> int:
        return self.n

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._raw.close()


class PartFile:
    """One Parquet file being written: rows in, row groups out, bounded memory."""

    def __init__(self, uri: str, schema: pa.Schema) -> None:
        self.uri = uri
        self._schema = schema
        self._stream = _Counted(FileSystems.create(beam_path(uri)))
        self._writer = pq.ParquetWriter(self._stream, schema, compression="snappy")
        self._rows: list[Row] = []
        self._batches: list[pa.RecordBatch] = []
        self.pending_bytes = 0  # Arrow bytes not yet written as a row group

    def add(self, row: Row | TraceStep) -> bool:
        """Buffer ``row``; True when the buffered rows just became a record batch (pending grew)."""
        self._rows.append(row.as_row() if isinstance(row, TraceStep) else row)  # typed until here
        if len(self._rows) < ROW_BATCH:
            return False
        self._to_batch()
        return True

    def _to_batch(self) -> None:
        if self._rows:
            batch = checked_batch(self._rows, self._schema)  # exact keys, no null where none may be
            self._batches.append(batch)
            self.pending_bytes += batch.nbytes
            self._rows = []

    def flush(self) -> None:
        """Write everything buffered as one row group."""
        self._to_batch()
        if self._batches:
            table = pa.Table.from_batches(self._batches, schema=self._schema)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
            self._batches, self.pending_bytes = [], 0

    @property
    def bytes_written(self) -> int:
        return self._stream.n

    def close(self) -> None:
        """Flush, write the footer, close the stream: the file is complete."""
        self.flush()
        self._writer.close()
        self._stream.close()

    def abort(self) -> None:
        """A failed bundle: close the stream without a footer (the file is never reported)."""
        with contextlib.suppress(Exception):  # the bundle failed already; a second error would hide it
            self._stream.discard()


class StreamParquet(beam.DoFn):
    """``PartitionRow`` -> rows streamed into Parquet files of ``table`` under ``root``; yields a
    ``StagedFile`` for each file it opens (see the module docstring)."""

    def __init__(self, table: str, root: str, faults: FaultPlan | None = None) -> None:
        self._table, self._root, self._faults = table, root, faults
        self._files_written = beam.metrics.Metrics.counter("emotrace", f"{table}_files_written")

    def start_bundle(self) -> None:
        self._open: OrderedDict[str, PartFile] = OrderedDict()  # partition -> file, least recent first

    def process(self, pair: PartitionRow) -> Iterator[StagedFile]:
        partition, row = pair
        part = self._open.get(partition)
        if part is None:
            uri = staged_part_path(self._root, self._table, partition, uuid.uuid4().hex)
            part = self._open[partition] = PartFile(uri, TABLES[self._table])
            yield StagedFile(self._table, partition, uri)
        self._open.move_to_end(partition)
        if part.add(row):
            self._bound_memory()
        if part.bytes_written >= FILE_BYTES:
            self._close(partition)
        if len(self._open) > OPEN_FILES:
            self._close(next(iter(self._open)))

    def _bound_memory(self) -> None:
        """Past ROW_GROUP_BYTES buffered over the open files, the largest buffer becomes a row group."""
        if sum(f.pending_bytes for f in self._open.values()) >= ROW_GROUP_BYTES:
            max(self._open.values(), key=lambda f: f.pending_bytes).flush()

    def _close(self, partition: str) -> None:
        self._open.pop(partition).close()
        self._files_written.inc()
        if self._faults is not None:  # tests only: a file of this table is complete in staging
            self._faults.hit(f"file:{self._table}")

    def finish_bundle(self) -> None:
        while self._open:  # outputs here would be lost on some runners (Dask): nothing is emitted
            self._close(next(iter(self._open)))

    def teardown(self) -> None:
        for part in getattr(self, "_open", {}).values():  # a bundle that failed midway
            part.abort()


class WritePartitioned(beam.PTransform):
    """``PartitionRow`` elements -> Parquet files of ``table`` in the staging folder ``root``; emits a
    ``StagedFile`` per file (see the module docstring)."""

    def __init__(self, table: str, root: str, faults: FaultPlan | None = None) -> None:
        super().__init__()
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        self._table, self._root = table, root
        self._faults = faults  # tests only (transforms/faults.py)

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | "Stream" >> beam.ParDo(StreamParquet(self._table, self._root, self._faults))
