"""Length-controlled win rate (AlpacaEval 2): the win rate the judge would give at equal answer lengths.

A logistic regression of each pairwise outcome (win 1, tie 1/2, loss 0) on tanh(length difference / its
standard deviation), predicted at zero difference: sigmoid(intercept). When length explains the raw win
rate, the slope takes it and the controlled rate moves toward 1/2. A tiny ridge on the slope keeps the fit
finite when length separates the outcomes perfectly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

SLOPE_RIDGE = 1e-3


def length_controlled(outcomes: Sequence[float], length_differences: Sequence[float]) -> tuple[float, float]:
    """(controlled win rate, slope) from outcomes in [0, 1] and the model-minus-reference length per outcome."""
    y = np.asarray(outcomes, dtype=float)
    if len(y) != len(length_differences) or not len(y):
        raise ValueError(f"need as many length differences as outcomes, got {len(length_differences)} and {len(y)}")
    raw = float(y.mean())
    diffs = np.asarray(length_differences, dtype=float)
    spread = float(diffs.std())
    if raw in (0.0, 1.0):
        return raw, 0.0  # every outcome alike: no length effect to remove
    x = np.tanh(diffs / spread) if spread > 0 else np.zeros_like(diffs)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        eta = w[0] + w[1] * x
        value = -float(np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta))) + SLOPE_RIDGE * w[1] ** 2 / 2
        residual = expit(eta) - y
        return value, np.array([residual.sum(), (residual * x).sum() + SLOPE_RIDGE * w[1]])

    fit = minimize(loss, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-10})
    return float(expit(fit.x[0])), float(fit.x[1])
