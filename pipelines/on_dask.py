"""Runs on Beam's Dask runner: how the job's source is cut so that a Dask cluster runs it in parallel.

Beam 2.77's Dask runner turns each ``Create`` into a Dask bag of ``--dask_npartitions`` partitions (by
default 128 elements per partition) and keeps a bag's partition count through every ParDo; only a
``GroupByKey`` moves elements between partitions, and ``Reshuffle`` is replaced by nothing. The analyze
job's source is ``--input``'s name, one element: on Dask the whole run would be one partition, on one
worker. So on Dask the job reads ``--input`` as one shard per partition (``transforms/inputs.py``), and
its spreads are ``GroupByKey``s (``transforms/spread.py``), which Dask does repartition.

How many partitions: ``--dask_npartitions`` when given, else one per thread of the cluster's workers
(asked of the scheduler at launch). Not more: every partition multiplies the graph's tasks (each
ParDo is a task per partition, each GroupByKey a shuffle between all of them), and the scheduler pays
~1 ms per task: the sample posts took 19 s on 2 partitions and 83 s on 16 on a two-process LocalCluster
(benchmarks/dask_partitions.py, benchmarks/README.md).
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from emotrace.pipelines.local import usable_cores
from emotrace.pipelines.options import UsageError

RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"  # Beam's short runner names omit it


def is_dask(runner: str | None) -> bool:
    return runner is not None and runner.rsplit(".", 1)[-1].lower() == "daskrunner"


def input_shards(options: PipelineOptions, beam_args: list[str]) -> int:
    """How many shards the job reads ``--input`` as: 1, except on the Dask runner (see the module
    docstring), where ``--dask_npartitions`` is set to the cluster's threads when not given (nor
    ``--dask_partition_size``, which leaves the source's partitions to the runner)."""
    if not is_dask(options.view_as(StandardOptions).runner):
        return 1
    try:
        from apache_beam.runners.dask.dask_runner import DaskOptions
    except ImportError as err:  # pragma: no cover - the dask extra is in the test extra
        raise UsageError(
            f"--runner {RUNNER} needs the dask extra: pip install 'emotrace[dask]' ({err})"
        ) from err
    dask = options.view_as(DaskOptions)
    if any(arg.split("=", 1)[0] == "--dask_partition_size" for arg in beam_args):
        return cluster_threads(dask.address, dask.scheduler_file)
    if not dask.npartitions:
        dask.npartitions = cluster_threads(dask.address, dask.scheduler_file)
    return int(dask.npartitions)


def cluster_threads(address: str | None, scheduler_file: str | None) -> int:
    """Worker threads of the Dask cluster the runner will submit to; without an address the runner
    starts a LocalCluster of its own (one worker per core)."""
    if not (address or scheduler_file):
        return usable_cores()
    from distributed import Client

    try:
        with Client(address, scheduler_file=scheduler_file, timeout=60) as client:
            return max(1, sum(client.nthreads().values()))
    except OSError as err:  # an address that does not answer: say so before any work
        raise UsageError(f"--dask_client_address {address or scheduler_file}: {err}") from err
