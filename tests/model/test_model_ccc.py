import audmetric
import numpy as np
import pytest
import torch

from emotrace.model.ccc import ccc, ccc_torch

NAN = float("nan")


def reference(pred, gold) -> float:
    return audmetric.concordance_cc(np.asarray(gold, float), np.asarray(pred, float), ignore_nan=True)


def both(pred, gold) -> tuple[float, float]:
    t = ccc_torch(torch.tensor(pred, dtype=torch.float64), torch.tensor(gold, dtype=torch.float64))
    return ccc(pred, gold), float(t)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [2, 7, 500])
def test_random_series_match_audmetric(seed, n):
    rng = np.random.default_rng(seed)
    gold = rng.uniform(-1, 1, n)
    pred = 0.6 * gold + rng.normal(0.1, 0.3, n)
    expected = reference(pred, gold)
    for value in both(pred, gold):
        assert value == pytest.approx(expected, abs=1e-6)


EDGE_CASES = {
    "identical": ([0.1, 0.5, -0.3], [0.1, 0.5, -0.3]),  # 1
    "negated, zero mean": ([1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]),  # -1
    "constant pred, varying gold": ([0.2, 0.2, 0.2], [0.1, 0.5, -0.3]),  # 0
    "two different constants": ([0.2, 0.2, 0.2], [0.4, 0.4, 0.4]),  # 0
    "same constant": ([0.3, 0.3, 0.3], [0.3, 0.3, 0.3]),  # nan
    "single pair": ([0.3], [0.1]),  # nan
    "nan dropped": ([0.1, NAN, 0.4, 0.2, 0.9], [0.0, 0.5, NAN, 0.3, 0.7]),
    "one pair left after nan": ([0.1, NAN, 0.4], [0.0, 0.5, NAN]),  # nan
    "all nan": ([NAN, NAN], [NAN, NAN]),  # nan
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_cases_match_audmetric(case):
    pred, gold = EDGE_CASES[case]
    expected = reference(pred, gold)
    for value in both(pred, gold):
        if np.isnan(expected):
            assert np.isnan(value)
        else:
            assert value == pytest.approx(expected, abs=1e-6)


def test_edge_case_values_are_the_documented_ones():
    assert ccc(*EDGE_CASES["identical"]) == pytest.approx(1.0)
    assert ccc(*EDGE_CASES["negated, zero mean"]) == pytest.approx(-1.0)
    assert ccc(*EDGE_CASES["constant pred, varying gold"]) == pytest.approx(0.0, abs=1e-12)
    assert ccc(*EDGE_CASES["two different constants"]) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(ccc(*EDGE_CASES["same constant"]))


def test_torch_mask_equals_dropping_pairs():
    rng = np.random.default_rng(0)
    pred, gold = rng.normal(size=(2, 4, 25))
    mask = rng.random((4, 25)) < 0.6
    got = ccc_torch(torch.tensor(pred), torch.tensor(gold), torch.tensor(mask))
    assert float(got) == pytest.approx(ccc(pred[mask], gold[mask]), abs=1e-9)


def test_torch_undefined_case_has_finite_zero_gradient():
    pred = torch.tensor([0.3, NAN, 0.5], requires_grad=True)
    gold = torch.tensor([0.1, 0.2, NAN])
    value = ccc_torch(pred, gold)
    assert torch.isnan(value)
    torch.where(torch.isnan(value), torch.zeros(()), value).backward()
    assert pred.grad is not None
    assert bool((pred.grad == 0).all())


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="length"):
        ccc([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="shapes differ"):
        ccc_torch(torch.zeros(2), torch.zeros(3))
