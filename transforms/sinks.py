"""Parquet writers: one per table, schemas from ``emotrace.schemas.tables`` only."""

from __future__ import annotations

import posixpath

import apache_beam as beam
from apache_beam.io.parquetio import WriteToParquet

from emotrace.schemas.tables import TABLES


def table_prefix(output_dir: str, table: str, run_id: str) -> str:
    """``DIR/<table>/part-<run_id>``: a run's files are named by the run, so runs never collide."""
    return posixpath.join(output_dir.rstrip("/"), table, f"part-{run_id}")


class WriteTable(beam.PTransform):
    """Row dicts -> ``DIR/<table>/part-<run_id>-SSSSS-of-NNNNN.parquet`` (snappy: every reader has it)."""

    def __init__(self, table: str, output_dir: str, run_id: str) -> None:
        super().__init__()
        self._table = table
        self._prefix = table_prefix(output_dir, table, run_id)

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | WriteToParquet(
            self._prefix,
            schema=TABLES[self._table],
            codec="snappy",
            file_name_suffix=".parquet",
        )
