"""Re-run policy: what an earlier run into the same output folder means for this one.

- a new run (the default) writes files named by its own run id, beside earlier runs';
- ``--skip-existing`` drops inputs that already have an ``ok`` row in ``OUTPUT/videos`` (any run);
- ``--run-id X`` where run X already wrote files is refused, unless ``--force`` (X's files are deleted
  first, so the re-run leaves no duplicate rows) or ``--skip-existing``.
"""

from __future__ import annotations

import posixpath

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from emotrace.schemas.records import VideoRef
from emotrace.transforms.io import match

Key = tuple[str, str]


def _all_files(output: str, table: str) -> list[str]:
    folder = posixpath.join(output.rstrip("/"), table)
    if not FileSystems.exists(folder):  # a first run: matching a missing folder raises in Beam
        return []
    return sorted(match(posixpath.join(folder, "**.parquet")))


def table_files(output: str, table: str) -> list[str]:
    """Finished Parquet files of ``table`` (any partition), without Beam's temporary files."""
    return [f for f in _all_files(output, table) if "/beam-temp-" not in f]


def run_files(output: str, run_id: str, tables: tuple[str, ...]) -> list[str]:
    """Finished files of one run (``part-<run_id>-...``)."""
    prefix = f"part-{run_id}-"
    return [f for t in tables for f in table_files(output, t) if posixpath.basename(f).startswith(prefix)]


def run_temp_files(output: str, run_id: str, tables: tuple[str, ...]) -> list[str]:
    """Temporary files a failed attempt of the run left behind (``beam-temp-part-<run_id>-*/``)."""
    marker = f"/beam-temp-part-{run_id}-"
    return [f for t in tables for f in _all_files(output, t) if marker in f]


def ok_keys(output: str) -> set[Key]:
    """(video_uri, post_id) of every input with an ``ok`` row in OUTPUT/videos."""
    keys: set[Key] = set()
    for uri in table_files(output, "videos"):
        with FileSystems.open(uri, compression_type="uncompressed") as f:
            table = pq.read_table(f, columns=["video_uri", "post_id", "status"])
        for row in table.to_pylist():
            if row["status"] == "ok":
                keys.add((row["video_uri"], row["post_id"]))
    return keys


def drop_done(refs: list[VideoRef], done: set[Key]) -> list[VideoRef]:
    return [r for r in refs if (r.video_uri, r.post_id) not in done]


def delete(files: list[str]) -> None:
    if files:
        FileSystems.delete(files)
