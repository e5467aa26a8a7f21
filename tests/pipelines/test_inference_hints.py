"""``--inference-hints``: resource hints on the model stage only, behind a fusion break (issue 6).

Builds the analyze pipeline graph without running it and reads the hints from its runner API proto,
which is what Dataflow receives. The DirectRunner ignores hints, so nothing here needs a GPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import apache_beam as beam
import pytest

from emotrace.pipelines import analyze
from emotrace.pipelines.options import add_analyze_args

pytestmark = pytest.mark.pipeline
GPU = "accelerator=type:nvidia-l4;count:1;install-nvidia-driver,min_ram=16GB"


def _job(hints: str | None, tmp_path: Path) -> analyze.AnalyzeJob:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    (tmp_path / "x.mp4").write_bytes(b"")  # the launcher checks that --input names something
    args = parser.parse_args(
        ["--input", str(tmp_path / "x.mp4"), "--output", str(tmp_path / "out")]
        + (["--inference-hints", hints] if hints else [])
    )
    return analyze.resolve_job(args)


def _hints_by_transform(job: analyze.AnalyzeJob) -> dict[str, dict[str, bytes]]:
    """Resource hints of every leaf transform, as the runner sees them (on its environment)."""
    p = beam.Pipeline()
    analyze.build(p, job)
    proto = p.to_runner_api()
    envs = proto.components.environments
    return {
        t.unique_name: dict(envs[t.environment_id].resource_hints) if t.environment_id else {}
        for t in proto.components.transforms.values()
        if not t.subtransforms
    }


def test_hints_go_on_the_inference_stage_only(tmp_path):
    by_name = _hints_by_transform(_job(GPU, tmp_path))
    infer = {n: h for n, h in by_name.items() if n.startswith("Infer/") and h}
    assert infer, "no transform of the Infer stage carries the hints"
    for hints in infer.values():
        assert hints["beam:resources:accelerator:v1"] == b"type:nvidia-l4;count:1;install-nvidia-driver"
        assert hints["beam:resources:min_ram_bytes:v1"] == str(16 * 10**9).encode()
    others = {n: h for n, h in by_name.items() if not n.startswith("Infer") and h}
    assert others == {}, f"hints leaked onto {sorted(others)}"
    assert any(n.startswith("ToInferencePool") for n in by_name)  # decoding and inference are not fused


def test_no_hints_no_extra_shuffle(tmp_path):
    by_name = _hints_by_transform(_job(None, tmp_path))
    assert not any(h for h in by_name.values())
    assert not any(n.startswith("ToInferencePool") for n in by_name)


@pytest.mark.parametrize("bad", ["accelerator", "gpu=yes", "=x"])
def test_bad_hints_are_refused_with_the_option_named(bad):
    with pytest.raises(SystemExit, match="--inference-hints"):
        analyze.parse_hints(bad)
