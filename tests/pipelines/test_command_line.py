"""The command line is checked before any work (issue 15, classes 12 and 15): one line naming the option,
the value and what is allowed, exit status 2, and nothing written. Through ``emotrace`` itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from emotrace.pipelines import cli

pytestmark = pytest.mark.pipeline


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"")  # never opened: every command below is refused first
    return path


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> str:
    assert cli.main(["analyze", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err  # one line, no traceback
    assert err.startswith("emotrace analyze: error: ") and all(w in err for w in words), err
    return err


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--batch-size", "0", "1..4096"),
        ("--window-hop-s", "0", "0.01..3600"),
        ("--max-side", "1", "32..8192"),
        ("--decode-scale", "0", "0.05..1"),
        ("--decode-scale", "1.5", "0.05..1"),
        ("--face-detect-every", "0", "1..1000"),
        ("--timeout", "0", "1..604800"),
        ("--frame-rate", "0", "0.1..60"),
        ("--frame-rate", "nan", "0.1..60"),
        ("--max-duration", "-5", "0.1.."),
        ("--max-pixels", "10", "64.."),
        ("--segment-s", "0.5", "0 or 1..86400"),
        ("--face-threshold", "2", "0.01..1"),
        ("--min-face", "x", "1..8192"),
        ("--face-batch", "0", "1..1024"),
        ("--device", "gpu", "auto, cpu, cuda"),
        ("--allowed-schemes", "file,,h t", "URI schemes"),
        ("--run-id", "z/../../x", "A-Z a-z 0-9"),
    ],
)
def test_each_option_is_checked_where_it_is_parsed(capsys, tmp_path, video, option, value, allowed):
    out = tmp_path / "out"
    _refused(capsys, ["--input", str(video), "--output", str(out), option, value], option, value, allowed)
    assert not out.exists()


def test_cuda_without_a_visible_gpu_is_refused_with_advice(capsys, tmp_path, video):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    for option in ("--device", "--face-device"):
        _refused(
            capsys, ["--input", str(video), "--output", str(tmp_path), option, "cuda"],
            option, "no CUDA device is visible; use --device cpu or auto",
        )  # fmt: skip


def test_the_output_is_checked_before_any_work(capsys, tmp_path, video):
    (tmp_path / "a_file").write_text("x")
    _refused(
        capsys, ["--input", str(video), "--output", str(tmp_path / "a_file")], "--output", "not a folder"
    )
    _refused(
        capsys, ["--input", str(video), "--output", str(tmp_path / "a_file" / "sub")], "--output", "created"
    )
    _refused(capsys, ["--input", str(video), "--output", "gs://bucket/out"], "--output", "emotrace[gcp]")


def test_inputs_that_name_nothing_or_expand_to_nothing(capsys, tmp_path):
    out = str(tmp_path / "out")
    _refused(capsys, ["--input", str(tmp_path / "missing.csv"), "--output", out], "--input", "no such file")
    _refused(capsys, ["--input", str(tmp_path / "nope"), "--output", out], "--input", "no such file")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no video here")
    _refused(capsys, ["--input", str(tmp_path / "empty"), "--output", out], "--input", "0 inputs found")
    (tmp_path / "header_only.csv").write_text("video_uri,post_id\n")
    _refused(capsys, ["--input", str(tmp_path / "header_only.csv"), "--output", out], "0 inputs found")
    _refused(capsys, ["--input", str(tmp_path / "*.mp4"), "--output", out], "0 inputs found")
    _refused(capsys, ["--input", "gs://bucket/m.csv", "--output", out], "--input", "emotrace[gcp]")


def test_a_missing_or_broken_model_is_refused(capsys, tmp_path, video):
    (tmp_path / "broken.pt").write_bytes(b"not a bundle")
    out = str(tmp_path / "out")
    _refused(
        capsys, ["--input", str(video), "--output", out, "--model", str(tmp_path / "none.pt")], "--model"
    )
    _refused(
        capsys, ["--input", str(video), "--output", out, "--model", str(tmp_path / "broken.pt")], "--model"
    )
    _refused(
        capsys, ["--input", str(video), "--output", out, "--face-weights", "/no/r50.onnx"], "--face-weights"
    )


@pytest.mark.parametrize(
    ("runner", "local"),
    [
        (None, True),
        ("DirectRunner", True),
        ("direct", True),
        ("PrismRunner", True),
        ("DataflowRunner", False),
        ("PortableRunner", False),
        ("FlinkRunner", False),
        ("apache_beam.runners.dask.dask_runner.DaskRunner", False),
    ],
)
def test_only_a_local_runner_needs_the_cuda_device_on_this_machine(runner, local):
    """A job submitted to Dataflow or Flink runs its model on the workers' GPUs: the launcher has none."""
    import argparse

    from emotrace.pipelines.options import check_local_devices, runs_locally

    assert runs_locally(runner) is local
    args = argparse.Namespace(device="cuda", face_device="cpu")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    if local:
        with pytest.raises(SystemExit, match="no CUDA device is visible"):
            check_local_devices(args, runner)
    else:
        check_local_devices(args, runner)  # nothing to check on this machine
