import numpy as np
import pytest
import torch

from emotrace.model.ccc import ccc
from emotrace.model.fused import ModelOutput
from emotrace.model.loss import MissingModalityCCCLoss


def synthetic_output(pred: torch.Tensor, face: torch.Tensor, audio: torch.Tensor) -> ModelOutput:
    b, w, _ = pred.shape
    return ModelOutput(pred[..., 0], pred[..., 1], torch.zeros(b, w, 2), face, audio)


def masks(b: int = 2, w: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.rand(b, w, generator=g) < 0.9,
        torch.rand(b, w, generator=g) < 0.6,
        torch.rand(b, w, generator=g) < 0.6,
    )


def test_perfect_prediction_gives_zero():
    gold = torch.rand(2, 20, 2) * 2 - 1
    valid, fm, am = masks()
    loss = MissingModalityCCCLoss(0.5)(synthetic_output(gold, gold, gold), gold, valid, fm, am)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_formula_matches_numpy_ccc():
    torch.manual_seed(0)
    gold, pred, face, audio = (torch.rand(2, 20, 2, dtype=torch.float64) * 2 - 1 for _ in range(4))
    valid, fm, am = masks(seed=1)
    lam = 0.3
    got = MissingModalityCCCLoss(lam)(synthetic_output(pred, face, audio), gold, valid, fm, am)
    g, v, f, a = gold.numpy(), valid.numpy(), fm.numpy(), am.numpy()
    expected = sum(
        (1 - ccc(pred.numpy()[..., d][v], g[..., d][v]))
        + lam
        * (
            (1 - ccc(face.numpy()[..., d][v & f], g[..., d][v & f]))
            + (1 - ccc(audio.numpy()[..., d][v & a], g[..., d][v & a]))
        )
        for d in range(2)
    )
    assert float(got) == pytest.approx(expected, abs=1e-9)


def test_invalid_and_unlabelled_steps_do_not_count():
    torch.manual_seed(1)
    gold, pred = torch.rand(2, 20, 2) * 2 - 1, torch.rand(2, 20, 2) * 2 - 1
    valid, fm, am = masks(seed=2)
    loss_fn = MissingModalityCCCLoss(0.5)
    ref = loss_fn(synthetic_output(pred, pred, pred), gold, valid, fm, am)
    changed = gold.clone()
    changed[~valid] = 5.0
    assert float(loss_fn(synthetic_output(pred, pred, pred), changed, valid, fm, am)) == pytest.approx(
        float(ref)
    )
    # NaN gold is "unlabelled": same as marking the step invalid.
    nan_gold = gold.clone()
    nan_gold[~valid] = float("nan")
    all_valid = torch.ones_like(valid)
    assert float(loss_fn(synthetic_output(pred, pred, pred), nan_gold, all_valid, fm, am)) == pytest.approx(
        float(ref)
    )


def test_batch_without_faces_still_trains_audio_path():
    gold = torch.rand(2, 20, 2) * 2 - 1
    pred = torch.zeros(2, 20, 2, requires_grad=True)
    audio = (torch.rand(2, 20, 2) * 0.1).requires_grad_()
    valid, _, am = masks(seed=3)
    no_face = torch.zeros_like(valid)
    terms = MissingModalityCCCLoss(0.5).terms(
        synthetic_output(pred + 0.1 * gold, pred, audio), gold, valid, no_face, am
    )
    assert bool(torch.isnan(terms.face_ccc).all())
    assert bool(torch.isfinite(terms.total))
    terms.total.backward()
    assert bool(torch.isfinite(audio.grad).all()) and float(audio.grad.abs().sum()) > 0


def test_lambda_zero_ignores_unimodal_heads():
    gold = torch.rand(2, 20, 2) * 2 - 1
    valid, fm, am = masks()
    loss_fn = MissingModalityCCCLoss(0.0)
    a = loss_fn(synthetic_output(gold, torch.zeros_like(gold), torch.zeros_like(gold)), gold, valid, fm, am)
    assert float(a) == pytest.approx(0.0, abs=1e-6)


def test_loss_decreases_when_training_a_tiny_model(tiny_model, make_batch, to_torch):
    """A real learning check: 100 Adam steps on one fixed batch lower the loss substantially."""
    torch.manual_seed(0)
    model = tiny_model(dropout=0.0).train()
    batch = to_torch(make_batch(b=4, w=10, seed=5, face_frac=0.7, audio_frac=0.7))
    t = torch.linspace(0, 2 * np.pi, 10)
    phase = torch.rand(4, 1, 2) * 2 * np.pi
    gold = 0.8 * torch.sin(t[None, :, None] + phase)  # smooth per-window traces, [4, 10, 2]
    valid = torch.ones(4, 10, dtype=torch.bool)
    loss_fn = MissingModalityCCCLoss(0.5)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(**batch), gold, valid, batch["face_mask"], batch["audio_mask"])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert min(losses[-5:]) < 0.1 * losses[0], (losses[0], losses[-5:])
