"""Runs the shell blocks of a markdown guide, in order, with recording stand-ins on PATH (standins.py).

The blocks run in one bash session (``set -euo pipefail``: an unset variable, a failing command or a
missing script stops the walk), in a copy of the repository's files, with an environment that holds
nothing but PATH, HOME and the stand-ins' own variables, so every variable a block reads is one the
guide set. ``docker``, ``gcloud``, ``gsutil``, ``kubectl``, ``helm`` and ``emotrace`` are the stand-ins;
everything else (bash, envsubst, date, the repository's scripts) is real.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
STANDINS = Path(__file__).resolve().parent / "standins.py"
TOOLS = ("docker", "gcloud", "gsutil", "kubectl", "helm", "emotrace")
SHELL_LANGS = {"", "sh", "bash", "shell"}  # an unlabelled block is one a reader would paste too
RUN_ID = re.compile(r"^daily-\d{4}-\d{2}-\d{2}$")  # one format for every scheduler (deploy/daily.sh)
FENCE = re.compile(r"^```([A-Za-z0-9_-]*)[^\n]*\n(.*?)^```", re.M | re.S)
SETTING = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=", re.M)


@dataclass(frozen=True)
class Block:
    section: str  # the "## ..." heading it sits under
    code: str


def shell_blocks(markdown: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(markdown):
        if match.group(1).lower() in SHELL_LANGS:
            headings = re.findall(r"^## (.+)$", markdown[: match.start()], flags=re.M)
            blocks.append(Block(headings[-1] if headings else "", match.group(2)))
    return blocks


def settings(blocks: list[Block]) -> list[str]:
    """Names the guide assigns: the placeholders it tells the reader to set."""
    return sorted({name for b in blocks for name in SETTING.findall(b.code)})


def require_envsubst() -> None:
    if shutil.which("envsubst") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("envsubst (gettext-base) is missing in CI")
        pytest.skip("envsubst is not installed (Debian: gettext-base); CI runs this test")


def copy_repo(dst: Path) -> Path:
    """The repository's files (tracked and new, not ignored): the walk must not write into the work tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


@dataclass
class Walk:
    returncode: int
    output: str
    state: dict[str, Any]

    def failure(self) -> str:
        return f"exit {self.returncode}; problems {self.state.get('problems')}\n{self.output[-4000:]}"


def walk(
    tmp: Path,
    blocks: list[Block],
    env: dict[str, str] | None = None,
    repo: Path | None = None,
    errexit: bool = True,
) -> Walk:
    """Run ``blocks`` in order in a copy of the repository (or ``repo``) with the stand-ins first on PATH;
    ``errexit=False`` goes on past a failing command (to list every problem of a broken guide)."""
    shims = tmp / "bin"
    shims.mkdir(parents=True)
    for tool in TOOLS:
        shim = shims / tool
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS}" {tool} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    cwd = repo or copy_repo(tmp / "repo")
    script = ["set -euo pipefail" if errexit else "set -uo pipefail"]
    for i, block in enumerate(blocks):
        script += [f"echo {shlex.quote(f'>>> block {i + 1} ({block.section})')} >&2", block.code]
    (tmp / "guide.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
    state_dir = tmp / "state"
    full_env = {
        "PATH": f"{shims}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "WALK_STATE": str(state_dir),
        "WALK_SETTINGS": ",".join(settings(blocks)),
        **(env or {}),
    }
    got = subprocess.run(
        ["bash", str(tmp / "guide.sh")], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600
    )
    state_file = state_dir / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"problems": [], "calls": []}
    return Walk(got.returncode, got.stdout + got.stderr, state)


def dag_run_id(day: datetime) -> dict[str, str]:
    """The Airflow DAG's parameters for the run covering ``day``, rendered by hand (jinja2, Airflow's ``ds``
    filter, ``data_interval_start`` = ``day``): the Airflow 3 import and render is test_airflow_dag.py."""
    import jinja2

    source = (REPO / "deploy" / "airflow" / "emotrace_daily.py").read_text(encoding="utf-8")
    params = next(
        ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "PARAMETERS"
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["ds"] = lambda value: value.strftime("%Y-%m-%d")
    context = {"data_interval_start": day, "var": {"value": {"emotrace_bucket": "bucket"}}}
    return {key: env.from_string(value).render(context) for key, value in params.items()}


def run_id_problems(run_ids: list[list[Any]]) -> list[str]:
    """Every recorded run names a run id, of the one format."""
    problems = []
    for source, run_id in run_ids:
        if not run_id:
            problems.append(f"{source}: no run id (a re-run of the day would add a second run)")
        elif not RUN_ID.match(run_id):
            problems.append(f"{source}: run id {run_id!r} is not daily-YYYY-MM-DD")
    return problems
