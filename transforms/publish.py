"""Run-level atomicity: a run's files become visible together, or not at all (docs/reliability.md).

A run writes every file into its staging folder ``DIR/_staging/<run_id>/`` (``schemas/naming.py``),
which no reader of ``DIR/<table>/`` sees. The pipeline's last stage (:class:`CommitRun`, after every
file is written, so it also runs where no launcher waits for the job, as with a Dataflow flex template)
checks that the run's ``videos`` rows reconcile with its inputs and publishes:

1. it writes the intent ``_staging/<run_id>/_publish.json``: every staged file, and the marker to write;
2. it renames each staged file to the same relative path under ``DIR``;
3. it writes the commit marker ``DIR/_runs/<run_id>.json``; the run counts from this moment;
4. it deletes the staging folder.

Renames across files are not atomic (on gs:// a rename is a copy and a delete), so the marker is the
commit: readers count only files of runs that have a marker (our readers: :func:`committed_files`;
analysts: the rule in docs/reliability.md). A publication cut short (a killed job, a lost machine) is
finished by the next run into the same folder, with any flag (:func:`recover`), or by a retry of the
stage: the intent says what is left; every step is idempotent, so two finishing it at once are harmless.
``--force`` on a committed run retracts it the same way: ``_retract.json`` lists its files, the marker
goes first (the run stops counting at once), then the files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from emotrace.schemas import naming
from emotrace.schemas.lineage import PIPELINE_VERSION
from emotrace.transforms import io as fs
from emotrace.transforms.faults import FaultPlan

log = logging.getLogger("emotrace")
FORMAT = 1


def _parquet_below(root: str, table: str) -> list[str]:
    return sorted(fs.match(naming.join(root, table, "**.parquet")))


def run_files(root: str, run_id: str | None = None) -> list[str]:
    """Our Parquet files under ``root`` (an output or a staging folder), by exact name; one run's with
    ``run_id``. Temporary and foreign files never match."""
    out = []
    for table in naming.RUN_TABLES:  # not the aggregate tables: `emotrace aggregate` writes those itself
        for uri in _parquet_below(root, table):
            owner = naming.run_of_file(uri)
            if owner is not None and (run_id is None or owner == run_id):
                out.append(uri)
    return out


def committed_runs(output: str) -> set[str]:
    """Run ids with a commit marker in ``DIR/_runs``."""
    runs = (naming.run_of_marker(u) for u in fs.match(naming.join(naming.runs_dir(output), "*.json")))
    return {r for r in runs if r is not None}


def committed_files(output: str, table: str) -> list[str]:
    """The files of ``table`` that readers count: those of committed runs only. A folder written before
    commit markers existed (no ``_runs``, no ``_staging``) counts as it did then: every run in it."""
    committed = committed_runs(output)
    files = _parquet_below(output, table)
    if not committed and _is_legacy(output):
        return [u for u in files if naming.run_of_file(u) is not None]
    return [u for u in files if naming.run_of_file(u) in committed]


def read_run_table(root: str, table: str, run_id: str) -> pa.Table:
    """Every file run ``run_id`` wrote for ``table`` under ``root`` (its staging folder, or the output
    folder once committed), in any ``posted_date=`` partition folder, matched by exact file name."""
    tables = []
    for uri in _parquet_below(root, table):
        if naming.run_of_file(uri) == run_id:
            with fs.open_binary(uri) as f:
                tables.append(pq.read_table(f))
    return pa.concat_tables(tables) if tables else pa.table({})


def publish(output: str, run_id: str, marker: dict[str, Any], faults: FaultPlan | None = None) -> None:
    """Publish the staged files of ``run_id`` and commit it. Safe to repeat (a retried stage): a
    committed run is left as it is, a publication under way is finished from its intent."""
    if fs.exists(naming.marker_path(output, run_id)):
        return
    intent = naming.intent_path(output, run_id)
    if fs.exists(intent):
        _finish(output, run_id, fs.read_json(intent)["marker"], faults)
        return
    staging = naming.staging_dir(output, run_id)
    files = [naming.relative_to(staging, u) for u in run_files(staging, run_id)]
    payload = {
        **marker,
        "format": FORMAT,
        "run_id": run_id,
        "pipeline_version": PIPELINE_VERSION,
        "files": files,
    }
    fs.write_json(intent, {"marker": payload})
    _finish(output, run_id, payload, faults)


def _finish(output: str, run_id: str, payload: dict[str, Any], faults: FaultPlan | None) -> None:
    """Steps 2-4 of the publication; safe to repeat, and to run twice at once."""
    staging = naming.staging_dir(output, run_id)
    for rel in payload["files"]:
        src, dst = naming.join(staging, rel), naming.join(output, rel)
        if fs.exists(src):
            try:
                fs.rename(src, dst)
            except Exception:  # another launcher finishing the same publication got there first
                if fs.exists(src) or not fs.exists(dst):
                    raise
        elif not fs.exists(dst):
            _roll_back(output, run_id, payload, rel)
            return
        if faults is not None:
            faults.hit("publish")
    fs.write_json(naming.marker_path(output, run_id), {**payload, "committed_at": _now()})
    drop_staging(output, run_id)


def _roll_back(output: str, run_id: str, payload: dict[str, Any], missing: str) -> None:
    """A staged file vanished before it was published (deleted by hand?): the run cannot be complete,
    so what of it was published is taken back and it stays uncommitted."""
    log.error("run %s cannot be published (%s is gone): rolling it back; re-run its inputs", run_id, missing)
    published = [naming.join(output, f) for f in payload["files"]]
    fs.delete([u for u in published if fs.exists(u)])
    drop_staging(output, run_id)


def retract(output: str, run_id: str, faults: FaultPlan | None = None) -> int:
    """``--force`` on ``run_id``: its marker, files and staging folder go; returns the files deleted."""
    files = [naming.relative_to(output.rstrip("/"), u) for u in run_files(output, run_id)]
    fs.write_json(naming.retraction_path(output, run_id), {"run_id": run_id, "files": files})
    return _finish_retraction(output, run_id, files, faults)


def _finish_retraction(output: str, run_id: str, files: list[str], faults: FaultPlan | None) -> int:
    marker = naming.marker_path(output, run_id)
    if fs.exists(marker):
        fs.delete([marker])  # first: from here on the run does not count
    deleted = 0
    for rel in files:
        uri = naming.join(output, rel)
        if fs.exists(uri):
            fs.delete([uri])
            deleted += 1
        if faults is not None:
            faults.hit("retract")
    drop_staging(output, run_id)
    return deleted


def recover(output: str) -> list[str]:
    """Finish what an interrupted launcher left: retractions, then publications; adopt the files of a
    folder written before commit markers existed. Returns what was done, one line each."""
    done = []
    for uri in fs.match(naming.join(output, naming.STAGING, "*", naming.RETRACTION)):
        record = fs.read_json(uri)
        _finish_retraction(output, record["run_id"], record["files"], None)
        done.append(f"finished retracting run {record['run_id']}")
    for uri in fs.match(naming.join(output, naming.STAGING, "*", naming.INTENT)):
        payload = fs.read_json(uri)["marker"]
        run_id = payload["run_id"]
        if fs.exists(naming.marker_path(output, run_id)):
            drop_staging(output, run_id)
        else:
            _finish(output, run_id, payload, None)
            done.append(f"finished publishing run {run_id}")
    done += _adopt_legacy(output)
    for line in done:
        log.warning("%s: %s", output, line)
    for run_id in sorted(staged_runs(output) - committed_runs(output)):
        log.warning(
            "%s: run %s left an unfinished attempt in %s (never published, so no reader sees it): a run "
            "with --run-id %s and --force or --skip-existing discards it, or delete that folder",
            output,
            run_id,
            naming.staging_dir(output, run_id),
            run_id,
        )
    return done


def _adopt_legacy(output: str) -> list[str]:
    """A folder written before commit markers (no ``_runs``, no ``_staging``) keeps what it had: every
    run found in it gets a marker, once. Never applies after the first run of this version."""
    if not _is_legacy(output):
        return []
    by_run: dict[str, list[str]] = {}
    for uri in run_files(output):
        by_run.setdefault(naming.run_of_file(uri) or "", []).append(
            naming.relative_to(output.rstrip("/"), uri)
        )
    for run_id, files in sorted(by_run.items()):
        payload = {"format": FORMAT, "run_id": run_id, "files": files, "legacy": True, "committed_at": _now()}
        fs.write_json(naming.marker_path(output, run_id), payload)
    return [f"adopted run {r}, written before commit markers" for r in sorted(by_run)]


def drop_staging(output: str, run_id: str) -> None:
    """Delete the staging folder of ``run_id`` (published, or an attempt that never committed)."""
    fs.remove_tree(naming.staging_dir(output, run_id))
    fs.remove_if_empty(naming.join(output, naming.STAGING))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_legacy(output: str) -> bool:
    """No commit marker and no staging folder: written before this version, or never written."""
    return not (_has_files(naming.runs_dir(output)) or _has_files(naming.join(output, naming.STAGING)))


def _has_files(folder: str) -> bool:
    return bool(fs.match(naming.join(folder, "**")))


def staged_runs(output: str) -> set[str]:
    """Run ids with files in a staging folder."""
    root = naming.join(output, naming.STAGING)
    names = {naming.relative_to(root, u).split("/", 1)[0] for u in fs.match(naming.join(root, "**"))}
    return {n for n in names if naming.is_valid_run_id(n)}


# -- the pipeline's last stage ---------------------------------------------------------------------------


class UnreconciledRun(RuntimeError):
    """The run's videos rows do not match its inputs: nothing is published (a bug, never bad input)."""


