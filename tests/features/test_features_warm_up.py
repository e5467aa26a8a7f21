"""A worker's acoustic descriptors load no numba, librosa or scipy.signal: each of those cost every worker
process that starts (numba's compile of librosa's kernels 3-4 s from its disk cache, ~34 s without; the
imports ~0.6 CPU s), and a cold Dataflow or Flink worker paid the full compile. Checked in a fresh
interpreter on the modules actually loaded, not timed: a wall-clock comparison on a shared machine
measures the neighbours."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from emotrace.features.acoustics import step_features, warm_up
    from emotrace.schemas.config import AudioConfig

    warm_up()
    x = (0.1 * np.random.default_rng(0).standard_normal(3 * 16000)).astype(np.float32)
    rows = step_features(x, AudioConfig(), 0.2)
    heavy = ("numba", "llvmlite", "librosa", "scipy.signal")
    print(json.dumps({"rows": len(rows), "loaded": sorted(m for m in sys.modules if m.split(".")[0] in heavy
                                                        or m.startswith("scipy.signal"))}))
    """
)


def test_analysing_audio_loads_no_numba_librosa_or_scipy_signal() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["rows"] == 15  # 3 s at 0.2 s steps: the stage ran
    assert found["loaded"] == [], found["loaded"]
