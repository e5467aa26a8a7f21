"""Runner defaults the launcher sets (no media): a local run uses every core unless told otherwise;
on Beam's Dask runner the job's source is cut into one shard per partition."""

from __future__ import annotations

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from emotrace.pipelines import local
from emotrace.pipelines.on_dask import RUNNER as DASK
from emotrace.pipelines.on_dask import input_shards
from tests.pipelines.cores import default_cores


def _direct(args: list[str]) -> DirectOptions:
    options = PipelineOptions(args)
    local.use_all_cores(options, args)
    return options.view_as(DirectOptions)


def test_a_local_run_gets_one_worker_process_per_usable_core():
    with default_cores():
        cores = local.usable_cores()
        for runner in (
            [],
            ["--runner=DirectRunner"],
            ["--runner", "apache_beam.runners.direct.DirectRunner"],
        ):
            direct = _direct(runner)
            if cores > 1:
                assert (direct.direct_num_workers, direct.direct_running_mode) == (cores, "multi_processing")
            else:
                assert direct.direct_num_workers == 1
    assert local.is_direct(None) and local.is_direct("SwitchingDirectRunner") and not local.is_direct(DASK)


def test_parallelism_given_on_the_command_line_or_another_runner_is_left_alone():
    with default_cores():
        assert _direct(["--direct_num_workers=1"]).direct_num_workers == 1
        assert _direct(["--direct_running_mode=multi_threading"]).direct_num_workers == 1
        direct = _direct(["--direct_num_workers", "3"])
        assert (direct.direct_num_workers, direct.direct_running_mode) == (3, "in_memory")
        assert _direct(["--runner=PortableRunner"]).direct_num_workers == 1
        assert _direct(["--runner=DataflowRunner"]).direct_num_workers == 1


def test_the_input_is_one_shard_except_on_dask():
    assert input_shards(PipelineOptions([]), []) == 1
    assert input_shards(PipelineOptions(["--runner=DataflowRunner"]), []) == 1
    args = [f"--runner={DASK}", "--dask_npartitions=3"]
    assert input_shards(PipelineOptions(args), args) == 3
    # No scheduler address: the runner starts a LocalCluster, one worker per core.
    options = PipelineOptions([f"--runner={DASK}"])
    from apache_beam.runners.dask.dask_runner import DaskOptions

    with default_cores():
        assert input_shards(options, [f"--runner={DASK}"]) == local.usable_cores()
        assert options.view_as(DaskOptions).npartitions == local.usable_cores()  # the runner cuts as many


def test_a_long_video_is_cut_into_at_most_one_segment_per_known_worker():
    from emotrace.pipelines.analyze import known_workers

    with default_cores():
        cores = local.usable_cores()
        options = PipelineOptions([])
        local.use_all_cores(options, [])
        assert known_workers(options, 1) == cores
    one = ["--direct_num_workers=1"]
    assert known_workers(PipelineOptions(one), 1) == 1
    assert known_workers(PipelineOptions([f"--runner={DASK}", "--dask_npartitions=3"]), 3) == 3
    assert known_workers(PipelineOptions(["--runner=DataflowRunner"]), 1) == 0  # not known: no cap
