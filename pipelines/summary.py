"""The end-of-run summary: read back what the run wrote (so it reports facts, not intentions)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from emotrace.transforms.publish import read_run_table


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


def summarize_run(root: str, run_id: str, n_inputs: int, n_already_ok: int = 0) -> RunSummary:
    """What run ``run_id`` wrote under ``root``, read back."""
    videos = read_run_table(root, "videos", run_id).to_pylist()
    traces = read_run_table(root, "traces", run_id)
    tracks = read_run_table(root, "tracks", run_id)
    by_status: dict[str, int] = {}
    for row in videos:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    failures = [
        (r["post_id"], r["error_code"] or "", r["error_message"] or "") for r in videos if r["status"] != "ok"
    ]
    return RunSummary(
        output=posixpath.normpath(root) if "://" not in root else root,
        run_id=run_id,
        n_inputs=n_inputs,
        by_status=by_status,
        n_trace_rows=traces.num_rows,
        failures=failures,
        n_already_ok=n_already_ok,
        n_rows={"videos": len(videos), "traces": traces.num_rows, "tracks": tracks.num_rows},
    )
