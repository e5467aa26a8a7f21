"""The layering contracts in pyproject.toml hold, and they fail when a forbidden import is added."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.house.import_tree import REPO, contract_lines, layers, link_tree, lint_imports


def test_the_product_keeps_its_layering_contracts(tmp_path: Path) -> None:
    result = lint_imports(link_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = contract_lines(result.stdout)
    assert len(verdicts) == 4 and set(verdicts.values()) == {"KEPT"}, result.stdout


def _copy_of_the_product(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    for name in [*layers(), "emotrace"]:
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    shutil.copy(REPO / "setup.py", source / "setup.py")
    return source


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("schemas/errors.py", "import emotrace.media.probe", "Floors"),
        ("model/bundle.py", "import apache_beam", "Beam only in transforms/ and pipelines/"),
        ("media/decode.py", "import torch", "torch only in model/"),
        ("features/acoustics.py", "from emotrace.transforms import extract", "Floors"),
        ("analytics/aggregate.py", "import pyarrow", "Arrow only in schemas/"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    source = _copy_of_the_product(tmp_path)
    target = source / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    result = lint_imports(link_tree(tmp_path / "tree", source))
    assert result.returncode != 0, result.stdout
    broken = [name for name, verdict in contract_lines(result.stdout).items() if verdict == "BROKEN"]
    assert any(name.startswith(contract) for name in broken), result.stdout
