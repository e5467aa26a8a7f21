"""Lin's concordance correlation coefficient (CCC), the AVEC / RECOLA metric, in numpy and torch.

    CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)

with population (1/N) moments, as in AVEC 2016 and ``audmetric.concordance_cc``.

Policy, identical in both versions and to ``audmetric.concordance_cc(..., ignore_nan=True)`` (tested to
1e-6):

* pairs where either value is NaN (or masked out, torch) are dropped;
* fewer than 2 remaining pairs -> NaN;
* zero denominator -> NaN. That happens only when both series are constant *and* equal; a constant
  prediction against a varying gold gives 0, and two different constants give 0 (numerator 0,
  denominator (mean difference)^2 > 0).

Callers that average CCC over many videos must decide what a NaN video means; the loss
(``emotrace.model.loss``) drops such terms.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike


def ccc(pred: ArrayLike, gold: ArrayLike) -> float:
    """CCC of two equally long 1-D series (any float dtype; computed in float64). NaN pairs dropped."""
    x = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(gold, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"pred and gold differ in length: {x.size} vs {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = x.size
    if n < 2:
        return float("nan")
    mx, my = x.mean(), y.mean()
    a, b = x - mx, y - my
    num = 2.0 * np.dot(a, b)
    den = np.dot(a, a) + np.dot(b, b) + n * (mx - my) ** 2
    return float(num / den) if den != 0 else float("nan")


def ccc_torch(pred: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Differentiable CCC pooled over all elements of ``pred``/``gold`` (same shape) where ``mask``
    (bool, same shape; default all) is True and neither value is NaN. Returns a 0-d tensor in the
    inputs' dtype; NaN in the cases listed in the module docstring.

    Undefined cases never produce NaN *gradients*: means use max(n, 1) and the division uses a safe
    denominator, and the NaN is only selected at the end with ``torch.where``.
    """
    if pred.shape != gold.shape:
        raise ValueError(f"pred and gold shapes differ: {list(pred.shape)} vs {list(gold.shape)}")
    keep = ~(torch.isnan(pred) | torch.isnan(gold))
    if mask is not None:
        keep = keep & mask
    w = keep.to(pred.dtype)
    # Zero dropped values *before* multiplying: NaN * 0 is NaN.
    x = torch.where(keep, pred, torch.zeros_like(pred))
    y = torch.where(keep, gold, torch.zeros_like(gold))
    n = w.sum()
    n_safe = n.clamp_min(1.0)
    mx = (w * x).sum() / n_safe
    my = (w * y).sum() / n_safe
    a = (x - mx) * w
    b = (y - my) * w
    num = 2.0 * (a * b).sum()
    den = (a * a).sum() + (b * b).sum() + n * (mx - my) ** 2
    ok = (n >= 2) & (den != 0)
    value = num / torch.where(ok, den, torch.ones_like(den))
    return torch.where(ok, value, torch.full_like(value, float("nan")))
