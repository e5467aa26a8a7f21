"""Pipeline tests run Beam's in-process runners. Those of this tier run one DirectRunner worker
(tests/pipelines/cores.py says why, and which runs keep the default of one worker per core). The worker
settings they apply (transforms/worker.py) change this test process: torch's thread count is put back
after each test, so later tests (training ones above all) see the process as they would alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from tests.pipelines.cores import one_worker


@pytest.fixture(scope="package", autouse=True)
def _one_worker() -> Iterator[None]:
    with one_worker():
        yield


@pytest.fixture(autouse=True)
def _torch_threads_restored() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
