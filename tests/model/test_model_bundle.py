import io

import numpy as np
import pytest
import torch

from emotrace.model.bundle import ModelBundle, load_bundle, make_untrained_bundle, save_bundle
from emotrace.model.config import ModelConfig
from emotrace.model.predict import predict_windows
from emotrace.schemas.config import AudioConfig, DecodeConfig

NAMES = ["f0_mean", "loudness", "hnr", "jitter", "shimmer", "alpha_ratio"]


def test_untrained_version_is_deterministic_and_labelled(tiny):
    a = make_untrained_bundle(NAMES, seed=0, **tiny)
    b = make_untrained_bundle(NAMES, seed=0, **tiny)
    c = make_untrained_bundle(NAMES, seed=1, **tiny)
    assert a.version == b.version
    assert a.version != c.version
    assert a.version.startswith("untrained-demo-") and len(a.version) == len("untrained-demo-") + 10
    int(a.version.removeprefix("untrained-demo-"), 16)  # hex
    assert not a.is_trained and a.training_fingerprint is None and a.metrics == {}
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k])


def test_untrained_bundle_contents(tiny):
    bundle = make_untrained_bundle(NAMES, **tiny)
    np.testing.assert_array_equal(bundle.audio_mean, 0.0)
    np.testing.assert_array_equal(bundle.audio_std, 1.0)
    assert bundle.audio_feature_names == tuple(NAMES)
    pre, decode, audio = bundle.preprocessing, DecodeConfig(), AudioConfig()
    # The model's own grid and crop; the pipeline's defaults for what an untrained model saw nothing of.
    assert (pre.step_s, pre.window_steps, pre.crop_size_px) == (0.2, 10, 32)
    assert (pre.frame_rate_hz, pre.max_side_px, pre.decode_scale) == (
        decode.frame_rate_hz,
        decode.max_side_px,
        decode.scale,
    )
    assert (pre.sample_rate_hz, pre.hop_s, pre.crop_format) == (
        audio.sample_rate_hz,
        audio.hop_s,
        "uint8 RGB HWC",
    )
    assert bundle.model_config == ModelConfig(n_audio_features=len(NAMES), **tiny)


def test_make_untrained_bundle_leaves_global_rng_alone(tiny):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_untrained_bundle(NAMES, seed=7, **tiny)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("via", ["bytesio", "path"])
def test_round_trip_gives_identical_outputs(via, tiny, make_batch, tmp_path):
    bundle = make_untrained_bundle(NAMES, seed=3, **tiny)
    # Non-trivial audio statistics must survive too.
    bundle.state_dict["audio_mean"].copy_(torch.arange(6.0))
    bundle.state_dict["audio_std"].copy_(torch.arange(1.0, 7.0))
    bundle = ModelBundle(
        **{**bundle.__dict__, "training_fingerprint": "abc123", "metrics": {"dev_ccc_arousal": 0.5}}
    )
    if via == "bytesio":
        buf = io.BytesIO()
        save_bundle(bundle, buf)
        buf.seek(0)
        loaded = load_bundle(buf)
    else:
        path = tmp_path / "model.pt"
        save_bundle(bundle, path)
        loaded = load_bundle(str(path))
    assert loaded.version == bundle.version
    assert loaded.config == bundle.config
    assert loaded.audio_feature_names == bundle.audio_feature_names
    assert loaded.preprocessing == bundle.preprocessing
    assert loaded.training_fingerprint == "abc123" and loaded.metrics == {"dev_ccc_arousal": 0.5}
    np.testing.assert_array_equal(loaded.audio_mean, np.arange(6.0))
    batch = make_batch(b=2, w=10, seed=4)
    before = predict_windows(bundle.build_model(), **batch)
    after = predict_windows(loaded.build_model(), **batch)
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x, y)


def test_build_model_is_in_eval_mode(tiny):
    model = make_untrained_bundle(NAMES, **tiny).build_model()
    assert not model.training
    assert all(not m.training for m in model.modules())


def test_load_rejects_non_bundles(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not an emotrace model bundle"):
        load_bundle(path)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable emotrace model bundle"):
        load_bundle(tmp_path / "junk.pt")


def test_feature_names_must_match_config(tiny):
    bundle = make_untrained_bundle(NAMES, **tiny)
    with pytest.raises(ValueError, match="expects 6"):
        ModelBundle(**{**bundle.__dict__, "audio_feature_names": NAMES[:3]})


def test_config_round_trip_and_unknown_keys():
    cfg = ModelConfig(n_audio_features=4, temporal="tcn", face_channels=(8, 8, 8, 8, 8))
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="newer emotrace"):
        ModelConfig.from_dict({**cfg.to_dict(), "future_knob": 1})
    # Written before fusion kinds existed: those bundles summed the modalities, and still load so.
    old = {k: v for k, v in cfg.to_dict().items() if k != "fusion"}
    assert cfg.fusion == "concat" and ModelConfig.from_dict(old).fusion == "sum"


class _NonSeekable(io.RawIOBase):
    """A stream like a pipe or some remote readers: read() only."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b) -> int:
        return self._buf.readinto(b)


def test_load_from_non_seekable_stream(tiny):
    bundle = make_untrained_bundle(NAMES, **tiny)
    buf = io.BytesIO()
    save_bundle(bundle, buf)
    loaded = load_bundle(io.BufferedReader(_NonSeekable(buf.getvalue())))
    assert loaded.version == bundle.version


LEGACY = {  # what bundles wrote before the contract was typed (issue 17): no decode size
    "crop_size_px": 32, "crop_format": "uint8 RGB HWC", "sample_rate_hz": 16000, "hop_s": 0.01,
    "step_s": 0.2, "window_steps": 10, "frame_rate_hz": 5.0,
}  # fmt: skip


def _resaved(bundle, preprocessing: dict) -> io.BytesIO:
    buf = io.BytesIO()
    save_bundle(bundle, buf)
    buf.seek(0)
    payload = torch.load(buf, weights_only=True)
    payload["preprocessing"] = preprocessing
    out = io.BytesIO()
    torch.save(payload, out)
    out.seek(0)
    return out


def test_the_preprocessing_contract_round_trips_typed_and_reads_older_bundles(tiny):
    bundle = make_untrained_bundle(NAMES, **tiny)
    assert load_bundle(_resaved(bundle, bundle.preprocessing.to_dict())).preprocessing == bundle.preprocessing
    legacy = load_bundle(_resaved(bundle, LEGACY)).preprocessing
    assert legacy.max_side_px is None and legacy.frame_rate_hz == 5.0  # not recorded: the pipeline decides
    with pytest.raises(ValueError, match=r"does not know: \['decode_gamma'\]"):
        load_bundle(_resaved(bundle, {**LEGACY, "decode_gamma": 2.2}))
