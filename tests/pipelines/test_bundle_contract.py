"""The model bundle's preprocessing contract, enforced where analyze starts (issue 17): an option that
contradicts what the model was trained on is refused with advice, and a bundle whose audio input is not
what this version extracts is refused at load. Through ``emotrace analyze`` itself, before any work."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from emotrace.model.bundle import ModelBundle, save_bundle
from emotrace.pipelines import cli
from emotrace.pipelines.options import OneLineParser, add_analyze_args, analyze_config
from emotrace.schemas.config import DecodeConfig
from emotrace.schemas.preprocessing import Preprocessing
from emotrace.transforms.inference import default_bundle, fits_extractor

pytestmark = pytest.mark.pipeline


def _analyze(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[int, str]:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")  # never opened when the command is refused
    code = cli.main(["analyze", "--input", str(video), "--output", str(tmp_path / "out"), *argv])
    return code, capsys.readouterr().err.strip()


def _saved(bundle: ModelBundle, path: Path) -> str:
    save_bundle(bundle, str(path))
    return str(path)


def _recording(max_side_px: int | None, decode_scale: float | None = 0.5) -> ModelBundle:
    """The default bundle's weights with a contract that records (or not) a decode size."""
    bundle = default_bundle()
    pre = dataclasses.replace(bundle.preprocessing, max_side_px=max_side_px, decode_scale=decode_scale)
    return dataclasses.replace(bundle, preprocessing=pre)


@pytest.mark.parametrize(
    ("option", "field", "words"),
    [
        ("--frame-rate", "frame_rate_hz", "frame rate"),
        ("--max-side", "max_side_px", "decode size"),
        ("--decode-scale", "decode_scale", "decode size"),
        ("--step", "step_s", "grid"),
    ],
)
def test_an_option_that_contradicts_the_bundle_is_refused_with_advice(capsys, tmp_path, option, field, words):
    bundle = _recording(480)
    recorded = getattr(bundle.preprocessing, field)
    model = _saved(bundle, tmp_path / "bundle.pt")
    other = recorded / 2 if option == "--decode-scale" else recorded * 2  # within the option's range
    code, err = _analyze(capsys, tmp_path, "--model", model, option, f"{other:g}")
    assert code == 2 and err.startswith("emotrace analyze: error: argument " + option), err
    assert f"differs from the model bundle's {recorded:g}" in err and words in err, err
    assert f"omit {option}" in err and "\n" not in err
    assert not list((tmp_path / "out").rglob("*.parquet"))  # refused before any work


def test_the_recorded_value_is_the_default_and_an_unrecorded_one_is_free():
    parser = OneLineParser(prog="emotrace analyze")
    add_analyze_args(parser)

    def decode(pre: Preprocessing, *argv: str) -> DecodeConfig:
        return analyze_config(parser.parse_args(["--input", "i", "--output", "o", *argv]), pre).decode

    pre = _recording(480).preprocessing
    assert decode(pre).max_side_px == 480 and decode(pre).frame_rate_hz == pre.frame_rate_hz
    assert decode(pre, "--max-side", "480", "--frame-rate", f"{pre.frame_rate_hz:g}").max_side_px == 480
    # A bundle from before decode sizes were recorded: --max-side is the user's, else the pipeline's.
    legacy = _recording(None, None).preprocessing
    assert decode(legacy, "--max-side", "320").max_side_px == 320
    assert decode(legacy, "--decode-scale", "1").scale == 1.0
    assert (decode(legacy).max_side_px, decode(legacy).scale) == (
        DecodeConfig().max_side_px,
        DecodeConfig().scale,
    )


def test_a_bundle_whose_audio_features_differ_is_refused_at_load(capsys, tmp_path):
    bundle = default_bundle()
    names = list(bundle.audio_feature_names)
    renamed = dataclasses.replace(bundle, audio_feature_names=(*names[:-1], "loudness_p99"))
    swapped = dataclasses.replace(bundle, audio_feature_names=(names[1], names[0], *names[2:]))
    other_hop = dataclasses.replace(
        bundle, preprocessing=dataclasses.replace(bundle.preprocessing, hop_s=0.02)
    )
    for broken, words in ((renamed, "loudness_p99"), (swapped, "(order)"), (other_hop, "every 0.02 s")):
        with pytest.raises(ValueError, match="audio"):
            fits_extractor(broken)
        code, err = _analyze(capsys, tmp_path, "--model", _saved(broken, tmp_path / "b.pt"))
        assert code == 2 and "argument --model" in err and words in err, err
    code, err = _analyze(capsys, tmp_path, "--model", _saved(bundle, tmp_path / "ok.pt"), "--run-id", "x")
    assert "--model" not in err  # the same bundle, unchanged, passes the check
