"""The end-of-run summary: read back what the run wrote (so it reports facts, not intentions)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from emotrace.schemas import naming
from emotrace.schemas.errors import Status
from emotrace.transforms import io as fs
from emotrace.transforms.publish import read_run_table

__all__ = ["RunSummary", "read_run_table", "summarize_committed", "summarize_ledger"]


@dataclass(frozen=True)
class RunSummary:
    output: str
    run_id: str
    n_inputs: int
    by_status: dict[str, int]
    n_trace_rows: int
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # post_id, code, message
    n_already_ok: int = 0  # inputs left out by --skip-existing (they have an ok row from an earlier run)

    n_rows: dict[str, int] = field(default_factory=dict)  # rows written per table

    @property
    def reconciled(self) -> bool:
        """Every input accounted for by exactly one videos row."""
        return sum(self.by_status.values()) == self.n_inputs

    def render(self) -> str:
        out = self.output.rstrip("/")
        status = ", ".join(f"{k} {v}" for k, v in sorted(self.by_status.items())) or "none"
        lines = [
            f"emotrace run {self.run_id}: {self.n_inputs} inputs -> {status}; {self.n_trace_rows} trace rows",
            f"  traces: {out}/traces/   videos: {out}/videos/",
        ]
        if self.n_already_ok:
            lines.insert(
                1, f"  {self.n_already_ok} inputs left out: already ok in {out}/videos (--skip-existing)"
            )
        lines += [f"  failed {pid}: {code}: {msg[:160]}" for pid, code, msg in self.failures[:20]]
        if not self.reconciled:
            lines.append(f"  WARNING: {sum(self.by_status.values())} videos rows for {self.n_inputs} inputs")
        query = (
            "SELECT post_id, track_id, count(*) AS steps, avg(arousal), avg(valence) FROM "
            f"read_parquet('{out}/traces/**/*.parquet', hive_partitioning=true) "
            f"WHERE run_id = '{self.run_id}' GROUP BY ALL ORDER BY ALL"
        )
        # The duckdb Python package is installed (no CLI binary), so the hint runs through Python.
        lines.append(f'  try: .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"')
        return "\n".join(lines)


FAILURES_SHOWN = 20


def summarize_committed(output: str, run_id: str) -> RunSummary:
    """What committed run ``run_id`` wrote under ``output``: the counts its commit marker recorded, and
    the first failures read back from its published ``videos`` files (only the non-ok rows, file by file:
    the launcher never holds a whole table)."""
    marker = fs.read_json(naming.marker_path(output, run_id))
    failures: list[tuple[str, str, str]] = []
    for uri in marker_files(output, marker, "videos"):
        if len(failures) >= FAILURES_SHOWN:
            break
        table = fs.read_parquet(uri, ["post_id", "status", "error_code", "error_message"])
        failures += [
            (r["post_id"], r["error_code"] or "", r["error_message"] or "")
            for r in table.to_pylist()
            if r["status"] != Status.OK
        ]
    rows = marker.get("rows", {})
    return RunSummary(
        output=_display(output),
        run_id=run_id,
        n_inputs=int(marker.get("inputs", 0)),
        by_status=dict(marker.get("by_status", {})),
        n_trace_rows=int(rows.get("traces", 0)),
        failures=failures[:FAILURES_SHOWN],
        n_already_ok=int(marker.get("already_ok", 0)),
        n_rows=dict(rows),
    )


def summarize_ledger(output: str, run_id: str, ledger: dict[str, Any] | None) -> RunSummary:
    """A run that published nothing, from the counts its commit stage left (``transforms.publish``)."""
    ledger = ledger or {}
    rows = ledger.get("rows", {})
    return RunSummary(
        output=_display(output),
        run_id=run_id,
        n_inputs=int(ledger.get("inputs", 0)),
        by_status=dict(ledger.get("by_status", {})),
        n_trace_rows=int(rows.get("traces", 0)),
        n_already_ok=int(ledger.get("already_ok", 0)),
        n_rows=dict(rows),
    )


def marker_files(output: str, marker: dict[str, Any], table: str) -> list[str]:
    """The published files of ``table`` a commit marker lists."""
    return [naming.join(output, rel) for rel in marker.get("files", []) if rel.split("/", 1)[0] == table]


def _display(root: str) -> str:
    return posixpath.normpath(root) if "://" not in root else root
