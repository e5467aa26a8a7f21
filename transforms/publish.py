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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from emotrace.schemas import naming
from emotrace.schemas.lineage import PIPELINE_VERSION
from emotrace.schemas.records import InputTally, StagedFile
from emotrace.transforms import io as fs
from emotrace.transforms.faults import FaultPlan

log = logging.getLogger("emotrace")
FORMAT = 2  # 2: the intent lists moves (staged name -> published name); 1: same names


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
            tables.append(fs.read_parquet(uri))
    return pa.concat_tables(tables) if tables else pa.table({})


Move = tuple[str, str]  # (path below the staging folder, path below the output folder)


def publish(
    output: str,
    run_id: str,
    marker: dict[str, Any],
    faults: FaultPlan | None = None,
    moves: list[Move] | None = None,
) -> None:
    """Publish the staged files of ``run_id`` and commit it. Safe to repeat (a retried stage): a
    committed run is left as it is, a publication under way is finished from its intent.

    ``moves``: which staged file becomes which published one (the commit stage names the writers'
    files); None: the staged files already named ``part-<run_id>-*``, each to the same path."""
    if fs.exists(naming.marker_path(output, run_id)):
        return
    intent = naming.intent_path(output, run_id)
    if fs.exists(intent):
        _finish(output, run_id, fs.read_json(intent), faults)
        return
    staging = naming.staging_dir(output, run_id)
    if moves is None:
        moves = [(rel, rel) for rel in (naming.relative_to(staging, u) for u in run_files(staging, run_id))]
    payload = {
        **marker,
        "format": FORMAT,
        "run_id": run_id,
        "pipeline_version": PIPELINE_VERSION,
        "files": [dst for _, dst in moves],
    }
    record = {"marker": payload, "moves": [list(m) for m in moves]}
    fs.write_json(intent, record)
    _finish(output, run_id, record, faults)


def _moves(record: dict[str, Any]) -> list[Move]:
    """An intent's moves; an intent of format 1 (before staged names) moved each file to its own path."""
    if "moves" in record:
        return [(src, dst) for src, dst in record["moves"]]
    return [(f, f) for f in record["marker"]["files"]]


def _finish(output: str, run_id: str, record: dict[str, Any], faults: FaultPlan | None) -> None:
    """Steps 2-4 of the publication, from the intent ``record``; safe to repeat, and to run twice at once."""
    staging = naming.staging_dir(output, run_id)
    payload = record["marker"]
    for rel_src, rel_dst in _moves(record):
        src, dst = naming.join(staging, rel_src), naming.join(output, rel_dst)
        if fs.exists(src):
            try:
                fs.rename(src, dst)
            except Exception:  # another launcher finishing the same publication got there first
                if fs.exists(src) or not fs.exists(dst):
                    raise
        elif not fs.exists(dst):
            _roll_back(output, run_id, payload, rel_src)
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
        record = fs.read_json(uri)
        run_id = record["marker"]["run_id"]
        if fs.exists(naming.marker_path(output, run_id)):
            drop_staging(output, run_id)
        else:
            _finish(output, run_id, record, None)
            done.append(f"finished publishing run {run_id}")
    done += _adopt_legacy(output)
    done += _drop_empty_runs(output)
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


def _drop_empty_runs(output: str) -> list[str]:
    """Staging folders of finished runs that had nothing to do (their ledger says 0 inputs: every input
    was ok already), left where no launcher waited for the job (a Dataflow flex template)."""
    done = []
    for uri in fs.match(naming.join(output, naming.STAGING, "*", naming.LEDGER)):
        ledger = fs.read_json(uri)
        run_id = naming.relative_to(naming.join(output, naming.STAGING), uri).split("/", 1)[0]
        if ledger.get("inputs") == 0 and ledger.get("reconciled") and naming.is_valid_run_id(run_id):
            drop_staging(output, run_id)
            done.append(f"removed the staging folder of run {run_id}, which had nothing to do")
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


@dataclass(frozen=True)
class Ledger:
    """What the commit stage knows of a run, all of it counted inside the job: the files the writers
    reported (successful bundles only) and the inputs (``InputTally``s summed)."""

    files: tuple[StagedFile, ...]
    inputs: int
    already_ok: int

    @property
    def to_process(self) -> int:
        """Inputs this run must account for with one videos row each."""
        return self.inputs - self.already_ok


