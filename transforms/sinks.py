"""Parquet writers: one per table, schemas from ``emotrace.schemas.tables`` only."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.io.parquetio import WriteToParquet

from emotrace.schemas.naming import sink_prefix
from emotrace.schemas.tables import TABLES


class WriteTable(beam.PTransform):
    """Row dicts -> ``DIR/<table>/part-<run_id>-SSSSS-of-NNNNN.parquet`` (snappy: every reader has it)."""

    def __init__(self, table: str, output_dir: str, run_id: str) -> None:
        super().__init__()
        self._table = table
        self._prefix = sink_prefix(output_dir, table, run_id)  # runs never collide

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        return rows | WriteToParquet(
            self._prefix,
            schema=TABLES[self._table],
            codec="snappy",
            file_name_suffix=".parquet",
        )
