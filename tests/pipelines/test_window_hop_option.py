"""--window-hop-s reaches GridConfig.hop_steps: analyze overlaps windows by default (issue 14)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from emotrace.pipelines.options import OneLineParser, add_analyze_args, analyze_config
from emotrace.schemas.config import GridConfig
from tests.pipelines.bundle_contract import PRE


def _grid(argv: list[str], window_steps: int = 25) -> GridConfig:
    parser = OneLineParser(prog="emotrace analyze")  # the parser analyze uses: one-line errors, exit 2
    add_analyze_args(parser)
    args = parser.parse_args(["--input", "in", "--output", "out", *argv])
    return analyze_config(args, replace(PRE, window_steps=window_steps)).grid


def test_a_window_starts_every_second_by_default():
    grid = _grid([])
    assert (grid.window_steps, grid.hop) == (25, 5)


@pytest.mark.parametrize(
    ("hop_s", "window_steps", "hop"),
    [("5", 25, 25), ("60", 25, 25), ("0.2", 25, 1), ("0.01", 25, 1), ("1", 3, 3), ("0.5", 25, 2)],
)
def test_the_hop_is_whole_steps_within_one_window(hop_s, window_steps, hop):
    assert _grid(["--window-hop-s", hop_s], window_steps).hop == hop


@pytest.mark.parametrize("hop_s", ["0", "-1", "nan"])
def test_a_hop_that_is_not_positive_is_refused(hop_s):
    with pytest.raises(SystemExit, match="--window-hop-s"):
        _grid(["--window-hop-s", hop_s])


def test_training_windows_stay_back_to_back():
    assert GridConfig().hop == GridConfig().window_steps
    with pytest.raises(ValueError, match="hop_steps"):
        GridConfig(hop_steps=26)
