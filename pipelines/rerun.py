"""Re-run policy: what earlier runs into the same output folder mean for this one.

- every run first finishes what an interrupted job or launcher left (``publish.recover``);
- a new run (the default) writes files named by its own run id, beside earlier runs';
- ``--skip-existing`` drops inputs that already have an ``ok`` row in a committed run's ``videos`` (the
  job joins them with its inputs: ``transforms/dedupe.py``);
- ``--run-id X`` where X is committed, or has an unfinished attempt staged, is refused unless ``--force``
  (X and its continuations are retracted first, so the re-run leaves no duplicate rows) or
  ``--skip-existing``: an attempt that never committed is discarded, and once X is committed the run
  continues it as ``X~002`` (then ``X~003``, ...), a commit of its own, so X's rows stay what X's commit
  said. This is how a scheduled job re-runs a day under the day's run id.
"""

from __future__ import annotations

from emotrace.pipelines.options import UsageError
from emotrace.schemas import naming
from emotrace.transforms import publish
from emotrace.transforms.faults import FaultPlan

__all__ = ["prepare"]


def _family(runs: set[str], run_id: str) -> list[str]:
    """Run ``run_id`` and its continuations among ``runs``, by the exact naming rule."""
    return sorted(r for r in runs if naming.base_run(r) == run_id)


def prepare(
    output: str, run_id: str, force: bool, skip_existing: bool, faults: FaultPlan | None = None
) -> str:
    """Make ``output`` ready for run ``run_id`` under the flags; returns the id the run writes under
    (``run_id``, or its next continuation), or refuses (UsageError, exit 2)."""
    publish.recover(output)
    committed = _family(publish.committed_runs(output), run_id)
    staged = [r for r in _family(publish.staged_runs(output), run_id) if r not in committed]
    if not (committed or staged):
        return run_id
    if force:
        for member in sorted(set(committed) | set(staged)):
            publish.retract(output, member, faults)
        return run_id
    if skip_existing:
        for member in staged:  # attempts that never committed: nothing of them counts
            publish.drop_staging(output, member)
        if not committed:
            return run_id
        return naming.continuation(run_id, max(naming.attempt_of(r) for r in committed) + 1)
    state = f"is committed ({', '.join(committed)})" if committed else "has an unfinished attempt staged"
    raise UsageError(
        f"argument --run-id: run {run_id} {state} under {output}: use --force to replace it, "
        "--skip-existing to process only what is not ok yet, or a new --run-id"
    )
