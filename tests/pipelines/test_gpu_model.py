"""Dataflow's two GPU models are never combined (issue 19, defect 4).

The ``worker_accelerator`` service option puts a GPU on every worker; any Beam resource hint turns on right
fitting, and Dataflow's right-fitting guide says not to use ``worker_accelerator`` with it. ``emotrace
analyze`` and the flex-template launcher build their options through ``analyze.pipeline_options``, which
refuses the mix before anything is submitted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from emotrace.pipelines import analyze

ACCELERATOR = "worker_accelerator=type:nvidia-l4;count:1;install-nvidia-driver"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("beam_args", "inference_hints"),
    [
        ([f"--dataflow_service_options={ACCELERATOR}", "--resource_hints=min_ram=24GB"], {}),
        ([f"--dataflow_service_options={ACCELERATOR}"], {"accelerator": "type:nvidia-l4;count:1"}),
        ([f"--experiments={ACCELERATOR}", "--resource_hints=accelerator=type:nvidia-l4;count:1"], {}),
    ],
)
def test_worker_accelerator_with_any_resource_hint_is_refused(beam_args, inference_hints):
    conflict = analyze.gpu_model_conflict(PipelineOptions(beam_args), inference_hints)
    assert conflict and "right fitting" in conflict and analyze.RIGHT_FITTING_DOC in conflict


@pytest.mark.parametrize(
    ("beam_args", "inference_hints"),
    [
        ([f"--dataflow_service_options={ACCELERATOR}", "--experiments=no_use_multiple_sdk_containers"], {}),
        (["--resource_hints=min_ram=24GB"], {"accelerator": "type:nvidia-l4;count:1;install-nvidia-driver"}),
        (["--dataflow_service_options=enable_prime"], {"min_ram": "16GB"}),
        ([], {}),
    ],
)
def test_one_gpu_model_alone_is_accepted(beam_args, inference_hints):
    assert analyze.gpu_model_conflict(PipelineOptions(beam_args), inference_hints) is None


def test_analyze_refuses_the_mix_before_building_a_pipeline(tmp_path: Path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("video_uri,post_id,user_id,posted_at\n/nowhere/x.mp4,p1,u1,\n", encoding="utf-8")
    argv = ["--input", str(manifest), "--output", str(tmp_path / "out"), "--runner=DirectRunner"]
    with pytest.raises(SystemExit, match="worker_accelerator"):
        analyze.run([*argv, f"--dataflow_service_options={ACCELERATOR}", "--inference-hints", "min_ram=16GB"])
    assert not (tmp_path / "out").exists()  # nothing was written


def test_flex_launcher_refuses_the_mix(tmp_path: Path):
    spec = importlib.util.spec_from_file_location("launch", REPO / "deploy" / "dataflow" / "launch.py")
    assert spec and spec.loader
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)
    manifest = tmp_path / "m.csv"
    manifest.write_text("video_uri,post_id,user_id,posted_at\n/nowhere/x.mp4,p1,u1,\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="right fitting"):
        launch.main(
            [
                f"--input={manifest}",
                f"--output={tmp_path / 'out'}",
                "--run_id=daily-2026-11-24",
                f"--dataflow_service_options={ACCELERATOR}",
                "--resource_hints=min_ram=24GB",
                "--runner=DirectRunner",
            ]
        )
