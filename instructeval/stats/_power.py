"""Decisions about a paired difference: equivalence within a margin (TOST), and power (MDE, examples needed).

Both use the paired t-test on per-example differences: its standard error `se` and degrees of freedom `df` are
sd / sqrt(n) and n - 1, or the clustered stderr and C - 1 where a task declares clusters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from scipy.optimize import brentq
from scipy.stats import nct
from scipy.stats import t as student_t

POWER = 0.8
"""The conventional power at which minimum detectable effects and sample sizes are stated."""


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests (Schuirmann 1987) of |mean difference| < margin; `p_value` is the larger one-sided p."""

    margin: float
    p_value: float
    p_lower: float
    p_upper: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)


def equivalence_test(mean: float, se: float, df: float, margin: float) -> Equivalence:
    """TOST of H0: |difference| >= margin against |difference| < margin, from the paired t statistics.

    p_lower tests difference <= -margin, p_upper difference >= margin; equivalence at level alpha when
    p_value < alpha, i.e. when the (1 - 2 alpha) interval lies inside (-margin, margin). Without any spread
    (se = 0: the pairs never differ) the t statistics are undefined and nothing is shown: p = 1.
    """
    if margin <= 0.0:
        raise ValueError(f"the equivalence margin must be positive, got {margin}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if se == 0.0:
        return Equivalence(margin, 1.0, 1.0, 1.0)
    p_lower = float(student_t.sf((mean + margin) / se, df))
    p_upper = float(student_t.cdf((mean - margin) / se, df))
    return Equivalence(margin, max(p_lower, p_upper), p_lower, p_upper)


def t_test_power(effect: float, se: float, df: float, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test at level alpha when the true difference is `effect`."""
    critical = float(student_t.ppf(1.0 - alpha / 2.0, df))
    noncentrality = abs(effect) / se
    wrong_side = float(nct.cdf(-critical, df, noncentrality))  # SciPy returns nan where this underflows
    return float(nct.sf(critical, df, noncentrality)) + (wrong_side if math.isfinite(wrong_side) else 0.0)


def minimum_detectable_effect(se: float, df: float, alpha: float = 0.05, power: float = POWER) -> float | None:
    """The smallest difference the two-sided paired t-test detects with `power` (None without variance)."""
    if not 0.0 < power < 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
    if se <= 0.0 or df <= 0:
        return None
    high = 1.0
    while t_test_power(high, 1.0, df, alpha) < power:
        high *= 2.0
    noncentrality = brentq(lambda nc: t_test_power(nc, 1.0, df, alpha) - power, 0.0, high, xtol=1e-12)
    return float(noncentrality) * se


def pairs_needed(
    sd: float, effect: float, alpha: float = 0.05, power: float = POWER, design_effect: float = 1.0
) -> int:
    """The fewest paired examples for which the two-sided paired t-test detects `effect` with `power`.

    `sd` is the standard deviation of one example's difference; `design_effect` (clustered variance over naive)
    scales the count for clustered tasks.
    """
    if effect == 0.0 or sd <= 0.0:
        raise ValueError(f"pairs_needed needs a non-zero effect and a positive sd, got {effect} and {sd}")
    n = 2
    while t_test_power(effect, sd / math.sqrt(n), n - 1, alpha) < power:
        n = n * 2
    low = n // 2
    while low + 1 < n:  # smallest n with enough power: power grows with n
        middle = (low + n) // 2
        if t_test_power(effect, sd / math.sqrt(middle), middle - 1, alpha) >= power:
            n = middle
        else:
            low = middle
    return math.ceil(n * design_effect)
