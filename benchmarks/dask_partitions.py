"""What the Dask runner's partition count costs: the sample posts on a two-process LocalCluster.

    .venv/bin/python benchmarks/dask_partitions.py [--partitions 2 16] [--repeats 1]

Makes the three sample posts (``datasets.sample_posts``, once, in a temporary folder), starts a
``distributed.LocalCluster`` of two worker processes of one thread each (as the CI test does), and runs
``emotrace analyze`` in this process on Beam's Dask runner with each ``--dask_npartitions``, timing
each run's wall seconds (the cluster's start is not counted). Every Beam ``ParDo`` is a Dask task per
partition and every ``GroupByKey`` a shuffle between all of them, so the scheduler's work grows with
the partitions while the work per video does not: the reason the job sets one partition per worker
thread of the cluster (``pipelines/on_dask.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import distributed
from bench_util import machine

from emotrace.datasets import sample_posts
from emotrace.pipelines import analyze

RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[2, 16])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="emotrace-bench-dask-")
    sample_posts.main(["--output", os.path.join(work, "samples")])
    manifest = os.path.join(work, "samples", "manifest.csv")
    print(f"machine: {machine()}")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        for n in args.partitions:
            for i in range(args.repeats):
                out = os.path.join(work, f"out-{n}-{i}")
                t0 = time.perf_counter()
                dask = [f"--dask_client_address={cluster.scheduler_address}", f"--dask_npartitions={n}"]
                summary = analyze.run(["--input", manifest, "--output", out, f"--runner={RUNNER}", *dask])
                wall = time.perf_counter() - t0
                print(f"--dask_npartitions {n:3d}: {wall:6.1f} s  videos {summary.by_status}")
    finally:
        cluster.close()
    print(f"load average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
