"""Fixtures shared by every test tier: generated media (never downloaded)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_posts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three bundled sample posts plus their manifest.csv, built once per test session."""
    from emotrace.datasets.sample_posts import build_sample_posts

    out = tmp_path_factory.mktemp("samples")
    build_sample_posts(str(out), seed=0)
    assert (out / "manifest.csv").exists()
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available() and not os.environ.get("EMOTRACE_SKIP_CUDA"):
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "needs_cuda" in item.keywords:
            item.add_marker(skip)
