"""5,000,000 trace rows into one partition through the real writer: peak memory does not grow with
the rows (issue 16). The old writer grouped a partition's rows in one worker (a GroupByKey of every
row dict: gigabytes for this many).

Each write runs in a child process (tests/transforms/write_rows_child.py: a Beam pipeline on the
DirectRunner, rows generated in a stage fused with the writer) under tests/peak_rss.py, which reads the
child's own peak RSS. The baseline is the same child writing 10,000 rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.peak_rss import run_measured

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ROWS = 5_000_000


def _write(n: int, root: Path) -> tuple[int, list[list[str]]]:
    """(peak RSS in bytes, the reported files) of writing ``n`` rows in a child process."""
    argv = [sys.executable, "-m", "tests.transforms.write_rows_child", str(n), str(root)]
    run = run_measured(argv, root.with_suffix(".rss.json"), cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.peak_bytes, json.loads(run.stdout.strip().splitlines()[-1])


def test_five_million_rows_in_one_partition_stay_under_a_gigabyte_above_baseline(tmp_path: Path):
    base_rss, _ = _write(10_000, tmp_path / "base")
    rss, files = _write(ROWS, tmp_path / "big")
    assert {partition for _, partition, _ in files} == {"2024-05-01"}
    metas = [pq.ParquetFile(uri).metadata for _, _, uri in files]
    assert sum(m.num_rows for m in metas) == ROWS
    assert sum(m.num_row_groups for m in metas) > 1  # streamed as row groups, not one table at the end
    print(f"peak RSS {base_rss >> 20} MB for 10,000 rows, {rss >> 20} MB for {ROWS:,}")
    assert rss - base_rss < 1 << 30, (base_rss, rss)
