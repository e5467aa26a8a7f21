"""A run of ``emotrace analyze`` with a fault plan, as its own process: test_fault_injection.py starts
it in a new session and lets the plan SIGKILL it. Usage: ``python -m tests.pipelines.fault_child
'<FaultPlan fields as JSON>' ANALYZE_ARGS...``."""

from __future__ import annotations

import json
import sys

from emotrace.pipelines import analyze
from emotrace.transforms.faults import FaultPlan

if __name__ == "__main__":
    analyze.run(sys.argv[2:], faults=FaultPlan(**json.loads(sys.argv[1])))
    print("the run ended without its fault firing", file=sys.stderr)
    sys.exit(3)