class TallyRun(beam.CombineFn):
    """``StagedFile`` and ``InputTally`` elements -> one :class:`Ledger` (combined before the shuffle
    where the runner lifts combiners, so the commit worker never holds one element per input)."""

    def create_accumulator(self) -> tuple[list[StagedFile], int, int]:
        return [], 0, 0

    def add_input(
        self, acc: tuple[list[StagedFile], int, int], item: StagedFile | InputTally
    ) -> tuple[list[StagedFile], int, int]:
        files, inputs, done = acc
        if isinstance(item, StagedFile):
            files.append(item)
            return files, inputs, done
        return files, inputs + item.inputs, done + item.already_ok

    def merge_accumulators(
        self, accs: Iterable[tuple[list[StagedFile], int, int]]
    ) -> tuple[list[StagedFile], int, int]:
        files: list[StagedFile] = []
        inputs = done = 0
        for f, i, d in accs:
            files += f
            inputs, done = inputs + i, done + d
        return files, inputs, done

    def extract_output(self, acc: tuple[list[StagedFile], int, int]) -> Ledger:
        files, inputs, done = acc
        return Ledger(tuple(sorted(files)), inputs, done)


def final_moves(files: Iterable[StagedFile], staging: str, run_id: str) -> list[Move]:
    """Each staged file -> its published name: per (table, partition), the files in order of their
    staged names get shards 0, 1, ... (deterministic from the reported list)."""
    moves: list[Move] = []
    shard: dict[tuple[str, str], int] = {}
    for f in sorted(files):
        n = shard[(f.table, f.partition)] = shard.get((f.table, f.partition), -1) + 1
        dst = naming.part_path("", f.table, f.partition, run_id, n)
        moves.append((naming.relative_to(staging, f.uri), dst))
    return moves


def staged_counts(files: Iterable[StagedFile]) -> tuple[dict[str, int], dict[str, int]]:
    """(videos rows by status, rows per table) of the reported files: the videos rows are read back
    (one column), the other tables' counts come from the files' footers."""
    by_status: dict[str, int] = {}
    rows = dict.fromkeys(naming.RUN_TABLES, 0)
    for f in files:
        with fs.open_binary(f.uri) as stream:
            parquet = pq.ParquetFile(stream)
            rows[f.table] += parquet.metadata.num_rows
            if f.table == "videos":
                for status in parquet.read(columns=["status"]).column("status").to_pylist():
                    by_status[status] = by_status.get(status, 0) + 1
    return by_status, rows


def commit_run(ledger: Ledger, output: str, run_id: str, faults: FaultPlan | None) -> str:
    """Reconcile and publish run ``run_id`` once every file is written; returns the run id.

    Every input not left out by ``--skip-existing`` must have exactly one videos row in the reported
    files, or nothing is published (UnreconciledRun). A run left with nothing to do publishes nothing.
    Either way the counts go to ``_staging/<run_id>/_ledger.json`` for the launcher (``read_ledger``)."""
    if fs.exists(naming.marker_path(output, run_id)) or fs.exists(naming.intent_path(output, run_id)):
        publish(output, run_id, {}, faults)  # a retried stage: the publication is under way or done
        return run_id
    by_status, rows = staged_counts(ledger.files)
    record = {
        "inputs": ledger.to_process,
        "already_ok": ledger.already_ok,
        "by_status": by_status,
        "rows": rows,
    }
    reconciled = sum(by_status.values()) == ledger.to_process
    if ledger.to_process == 0 or not reconciled:
        fs.write_json(naming.ledger_path(output, run_id), {**record, "reconciled": reconciled})
    if not reconciled:
        raise UnreconciledRun(
            f"run {run_id}: {ledger.to_process} inputs but {sum(by_status.values())} videos rows "
            f"{by_status}; nothing was published (the run's files stay in "
            f"{naming.staging_dir(output, run_id)})"
        )
    if ledger.to_process:
        moves = final_moves(ledger.files, naming.staging_dir(output, run_id), run_id)
        publish(output, run_id, record, faults, moves)
    log.info("run %s: %d inputs, %d files, committed", run_id, ledger.to_process, len(ledger.files))
    return run_id


def read_ledger(output: str, run_id: str) -> dict[str, Any] | None:
    """The counts the commit stage left for a run it did not publish; None when there are none."""
    uri = naming.ledger_path(output, run_id)
    return fs.read_json(uri) if fs.exists(uri) else None


def _commit(keyed: tuple[None, Ledger], output: str, run_id: str, faults: FaultPlan | None) -> str:
    return commit_run(keyed[1], output, run_id, faults)


class CommitRun(beam.PTransform):
    """``StagedFile``s from every writer and ``InputTally``s -> the run reconciled and committed, once
    all of them are in (the combine waits for every file); emits the run id."""

    def __init__(self, output: str, run_id: str, faults: FaultPlan | None = None) -> None:
        super().__init__()
        self._args = (output, run_id, faults)

    def expand(self, parts: beam.PCollection) -> beam.PCollection:
        output, run_id, faults = self._args  # the closure pickles these, not the transform
        return (
            parts
            | "OneKey" >> beam.Map(lambda item: (None, item))
            | "Tally" >> beam.CombinePerKey(TallyRun())
            | "Commit" >> beam.Map(_commit, output, run_id, faults)
        )
