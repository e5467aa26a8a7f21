"""How many DirectRunner workers the in-process ``analyze.run`` calls of tests/pipelines get.

The default is one worker process per core (``pipelines/local.py``); each worker pays its own start
(imports, model, detector: seconds on the 2-core CI machine), which the many small runs
of this tier would pay again and again while they test rows, codes and files, not parallelism. So
tests/pipelines/conftest.py gives them one worker, and the runs that check the default itself wrap
themselves in :func:`default_cores`: test_analyze.py's run of the sample posts (with a broken file and
an invalid row) and test_local_defaults.py. test_portability.py names two worker processes itself.
Subprocess runs here pass ``--direct_num_workers=1`` where parallelism is not what they test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from emotrace.pipelines import local

REAL_USABLE_CORES = local.usable_cores


@contextlib.contextmanager
def one_worker() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local, "usable_cores", lambda: 1)
        yield


@contextlib.contextmanager
def default_cores() -> Iterator[None]:
    """The product's default inside a :func:`one_worker` block: one worker per usable core."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local, "usable_cores", REAL_USABLE_CORES)
        yield
