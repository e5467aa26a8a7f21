"""Peak RSS of a command, measured exactly: the command runs under a small wrapper process that reports
its only child's ``RUSAGE_CHILDREN`` ``ru_maxrss``.

Why a wrapper: a process forked from the test runner starts with the runner's resident pages counted,
and ``ru_maxrss`` keeps that peak across ``exec``, so a child of a test process that has imported torch
reads at least the test process's size. The wrapper is a bare interpreter (~10 MB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import json, resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(json.dumps({"rc": rc, "peak_kb": peak}))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    peak_bytes: int
    stdout: str
    stderr: str


def run_measured(argv: list[str], report: Path, **popen: object) -> Measured:
    """Run ``argv`` (``popen``: cwd, env, ...) to the end; its exit status, peak RSS and output."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(report), *argv], capture_output=True, text=True, **popen
    )
    stats = json.loads(report.read_text())
    return Measured(stats["rc"], stats["peak_kb"] * 1024, done.stdout, done.stderr)
