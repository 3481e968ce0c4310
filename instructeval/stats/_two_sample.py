"""Two disjoint sets of examples (a task's contaminated and clean subsets): the difference and its test."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import fisher_exact, ttest_ind

from instructeval.score import Score
from instructeval.stats._arrays import Kind, as_values
from instructeval.stats._significance import TestResult


def difference_of_independent_means(a: Score, b: Score) -> Score:
    """b - a for two independent samples, its interval by MOVER from each side's own interval.

    low = d - sqrt((b - l_b)^2 + (u_a - a)^2), high = d + sqrt((u_b - b)^2 + (a - l_a)^2) (Newcombe 1998 for
    Wilson intervals; Zou & Donner 2008 in general), so the asymmetry of a 0 % or 100 % side is kept.
    """
    n = a.n + b.n
    if a.value is None or b.value is None:
        return Score(value=None, stderr=None, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=a.confidence)
    value = b.value - a.value
    stderr = math.hypot(a.stderr, b.stderr) if a.stderr is not None and b.stderr is not None else None
    if None in (a.ci_low, a.ci_high, b.ci_low, b.ci_high) or not math.isclose(a.confidence, b.confidence):
        return Score(
            value=value, stderr=stderr, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=a.confidence
        )
    assert a.ci_low is not None and a.ci_high is not None and b.ci_low is not None and b.ci_high is not None
    low = value - math.hypot(b.value - b.ci_low, a.ci_high - a.value)
    high = value + math.hypot(b.ci_high - b.value, a.value - a.ci_low)
    return Score(value=value, stderr=stderr, ci_low=low, ci_high=high, n=n, ci_method="mover", confidence=a.confidence)


def two_sample_test(a: ArrayLike, b: ArrayLike, kind: Kind) -> TestResult:
    """Two-sided test of equal means: Fisher's exact test for 0/1 outcomes, Welch's t-test otherwise."""
    first, second = as_values(a, kind), as_values(b, kind)
    n = int(first.size + second.size)
    if first.size == 0 or second.size == 0:
        return TestResult("none (an empty side)", None, 1.0, n)
    if kind == "binary":
        table = [[int(side.sum()), int(side.size - side.sum())] for side in (first, second)]
        statistic, p_value = fisher_exact(table)
        return TestResult("fisher_exact", float(statistic), float(p_value), n)
    if first.size < 2 or second.size < 2 or not (np.any(first != first[0]) or np.any(second != second[0])):
        return TestResult("none (too few or constant values)", None, 1.0, n)
    result = ttest_ind(second, first, equal_var=False)
    return TestResult("welch_t", float(result.statistic), float(result.pvalue), n)
