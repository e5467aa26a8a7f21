"""The face options reach FaceConfig (the core never sees argparse)."""

from __future__ import annotations

import argparse

import pytest

from emotrace.pipelines.options import add_analyze_args, analyze_config
from emotrace.schemas.config import FaceConfig


def _faces(argv: list[str]) -> FaceConfig:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    args = parser.parse_args(["--input", "in", "--output", "out", *argv])
    return analyze_config(args, 0.2, 25, 64).faces


def test_defaults_keep_the_packaged_cpu_detector():
    f = _faces([])
    assert (f.backend, f.device, f.weights_uri, f.detect_max_side_px, f.detect_batch) == (
        "onnxruntime", "cpu", None, None, 1
    )  # fmt: skip


def test_face_flags_fill_the_face_config(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA device must be visible
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    f = _faces(
        ["--face-threshold", "0.6", "--min-face", "32", "--face-max-side", "480", "--face-backend", "torch",
         "--face-device", "cuda:1", "--face-batch", "16", "--face-weights", "gs://b/r50.onnx"]
    )  # fmt: skip
    assert (f.score_threshold, f.min_face_px, f.detect_max_side_px) == (0.6, 32, 480)
    assert (f.backend, f.device, f.detect_batch, f.weights_uri) == ("torch", "cuda:1", 16, "gs://b/r50.onnx")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    return parser.parse_args(["--input", "in", "--output", "out", *argv])


def test_decode_scale_reaches_the_decode_config():
    d = analyze_config(_parse(["--decode-scale", "1", "--max-side", "1920"]), 0.2, 25, 64).decode
    assert (d.scale, d.max_side_px, d.min_side_px) == (1.0, 1920, 640)
    assert analyze_config(_parse([]), 0.2, 25, 64).decode.scale == pytest.approx(2 / 3, abs=1e-3)
