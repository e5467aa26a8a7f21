"""In-process ``analyze.run`` calls of this tier run one DirectRunner worker (tests/pipelines/cores.py
says why, and which runs keep the default of one worker per core)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pipelines.cores import one_worker


@pytest.fixture(scope="package", autouse=True)
def _one_worker() -> Iterator[None]:
    with one_worker():
        yield
