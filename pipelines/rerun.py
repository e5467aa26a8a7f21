"""Re-run policy: what earlier runs into the same output folder mean for this one.

- every run first finishes what an interrupted launcher left (``publish.recover``);
- a new run (the default) writes files named by its own run id, beside earlier runs';
- ``--skip-existing`` drops inputs that already have an ``ok`` row in a committed run's ``videos``;
- ``--run-id X`` where X is committed, or has an unfinished attempt staged, is refused unless
  ``--force`` (X is retracted first, so the re-run leaves no duplicate rows) or, for an attempt that
  never committed, ``--skip-existing`` (the attempt is discarded). A committed run id is never extended
  by ``--skip-existing``: that run's rows stay exactly what its commit said (use a new run id).
"""

from __future__ import annotations

import pyarrow.parquet as pq

from emotrace.datasets.inputs import InputEntry
from emotrace.pipelines import publish
from emotrace.pipelines.options import UsageError
from emotrace.schemas.uris import canonical_uri
from emotrace.transforms import io as fs
from emotrace.transforms.faults import FaultPlan
from emotrace.transforms.outcomes import Key, key_of

__all__ = ["Key", "drop_done", "ok_keys", "prepare"]


def prepare(
    output: str, run_id: str, force: bool, skip_existing: bool, faults: FaultPlan | None = None
) -> None:
    """Make ``output`` ready for run ``run_id`` under the flags, or refuse (UsageError, exit 2)."""
    publish.recover(output)
    committed = run_id in publish.committed_runs(output)
    staged = publish.is_staged(output, run_id)
    if not (committed or staged):
        return
    if force:
        publish.retract(output, run_id, faults)
        return
    if skip_existing and not committed:
        publish.drop_staging(output, run_id)  # an attempt that never committed
        return
    state = "is committed" if committed else "has an unfinished attempt staged"
    advice = "a new --run-id (or none)" if skip_existing else "--force to replace it, or a new --run-id"
    raise UsageError(f"argument --run-id: run {run_id} {state} under {output}: use {advice}")


def ok_keys(output: str) -> set[Key]:
    """(canonical video_uri, post_id) of every input with an ``ok`` row in a committed run. Rows written
    before URIs were canonical are read in canonical form too (relative ones against this directory)."""
    keys: set[Key] = set()
    for uri in publish.committed_files(output, "videos"):
        with fs.open_binary(uri) as f:
            table = pq.read_table(f, columns=["video_uri", "post_id", "status"])
        for row in table.to_pylist():
            if row["status"] == "ok":
                keys.add((canonical_uri(row["video_uri"]), row["post_id"]))
    return keys


def drop_done(entries: list[InputEntry], done: set[Key]) -> list[InputEntry]:
    return [e for e in entries if key_of(e.item) not in done]  # type: ignore[arg-type]
