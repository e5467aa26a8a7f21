"""The product's import graph as import-linter sees it.

The layers live in top-level folders (model/, features/, ...) installed as ``emotrace.<layer>``
(setup.py's ``package_dir``). import-linter's graph builder (grimp) only walks a top-level package's own
folder, so it is given a tree where ``emotrace/<layer>`` are links to those folders.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def layers(repo: Path = REPO) -> list[str]:
    """setup.py's ``LAYERS``: the one list of installed folders."""
    for node in ast.walk(ast.parse((repo / "setup.py").read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LAYERS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no LAYERS list")


def link_tree(dest: Path, source: Path = REPO) -> Path:
    """``dest/emotrace`` with ``__init__.py`` and one link per layer of ``source``; returns ``dest``."""
    package = dest / "emotrace"
    package.mkdir(parents=True)
    shutil.copy(source / "emotrace" / "__init__.py", package / "__init__.py")
    for layer in layers(source):
        (package / layer).symlink_to(source / layer, target_is_directory=True)
    return dest


def lint_imports(tree: Path, config: Path = REPO / "pyproject.toml") -> subprocess.CompletedProcess[str]:
    """Run import-linter's contracts over ``tree`` (a :func:`link_tree`), in a child process whose
    ``sys.path`` starts there, so ``emotrace`` resolves to the tree and not to the editable install."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename=sys.argv[2], no_cache=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(tree), str(config)],
        capture_output=True,
        text=True,
        cwd=tree,
        timeout=300,
        env={**os.environ, "COLUMNS": "1000"},  # one line per contract in the report
    )


def contract_lines(report: str) -> dict[str, str]:
    """Each contract's name -> KEPT or BROKEN, from import-linter's report."""
    found = {}
    for line in report.splitlines():
        for verdict in ("KEPT", "BROKEN"):
            if f" {verdict}" in line and not line.startswith("Contracts:"):
                found[line.split(f" {verdict}")[0].strip()] = verdict
    return found
