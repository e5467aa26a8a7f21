"""Steps and seconds: the grid's one rounding rule (issue 17).

Step ``k`` covers ``[k * step_s, (k + 1) * step_s)``; trace rows publish its start ``t_s``. Times are
floats, so every conversion between the two goes through here, with one tolerance.
"""

from __future__ import annotations

EPS = 1e-6  # in steps: float error at a boundary never moves a time into the previous step


def step_at(t_s: float, step_s: float) -> int:
    """The step holding time ``t_s`` (-1 before 0)."""
    return int(t_s / step_s + EPS) if t_s >= 0 else -1


def step_start_s(step: int, step_s: float) -> float:
    """Step ``step``'s start in seconds, rounded to the microsecond so that 0.6 never reads
    0.6000000000000001 in a table."""
    return round(step * step_s, 6)


def step_of_start(t_s: float, step_s: float) -> int:
    """The step whose published start is ``t_s`` (the inverse of ``step_start_s``)."""
    return round(t_s / step_s)


def steps_covering(duration_s: float, step_s: float) -> int:
    """Steps needed to cover ``duration_s`` (a partial last step counts)."""
    n = int(duration_s / step_s + EPS)
    return n + (1 if n * step_s < duration_s - EPS else 0)
