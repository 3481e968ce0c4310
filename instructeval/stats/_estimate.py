"""How a score gets its uncertainty: stderr and confidence interval of a mean, and pooling over subtasks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import binomtest, norm, t

from instructeval.score import Score
from instructeval.stats._arrays import Kind, as_values, check_confidence, sample_stderr
from instructeval.stats._resample import DEFAULT_RESAMPLES, bca_interval, bootstrap_means


def summarize(
    values: ArrayLike,
    *,
    kind: Kind,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> Score:
    """Mean of per-example scores with stderr and a confidence interval chosen by `kind`.

    binary: Wilson score interval. The normal (Wald) interval collapses to zero width at 0 % or 100 %
    and undercovers for small n or extreme rates (Brown, Cai & DasGupta 2001); Wilson stays inside
    [0, 1] with near-nominal coverage, and is defined even for n = 1.
    bounded: Student-t interval on the mean (bounded scores have finite variance, so the CLT applies).
    continuous: BCa bootstrap with a fixed seed; heavy tails and skew make the t interval unreliable.
    """
    array = as_values(values, kind)
    check_confidence(confidence)
    n = int(array.size)
    if n == 0:
        return Score(value=None, stderr=None, ci_low=None, ci_high=None, n=0, ci_method=None, confidence=confidence)
    value = float(array.mean())
    stderr = sample_stderr(array)
    if kind == "binary":
        interval = binomtest(int(array.sum()), n).proportion_ci(confidence, method="wilson")
        return Score(
            value=value,
            stderr=stderr,
            ci_low=float(interval.low),
            ci_high=float(interval.high),
            n=n,
            ci_method="wilson",
            confidence=confidence,
        )
    if stderr is None:
        return Score(value=value, stderr=None, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=confidence)
    if kind == "bounded":
        half = float(t.ppf((1.0 + confidence) / 2.0, n - 1)) * stderr
        return Score(
            value=value,
            stderr=stderr,
            ci_low=value - half,
            ci_high=value + half,
            n=n,
            ci_method="t",
            confidence=confidence,
        )
    low, high = bca_interval(array, bootstrap_means(array, resamples, seed), confidence)
    return Score(
        value=value,
        stderr=stderr,
        ci_low=low,
        ci_high=high,
        n=n,
        ci_method="bootstrap-bca",
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def micro_average(
    groups: Sequence[ArrayLike],
    *,
    kind: Kind,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> Score:
    """Pooled mean over every example of every group (MMLU-style: each question weighs the same)."""
    pooled = np.concatenate([as_values(group, kind) for group in groups]) if groups else np.empty(0)
    return summarize(pooled, kind=kind, confidence=confidence, seed=seed, resamples=resamples)


def macro_average(
    estimates: Sequence[Score], *, confidence: float = 0.95, bounds: tuple[float, float] | None = None
) -> Score:
    """Mean of sub-task means (BBH-style: each task weighs the same), stderr sqrt(sum se^2) / k.

    The interval combines the sub-tasks' own intervals by MOVER (Zou & Donner 2008, "Construction of confidence
    limits about effect measures: a general approach", Stat. Med. 27:1693): low = mean - sqrt(sum (m_i - l_i)^2)
    / k, high = mean + sqrt(sum (u_i - m_i)^2) / k. With symmetric normal sub-intervals this is the normal
    interval of the mean; with Wilson sub-intervals it keeps their asymmetry, so tasks all at 0 % give [0, u]
    rather than a zero-width [0, 0]. When a sub-task has no interval at this confidence, the interval is normal
    from the stderrs. Either is clipped to `bounds` (e.g. (0, 1) for accuracies) where the metric cannot leave
    them. The value is None if any sub-task has none, and the stderr None if any sub-task's is undefined: a
    macro average over fewer tasks than asked for would silently be a different number.
    """
    check_confidence(confidence)
    k = len(estimates)
    n = sum(estimate.n for estimate in estimates)
    values = [estimate.value for estimate in estimates if estimate.value is not None]
    if k == 0 or len(values) < k:
        return Score(value=None, stderr=None, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=confidence)
    value = math.fsum(values) / k
    errors = [estimate.stderr for estimate in estimates if estimate.stderr is not None]
    stderr = math.sqrt(math.fsum(error**2 for error in errors)) / k if len(errors) == k else None
    interval = _mover_interval(estimates, value, confidence)
    if interval is not None:
        method = "macro-mover"
    elif stderr is not None:
        half = float(norm.ppf((1.0 + confidence) / 2.0)) * stderr
        interval, method = (value - half, value + half), "macro-normal"
    else:
        return Score(value=value, stderr=None, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=confidence)
    low, high = interval
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Score(value=value, stderr=stderr, ci_low=low, ci_high=high, n=n, ci_method=method, confidence=confidence)


def _mover_interval(estimates: Sequence[Score], value: float, confidence: float) -> tuple[float, float] | None:
    """MOVER limits of the equal-weight mean, or None unless every sub-task has an interval at `confidence`."""
    below, above = [], []
    for estimate in estimates:
        mean, low, high = estimate.value, estimate.ci_low, estimate.ci_high
        if mean is None or low is None or high is None or not math.isclose(estimate.confidence, confidence):
            return None
        below.append(mean - low)
        above.append(high - mean)
    k = len(estimates)
    return (
        value - math.sqrt(math.fsum(d * d for d in below)) / k,
        value + math.sqrt(math.fsum(d * d for d in above)) / k,
    )
