"""Reading a run's Parquet back (the summary, ``--skip-existing``, a run's own tables) never makes the
process abort at exit.

pyarrow's ``read_table`` over a Python file object with its thread pool leaves I/O clean-up running after
it returns; at interpreter exit it aborts the process with "terminate called without an active exception"
(exit 134) after everything was written (apache/arrow#33975): 8 of 10 fresh interpreters here for a bare
read, 6 of 12 for one that printed a run's summary. ``transforms.io.read_parquet`` reads on the calling
thread. The ``emotrace`` command ends with ``os._exit`` and never showed it, but a scheduler that calls
``analyze.run`` from Python (an Airflow task, a notebook) exits through the interpreter's teardown.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHILD = textwrap.dedent(
    """
    import sys
    from emotrace.transforms.io import read_parquet
    table = read_parquet(sys.argv[1], ["post_id", "status"])
    assert table.num_rows == 500, table.num_rows
    print("read", table.num_rows)
    """
)


def test_a_process_that_read_a_run_table_exits_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "part-run-00000.parquet"
    n = 500
    pq.write_table(
        pa.table(
            {
                "post_id": [f"p{i}" for i in range(n)],
                "status": ["ok" if i % 7 else "failed" for i in range(n)],
                "error_message": ["" if i % 7 else "x" * 40 for i in range(n)],
            }
        ),
        path,
        row_group_size=100,
    )
    codes = []
    for _ in range(8):  # with the thread pool: ~50-80 % of exits abort, so 8 clean ones would be luck
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120
        )
        assert "read 500" in out.stdout, out.stderr[-2000:]
        codes.append((out.returncode, out.stderr.strip().splitlines()[-1:] if out.returncode else []))
    assert all(code == 0 for code, _ in codes), codes
