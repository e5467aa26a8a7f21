"""The face options reach FaceConfig (the core never sees argparse)."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from emotrace.pipelines.options import add_analyze_args, analyze_config
from emotrace.schemas.config import FaceConfig
from tests.pipelines.bundle_contract import PRE


def _faces(argv: list[str]) -> FaceConfig:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    args = parser.parse_args(["--input", "in", "--output", "out", *argv])
    return analyze_config(args, PRE).faces


def test_without_flags_the_face_config_is_the_core_default():
    """The parser takes its defaults from FaceConfig (no second copy of them that could drift)."""
    assert _faces([]) == FaceConfig()


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
    unrecorded = replace(PRE, max_side_px=None, decode_scale=None)  # a bundle that leaves the choice to us
    d = analyze_config(_parse(["--decode-scale", "1", "--max-side", "1920"]), unrecorded).decode
    assert (d.scale, d.max_side_px, d.min_side_px) == (1.0, 1920, 640)
    assert analyze_config(_parse([]), PRE).decode.scale == pytest.approx(2 / 3, abs=1e-3)
