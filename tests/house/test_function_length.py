"""No function in the product is over 60 lines (issue 17): long functions mix concerns and hide state."""

from __future__ import annotations

import ast

from tests.house.import_tree import REPO, layers

MAX_LINES = 60


def long_functions(limit: int = MAX_LINES) -> list[str]:
    """``path:line name (n lines)`` for every function or method of the installed layers over ``limit``."""
    found = []
    for layer in layers():
        for path in sorted((REPO / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    n = (node.end_lineno or node.lineno) - node.lineno + 1
                    if n > limit:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_no_function_in_the_product_is_over_60_lines() -> None:
    assert long_functions() == []


def test_the_count_sees_long_functions() -> None:
    assert long_functions(limit=30)  # the walk reaches real code: some functions are over 30 lines
