import pytest
import torch

from emotrace.model.alexnet import ImprovedAlexNet
from emotrace.model.config import ModelConfig
from emotrace.model.fused import FusedEmotionModel, n_parameters


@pytest.mark.parametrize("size", [32, 64, 96])
def test_embedding_shape_for_any_crop_size(size):
    net = ImprovedAlexNet(embed_dim=24).eval()
    out = net(torch.randn(3, 3, size, size))
    assert out.shape == (3, 24)
    assert bool((out >= 0).all())  # ends in ReLU


def test_default_sizes_stay_within_cpu_budget():
    # ~1M parameters was the budget for ~2 ms per 64 px crop on 2 cores (docs/model.md).
    assert n_parameters(ImprovedAlexNet()) < 1_000_000
    assert n_parameters(FusedEmotionModel(ModelConfig(n_audio_features=25))) < 1_000_000


def test_batchnorm_not_lrn():
    net = ImprovedAlexNet()
    kinds = {type(m) for m in net.modules()}
    assert torch.nn.BatchNorm2d in kinds
    assert torch.nn.LocalResponseNorm not in kinds
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == 5


def test_rejects_wrong_layer_count():
    with pytest.raises(ValueError, match="5 conv layers"):
        ImprovedAlexNet(channels=(8, 8, 8))


def test_folded_batchnorm_gives_the_same_embeddings():
    torch.manual_seed(0)
    net = ImprovedAlexNet(embed_dim=24)
    net.train()
    net(torch.randn(16, 3, 64, 64) * 3 + 1)  # moves the running stats away from (0, 1)
    net.eval()
    x = torch.randn(5, 3, 64, 64)
    with torch.no_grad():
        before = net(x)
        folded = net.fold_batchnorm()
        after = folded(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, torch.nn.Conv2d) for m in folded.modules()) == 5
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_fold_batchnorm_refuses_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        ImprovedAlexNet().train().fold_batchnorm()
