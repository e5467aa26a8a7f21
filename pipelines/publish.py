"""Run-level atomicity: a run's files become visible together, or not at all (docs/reliability.md).

A run writes every file into its staging folder ``DIR/_staging/<run_id>/`` (``schemas/naming.py``),
which no reader of ``DIR/<table>/`` sees. When the pipeline has finished and its rows reconcile, the
launcher publishes:

1. it writes the intent ``_staging/<run_id>/_publish.json``: every staged file, and the marker to write;
2. it renames each staged file to the same relative path under ``DIR``;
3. it writes the commit marker ``DIR/_runs/<run_id>.json``; the run counts from this moment;
4. it deletes the staging folder.

Renames across files are not atomic (on gs:// a rename is a copy and a delete), so the marker is the
commit: readers count only files of runs that have a marker (our readers: :func:`committed_files`;
analysts: the rule in docs/reliability.md). A publication cut short (a killed launcher, a lost machine)
is finished by the next run into the same folder, with any flag (:func:`recover`): the intent says what
is left; every step is idempotent, so two launchers finishing it at once are harmless. ``--force`` on a
committed run retracts it the same way: ``_retract.json`` lists its files, the marker goes first (the
run stops counting at once), then the files.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from emotrace.schemas import naming
from emotrace.schemas.lineage import PIPELINE_VERSION
from emotrace.schemas.tables import TABLES
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
    for table in TABLES:
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
    """The files of ``table`` that readers count: those of committed runs only."""
    committed = committed_runs(output)
    return [u for u in _parquet_below(output, table) if naming.run_of_file(u) in committed]


def publish(output: str, run_id: str, marker: dict[str, Any], faults: FaultPlan | None = None) -> list[str]:
    """Publish the staged files of ``run_id`` and commit it; returns the published files."""
    staging = naming.staging_dir(output, run_id)
    files = [naming.relative_to(staging, u) for u in run_files(staging, run_id)]
    payload = {
        **marker,
        "format": FORMAT,
        "run_id": run_id,
        "pipeline_version": PIPELINE_VERSION,
        "files": files,
    }
    fs.write_json(naming.intent_path(output, run_id), {"marker": payload})
    _finish(output, run_id, payload, faults)
    return [naming.join(output, f) for f in files]


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
    if _has_files(naming.runs_dir(output)) or _has_files(naming.join(output, naming.STAGING)):
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


def _has_files(folder: str) -> bool:
    return bool(fs.match(naming.join(folder, "**")))


def staged_runs(output: str) -> set[str]:
    """Run ids with files in a staging folder."""
    root = naming.join(output, naming.STAGING)
    names = {naming.relative_to(root, u).split("/", 1)[0] for u in fs.match(naming.join(root, "**"))}
    return {n for n in names if naming.is_valid_run_id(n)}


def is_staged(output: str, run_id: str) -> bool:
    """Whether ``run_id`` has files in its staging folder (running now, or died before publishing)."""
    return _has_files(naming.staging_dir(output, run_id))
