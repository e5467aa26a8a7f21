"""The features layer is pure core: importing it never pulls in Beam (or torch)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import emotrace.features

FEATURES_DIR = Path(emotrace.features.__file__).parent
MODULES = ["faces", "align", "tracking", "acoustic_lld", "acoustics"]


def test_no_module_imports_beam() -> None:
    for path in sorted(FEATURES_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "apache_beam" for n in names), f"{path.name} imports Beam"


def test_importing_features_loads_neither_beam_nor_torch() -> None:
    imports = "; ".join(f"import emotrace.features.{m}" for m in MODULES)
    code = f"import sys; {imports}; print(sorted({{'apache_beam', 'torch'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
