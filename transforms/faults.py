"""Fault injection for reliability tests: off unless ``EMOTRACE_FAULT_ONCE`` is set.

``EMOTRACE_FAULT_ONCE=<post_id>:<marker path>`` makes the first worker that reaches that post raise
:class:`InjectedFault` outside the per-video error handling, as a crashed worker or a bug would, exactly
once across all worker processes (the marker file is created atomically). The reliability tests use it to
check that a failed run plus a re-run loses and duplicates nothing (docs/reliability.md).
"""

from __future__ import annotations

import os

ENV = "EMOTRACE_FAULT_ONCE"


class InjectedFault(RuntimeError):
    pass


def maybe_fail(post_id: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, marker = spec.split(":", 1)
    if post_id != target:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # atomic: one process wins
    except FileExistsError:
        return
    os.close(fd)
    raise InjectedFault(f"injected fault at post {post_id} ({ENV})")
