"""What the static contracts cannot see: a third-party import that drags in Beam or torch at run time.

Every module of the pure floors below the model (schemas/, media/, features/, analytics/), and the
sample-post builder that `make demo` runs first, imports in a fresh process without loading either.
"""

from __future__ import annotations

import subprocess
import sys

from tests.house.import_tree import REPO

LIGHT_FLOORS = ["schemas", "media", "features", "analytics"]


def _modules() -> list[str]:
    found = [
        f"emotrace.{floor}.{path.stem}"
        for floor in LIGHT_FLOORS
        for path in sorted((REPO / floor).glob("*.py"))
        if path.stem != "__init__"
    ]
    return [*found, "emotrace.datasets.sample_posts"]


def test_every_light_module_imports_without_beam_or_torch() -> None:
    modules = _modules()
    assert len(modules) >= 30  # every file of the four floors (35 today), not a hand-picked few
    code = "import importlib, sys\n" + "".join(
        f"importlib.import_module({m!r})\nassert not {{'apache_beam', 'torch'}} & set(sys.modules), {m!r}\n"
        for m in modules
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
