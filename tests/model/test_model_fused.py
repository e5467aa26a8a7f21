import numpy as np
import pytest
import torch

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.needs_cuda)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("temporal", ["gru", "tcn"])
def test_shapes_and_range(device, temporal, make_batch, to_torch, tiny_model):
    model = tiny_model(temporal=temporal).to(device)
    batch = make_batch(b=4, w=10)
    # Extreme descriptors and float crops must still give outputs inside [-1, 1].
    batch["audio"] = batch["audio"] * 1e4
    with torch.no_grad():
        out = model(**to_torch(batch, device))
    assert out.arousal.shape == out.valence.shape == (4, 10)
    assert out.face_only.shape == out.audio_only.shape == (4, 10, 2)
    assert out.attention.shape == (4, 10, 2, 2)
    for t in out:
        assert t.device.type == device
        assert bool(torch.isfinite(t).all())
        assert float(t.abs().max()) <= 1.0


def test_float_faces_on_0_255_scale_match_uint8(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = to_torch(make_batch())
    with torch.no_grad():
        a = model(**batch)
        b = model(**{**batch, "faces": batch["faces"].float()})
    torch.testing.assert_close(a.arousal, b.arousal)


def test_attention_masks_modalities_exactly(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = make_batch(b=4, w=10, seed=1, face_frac=0.5, audio_frac=0.5)
    fm, am = batch["face_mask"], batch["audio_mask"]
    # Make sure every case occurs.
    fm[0, :4] = [True, True, False, False]
    am[0, :4] = [True, False, True, False]
    with torch.no_grad():
        att = model(**to_torch(batch)).attention.numpy()
    assert np.all(att[~fm][..., 0] == 0.0)
    assert np.all(att[~am][..., 1] == 0.0)
    both = fm & am
    np.testing.assert_allclose(att[fm | am].sum(-1), 1.0, atol=1e-6)
    assert np.all(att[fm & ~am][..., 0] == 1.0)
    assert np.all(att[am & ~fm][..., 1] == 1.0)
    assert np.all((att[both] > 0) & (att[both] < 1))
    np.testing.assert_array_equal(att[~fm & ~am], 0.0)


def test_only_masked_in_crops_reach_the_cnn(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = make_batch(b=3, w=10, seed=2)
    seen: list[int] = []
    model.face.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].shape[0]))
    with torch.no_grad():
        ref = model(**to_torch(batch))
        # Garbage in masked-out crops and descriptors (NaN) must not change anything.
        noisy = {k: v.copy() for k, v in batch.items()}
        noisy["faces"][~noisy["face_mask"]] = 255
        noisy["audio"][~noisy["audio_mask"]] = np.nan
        out = model(**to_torch(noisy))
    assert seen == [int(batch["face_mask"].sum())] * 2
    for a, b in zip(ref, out, strict=True):
        torch.testing.assert_close(a, b)


def test_no_faces_skips_the_cnn(make_batch, to_torch, tiny_model):
    model = tiny_model()
    calls: list[int] = []
    model.face.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        out = model(**to_torch(make_batch(face_frac=0.0, audio_frac=1.0)))
    assert calls == []
    assert bool((out.attention[..., 1] == 1).all())


def test_nan_descriptor_in_a_present_step_is_finite(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = make_batch(audio_frac=1.0)
    batch["audio"][:, :, 0] = np.nan  # e.g. F0 on unvoiced steps
    with torch.no_grad():
        out = model(**to_torch(batch))
    assert bool(torch.isfinite(out.arousal).all())


def test_audio_stats_are_applied(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = make_batch(audio_frac=1.0)
    shifted = {**batch, "audio": batch["audio"] * 3.0 + 5.0}
    with torch.no_grad():
        ref = model(**to_torch(batch))
        before = model(**to_torch(shifted))
        model.set_audio_stats(torch.full((6,), 5.0), torch.full((6,), 3.0))
        after = model(**to_torch(shifted))
    assert not torch.allclose(ref.arousal, before.arousal)
    torch.testing.assert_close(ref.arousal, after.arousal, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="std must be > 0"):
        model.set_audio_stats(torch.zeros(6), torch.zeros(6))


@pytest.mark.parametrize("fusion", ["concat", "sum"])
def test_unimodal_heads_equal_fused_path_when_other_modality_missing(
    fusion, make_batch, to_torch, tiny_model
):
    model = tiny_model(fusion=fusion)
    for face_frac, audio_frac, rows in ((1.0, 0.0, "face_only"), (0.0, 1.0, "audio_only")):
        batch = make_batch(face_frac=face_frac, audio_frac=audio_frac)
        with torch.no_grad():
            out = model(**to_torch(batch))
        torch.testing.assert_close(getattr(out, rows)[..., 0], out.arousal)
        torch.testing.assert_close(getattr(out, rows)[..., 1], out.valence)


def test_inference_without_unimodal_rows_gives_the_same_fused_output(make_batch, to_torch, tiny_model):
    model = tiny_model()
    batch = to_torch(make_batch(b=3, seed=4, face_frac=0.6, audio_frac=0.7))
    with torch.no_grad():
        full = model(**batch)
        fused_only = model(**batch, unimodal=False)
    assert fused_only.face_only is None and fused_only.audio_only is None
    torch.testing.assert_close(fused_only.arousal, full.arousal)
    torch.testing.assert_close(fused_only.attention, full.attention)


@pytest.mark.parametrize("per_dimension", [False, True])
def test_concat_fusion_keeps_each_modality_in_its_own_channels(
    per_dimension, make_batch, to_torch, tiny_model
):
    model = tiny_model(fusion="concat", attention_per_dimension=per_dimension)
    t = to_torch(make_batch(face_frac=1.0, audio_frac=1.0))
    h_face = model.encode_faces(t["faces"], t["face_mask"])
    h_audio = model.encode_audio(t["audio"], t["audio_mask"])
    with torch.no_grad():
        fo = model.fusion(h_face, h_audio, t["face_mask"], t["audio_mask"])
    hidden = model.fusion.hidden
    fused, weights = fo.fused, fo.weights
    if per_dimension:  # one fused vector and one weight pair per dimension (arousal, valence)
        assert fused.shape[-2:] == (2, 2 * hidden) and weights.shape[-2:] == (2, 2)
        assert not torch.allclose(weights[..., 0, :], weights[..., 1, :])
    else:
        fused, weights = fused.unsqueeze(-2), weights.unsqueeze(-2)
    for d in range(fused.shape[-2]):
        torch.testing.assert_close(fused[..., d, :hidden], weights[..., d, :1] * fo.z_face)
        torch.testing.assert_close(fused[..., d, hidden:], weights[..., d, 1:] * fo.z_audio)


def test_gradients_flow_to_every_branch(make_batch, to_torch, tiny_model):
    model = tiny_model().train()
    out = model(**to_torch(make_batch(seed=3)))
    (out.arousal.sum() + out.face_only.sum() + out.audio_only.sum()).backward()
    for name in ("face", "audio", "fusion", "temporal", "head"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads), name
        assert any(float(g.abs().sum()) > 0 for g in grads), name


@pytest.mark.parametrize(
    ("key", "shape", "match"),
    [("faces", (3, 10, 64, 64, 3), "crop_size_px is 32"), ("audio", (3, 10, 5), "feature count")],
)
def test_wrong_shapes_say_what_is_wrong(make_batch, to_torch, key, shape, match, tiny_model):
    batch = to_torch(make_batch())
    batch[key] = torch.zeros(shape, dtype=batch[key].dtype)
    with pytest.raises(ValueError, match=match):
        tiny_model()(**batch)
