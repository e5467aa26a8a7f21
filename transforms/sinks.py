"""Parquet writers: one per table, schemas from ``emotrace.schemas.tables`` only."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.parquetio import WriteToParquet

from emotrace.schemas.naming import sink_prefix
from emotrace.schemas.tables import TABLES, check_row


class WriteTable(beam.PTransform):
    """Row dicts -> ``DIR/<table>/part-<run_id>-SSSSS-of-NNNNN.parquet`` (snappy: every reader has it)."""

    def __init__(self, table: str, output_dir: str, run_id: str) -> None:
        super().__init__()
        self._table = table
        self._prefix = sink_prefix(output_dir, table, run_id)  # runs never collide

    def expand(self, rows: beam.PCollection) -> beam.PCollection:
        schema = TABLES[self._table]
        return (
            rows
            | "CheckRows" >> beam.Map(_checked, schema)
            | WriteToParquet(
                self._prefix,
                schema=schema,
                codec="snappy",
                file_name_suffix=".parquet",
            )
        )


def _checked(row: dict, schema: pa.Schema) -> dict:
    check_row(row, schema)  # WriteToParquet, like Arrow, would drop an unknown key and null a missing one
    return row