def staged_marker(output: str, run_id: str, n_inputs: int) -> dict[str, Any]:
    """What the commit marker records, read from the staged files; UnreconciledRun unless every input
    has exactly one videos row."""
    staging = naming.staging_dir(output, run_id)
    videos = read_run_table(staging, "videos", run_id)
    by_status: dict[str, int] = {}
    for status in videos.column("status").to_pylist() if videos.num_rows else []:
        by_status[status] = by_status.get(status, 0) + 1
    if videos.num_rows != n_inputs:
        raise UnreconciledRun(
            f"run {run_id}: {n_inputs} inputs but {videos.num_rows} videos rows {by_status}; nothing was "
            f"published (the run's files stay in {staging})"
        )
    rows = {t: read_run_table(staging, t, run_id).num_rows for t in naming.RUN_TABLES if t != "videos"}
    return {"inputs": n_inputs, "by_status": by_status, "rows": {"videos": videos.num_rows, **rows}}


def commit_run(
    written: Iterable[str], output: str, run_id: str, n_inputs: int, faults: FaultPlan | None
) -> str:
    """Reconcile and publish run ``run_id`` once every file is written (``written``: their paths)."""
    if not fs.exists(naming.marker_path(output, run_id)) and not fs.exists(
        naming.intent_path(output, run_id)
    ):
        marker = staged_marker(output, run_id, n_inputs)
    else:  # a retried stage: the publication is under way or done
        marker = {}
    publish(output, run_id, marker, faults)
    log.info("run %s committed: %d files written", run_id, len(list(written)))
    return run_id


class CommitRun(beam.PTransform):
    """The paths every writer emits -> the run committed, once all of them are written (the combine
    waits for every file); emits the run id."""

    def __init__(self, output: str, run_id: str, n_inputs: int, faults: FaultPlan | None = None) -> None:
        super().__init__()
        self._args = (output, run_id, n_inputs, faults)

    def expand(self, written: beam.PCollection) -> beam.PCollection:
        output, run_id, n_inputs, faults = self._args  # the closure pickles these, not the transform
        return (
            written
            | "AllWritten" >> beam.combiners.ToList()
            | "Commit" >> beam.Map(commit_run, output, run_id, n_inputs, faults)
        )
