"""``--face-detect-every`` reaches the face config (issue 6); the default keeps FaceConfig's."""

from __future__ import annotations

import argparse

from emotrace.pipelines.options import add_analyze_args, analyze_config
from emotrace.schemas.config import FaceConfig
from tests.pipelines.bundle_contract import PRE


def config_for(*extra: str) -> FaceConfig:
    parser = argparse.ArgumentParser()
    add_analyze_args(parser)
    args = parser.parse_args(["--input", "in", "--output", "out", *extra])
    return analyze_config(args, PRE).faces


def test_face_detect_every_option_sets_the_config() -> None:
    assert config_for("--face-detect-every", "1").detect_every_frames == 1
    assert config_for("--face-detect-every", "10").detect_every_frames == 10
    assert config_for("--face-detect-every", "5").detect_every_frames == 5
    assert config_for().detect_every_frames == FaceConfig().detect_every_frames
