import numpy as np
import pytest
import torch

from emotrace.model.predict import predict_windows

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.needs_cuda)]


@pytest.mark.parametrize("device", DEVICES)
def test_predict_matches_forward_and_returns_numpy(device, tiny_model, make_batch, to_torch):
    model = tiny_model().to(device)
    batch = make_batch(b=3, w=10, seed=6)
    arousal, valence, attention = predict_windows(model, **batch)
    assert arousal.dtype == valence.dtype == attention.dtype == np.float32
    assert arousal.shape == valence.shape == (3, 10) and attention.shape == (3, 10, 2, 2)
    with torch.no_grad():
        out = model(**to_torch(batch, device))
    np.testing.assert_allclose(arousal, out.arousal.cpu().numpy(), atol=1e-6)
    np.testing.assert_allclose(valence, out.valence.cpu().numpy(), atol=1e-6)
    np.testing.assert_allclose(attention, out.attention.cpu().numpy(), atol=1e-6)


def test_batching_does_not_change_a_window(tiny_model, make_batch):
    # eval mode: BatchNorm uses running stats, so a window's prediction is independent of its batch.
    model = tiny_model()
    batch = make_batch(b=4, w=10, seed=7)
    full = predict_windows(model, **batch)
    one = predict_windows(model, **{k: v[1:2] for k, v in batch.items()})
    np.testing.assert_allclose(full[0][1:2], one[0], atol=1e-5)


def test_training_mode_is_refused(tiny_model, make_batch):
    with pytest.raises(ValueError, match="eval mode"):
        predict_windows(tiny_model().train(), **make_batch())


def test_served_copy_predicts_the_same_and_leaves_the_model_alone(tiny_model, make_batch):
    model = tiny_model()
    gen = torch.Generator().manual_seed(3)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        # Trained-looking statistics, so folding has something to fold.
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=gen))
        bn.running_var.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.weight.data.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
        bn.bias.data.copy_(torch.randn(bn.num_features, generator=gen))
    batch = make_batch(b=3, w=10, seed=8)
    served = model.for_inference()
    for got, want in zip(predict_windows(served, **batch), predict_windows(model, **batch), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in served.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # a copy was folded
