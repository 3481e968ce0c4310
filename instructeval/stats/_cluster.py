"""Uncertainty when examples come in clusters (DROP's questions share a passage): clustered stderr, CI, bootstrap.

Questions on one passage succeed or fail together more often than independent ones, so the usual stderr,
which counts every question as new information, is too small (Miller 2024, "Adding Error Bars to Evals",
arXiv:2411.00640, section 2.2 and appendix A). The clustered stderr sums the deviations within each cluster
before squaring them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import t

from instructeval.score import Score
from instructeval.stats._arrays import Kind, as_pairs, as_values, check_confidence
from instructeval.stats._estimate import summarize
from instructeval.stats._paired import paired_bootstrap_ci
from instructeval.stats._resample import DEFAULT_RESAMPLES

_BATCH_ELEMENTS = 1_000_000
"""Cluster weights held in memory at once while bootstrapping (8 MB of float64)."""


def cluster_labels(clusters: Sequence[object], n: int) -> NDArray[np.int64]:
    """Each example's cluster as an index 0..C-1; one label per example is required."""
    if len(clusters) != n:
        raise ValueError(f"expected one cluster label per example, got {len(clusters)} labels for {n} examples")
    _, labels = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    return np.asarray(labels, dtype=np.int64).reshape(-1)


def clustered_stderr(values: ArrayLike, clusters: Sequence[object]) -> float | None:
    """Cluster-robust standard error of the mean: sqrt(C / (C - 1) * sum_c (sum_{i in c} (x_i - mean))^2) / n.

    Miller's equation with the finite-cluster factor C / (C - 1), as inspect's `stderr(cluster=...)` computes
    it; with one example per cluster it equals the naive stderr (ddof = 1). None below two clusters.
    """
    array = as_values(values)
    labels = cluster_labels(clusters, array.size)
    count = int(labels.max()) + 1 if labels.size else 0
    if count < 2:
        return None
    within = np.bincount(labels, weights=array - array.mean(), minlength=count)
    return float(math.sqrt(count / (count - 1) * float(np.sum(within**2))) / array.size)


def summarize_clustered(
    values: ArrayLike,
    clusters: Sequence[object],
    *,
    kind: Kind,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> Score:
    """The mean with a clustered stderr and interval; `naive` keeps the estimate that treats examples as independent.

    binary: Wilson interval at the effective sample size n_eff = p (1 - p) / se_clustered^2 (capped at n, so
    the interval is never narrower than the naive one; Korn & Graubard 1998 do the same for Clopper-Pearson),
    with the t quantile on C - 1 degrees of freedom in place of z. bounded and continuous: mean ± t_{C-1} *
    se_clustered. Below two clusters there is no clustered interval and the naive estimate is returned.
    """
    array = as_values(values, kind)
    check_confidence(confidence)
    naive = summarize(array, kind=kind, confidence=confidence, seed=seed, resamples=resamples)
    labels = cluster_labels(clusters, array.size)
    count = int(labels.max()) + 1 if labels.size else 0
    stderr = clustered_stderr(array, clusters) if count >= 2 else None
    if stderr is None or naive.value is None:
        return naive
    quantile = float(t.ppf((1.0 + confidence) / 2.0, count - 1))
    if kind == "binary":
        low, high = _wilson(naive.value, _effective_n(naive.value, stderr, array.size), quantile)
        method = "wilson-clustered"
    else:
        low, high = naive.value - quantile * stderr, naive.value + quantile * stderr
        method = "t-clustered"
    return Score(
        value=naive.value,
        stderr=stderr,
        ci_low=low,
        ci_high=high,
        n=naive.n,
        ci_method=method,
        confidence=confidence,
        clusters=count,
        naive=naive,
    )


def _effective_n(p: float, stderr: float, n: int) -> float:
    """n divided by the design effect; n itself when the clusters show no extra variance (or p is 0 or 1)."""
    if stderr == 0.0:
        return float(n)
    return min(float(n), p * (1.0 - p) / stderr**2)


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n)
    half = z / (1.0 + z * z / n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_bootstrap_means(
    values: ArrayLike, clusters: Sequence[object], resamples: int, seed: int
) -> NDArray[np.float64]:
    """Means of `resamples` resamples that redraw whole clusters with replacement (each example once per draw
    of its cluster), so the spread includes how clusters differ; reproducible from `seed`."""
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    array = as_values(values)
    labels = cluster_labels(clusters, array.size)
    count = int(labels.max()) + 1
    sums = np.bincount(labels, weights=array, minlength=count)
    sizes = np.bincount(labels, minlength=count).astype(np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, _BATCH_ELEMENTS // count)
    for start in range(0, resamples, step):
        stop = min(start + step, resamples)
        draws = rng.multinomial(count, np.full(count, 1.0 / count), size=stop - start).astype(np.float64)
        means[start:stop] = (draws @ sums) / (draws @ sizes)
    return means


def paired_cluster_bootstrap_ci(
    a: ArrayLike,
    b: ArrayLike,
    clusters: Sequence[object],
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> Score:
    """Mean of b - a over paired examples with a percentile interval from a bootstrap over whole clusters.

    The stderr is the clustered one; `naive` is the pair-level bootstrap (`paired_bootstrap_ci`). Below two
    clusters the naive estimate is returned.
    """
    first, second = as_pairs(a, b)
    check_confidence(confidence)
    naive = paired_bootstrap_ci(first, second, seed=seed, resamples=resamples, confidence=confidence)
    differences = second - first
    labels = cluster_labels(clusters, differences.size)
    count = int(labels.max()) + 1 if labels.size else 0
    stderr = clustered_stderr(differences, clusters) if count >= 2 else None
    if stderr is None or naive.value is None:
        return naive
    means = cluster_bootstrap_means(differences, clusters, resamples, seed)
    low, high = np.quantile(means, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return naive.model_copy(
        update={
            "stderr": stderr,
            "ci_low": float(low),
            "ci_high": float(high),
            "ci_method": "cluster-bootstrap-percentile",
            "clusters": count,
            "naive": naive,
        }
    )
