"""numba's compile happens before the first video (at import or in ``warm_up()``, once per worker, from
ExtractWindows.setup), never inside it: after warm_up, analysing audio compiles no new specialisation of
any numba kernel loaded in the process. Counted on the kernels themselves, not timed: a wall-clock
comparison on a shared machine measures the neighbours."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from numba.core.registry import CPUDispatcher
    from numba.np.ufunc.dufunc import DUFunc
    from numba.np.ufunc.gufunc import GUFunc
    from emotrace.features.acoustics import step_features, warm_up
    from emotrace.schemas.config import AudioConfig

    def specialisations():
        # Every numba kernel of every loaded module: jit dispatchers and (g)ufuncs, by their signatures.
        found = {}
        for name, module in list(sys.modules.items()):
            for attr, obj in list(getattr(module, "__dict__", {}).items()):
                if isinstance(obj, CPUDispatcher):
                    found[f"{name}.{attr}"] = len(obj.signatures)
                elif isinstance(obj, (DUFunc, GUFunc)):
                    found[f"{name}.{attr}"] = len(obj.types)
        return found

    warm_up()
    before = specialisations()
    x = (0.1 * np.random.default_rng(0).standard_normal(3 * 16000)).astype(np.float32)
    step_features(x, AudioConfig(), 0.2)
    step_features(x[: 16000 + 123] * 3, AudioConfig(), 0.2)
    after = specialisations()
    print(json.dumps({"kernels": len(after), "compiled": sum(before.values()),
                      "new": {k: (before.get(k, 0), n) for k, n in after.items() if n != before.get(k, 0)}}))
    """
)


def test_analysing_audio_after_warm_up_compiles_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["kernels"] > 0 and found["compiled"] > 0  # librosa's kernels are there and were counted
    assert found["new"] == {}, found["new"]  # compiled while analysing: the first video would pay for it
