"""One task's paired comparison (both scores, the difference with its CI, the paired test) and Holm across tasks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np
from numpy.typing import NDArray

from instructeval.compare._pairing import PairedScores
from instructeval.results import PairedTaskComparison, Verdict
from instructeval.score import Score
from instructeval.scoring import UNIT_INTERVAL, metric_kind
from instructeval.stats import (
    Kind,
    cluster_bootstrap_means,
    clustered_stderr,
    equivalence_test,
    holm_bonferroni,
    macro_average,
    minimum_detectable_effect,
    paired_bootstrap_ci,
    paired_cluster_bootstrap_ci,
    paired_test,
    summarize,
    summarize_clustered,
    wins_losses_ties,
)

Pairs = tuple[NDArray[np.float64], NDArray[np.float64]]


def compare_task(
    paired: PairedScores,
    *,
    macro: bool,
    seed: int,
    resamples: int,
    alpha: float = 0.05,
    margin: float | None = None,
) -> PairedTaskComparison:
    """Scores, difference (other - base) and test for one task; p_adjusted and the verdict are left for `adjust`.

    Each side's interval follows `paired.kind` (inferred from the values when None). With `macro` (tasks
    whose headline averages subtask means, e.g. BBH, HHH) both scores and the difference are averaged over
    subtasks like the headline is, so difference = other - base exactly, and the difference's interval comes
    from a bootstrap stratified by subtask. Where the task declares clusters (DROP: passages), both scores
    carry clustered intervals like the run's headline, and the bootstrap redraws whole clusters. The test
    always uses every pair: exact McNemar for 0/1 outcomes, a seeded sign-flip permutation test for graded
    scores. From the difference's stderr (clustered where declared) come the minimum detectable effect at 80 %
    power and, with a `margin`, the equivalence test (TOST).
    """
    n = int(paired.base.size)
    if n == 0:
        missing = Score(value=None, n=0)
        return PairedTaskComparison(
            task=paired.task,
            metric=paired.metric,
            group=paired.group,
            n_paired=0,
            base=missing,
            other=missing,
            difference=missing,
            test="none (no paired examples)",
            p_value=None,
            p_adjusted=None,
            significant=False,
            wins=0,
            losses=0,
            ties=0,
        )
    kind = paired.kind or metric_kind(np.concatenate([paired.base, paired.other]).tolist())
    groups = paired.by_subtask() if macro else [(paired.base, paired.other)]
    clusters = paired.clusters_by_subtask() if macro else (None if paired.clusters is None else [paired.clusters])
    if len(groups) == 1:
        labels = None if clusters is None else clusters[0]
        base, other = (_side(side, labels, kind, seed, resamples) for side in groups[0])
        if labels is None:
            difference = paired_bootstrap_ci(paired.base, paired.other, seed=seed, resamples=resamples)
        else:
            difference = paired_cluster_bootstrap_ci(paired.base, paired.other, labels, seed=seed, resamples=resamples)
    else:
        bounds = None if kind == "continuous" else UNIT_INTERVAL
        labels_by_group: list[Sequence[str] | None] = list(clusters) if clusters else [None] * len(groups)
        base, other = (
            macro_average(
                [
                    _side(side, labels, kind, seed, resamples)
                    for side, labels in zip(sides, labels_by_group, strict=True)
                ],
                bounds=bounds,
            )
            for sides in zip(*groups, strict=True)
        )
        difference = stratified_paired_bootstrap_ci(groups, seed=seed, resamples=resamples, clusters=clusters)
    test = paired_test(paired.base, paired.other, kind, seed=seed, resamples=resamples)
    counts = wins_losses_ties(paired.base, paired.other)
    mde, equivalence_p = _decision_inputs(difference, alpha, margin)
    return PairedTaskComparison(
        task=paired.task,
        metric=paired.metric,
        group=paired.group,
        n_paired=n,
        base=base,
        other=other,
        difference=difference,
        test=test.name,
        p_value=test.p_value,
        p_adjusted=None,
        significant=False,
        wins=counts.wins,
        losses=counts.losses,
        ties=counts.ties,
        equivalence_p=equivalence_p,
        mde=mde,
    )


def _decision_inputs(difference: Score, alpha: float, margin: float | None) -> tuple[float | None, float | None]:
    """(MDE at 80 % power, TOST p) from the paired t statistics: df = C - 1 with clusters, n - 1 without."""
    if difference.value is None or difference.stderr is None:
        return None, None
    df = (difference.clusters or difference.n) - 1
    if df < 1:
        return None, None
    mde = minimum_detectable_effect(difference.stderr, df, alpha)
    if margin is None:
        return mde, None
    return mde, equivalence_test(difference.value, difference.stderr, df, margin).p_value


def verdict(row: PairedTaskComparison, alpha: float) -> Verdict:
    """better / worse when Holm rejects 'no difference', equivalent when TOST shows |difference| < margin."""
    if row.significant and row.difference.value is not None and row.difference.value != 0.0:
        return "better" if row.difference.value > 0 else "worse"
    if row.equivalence_p is not None and row.equivalence_p < alpha:
        return "equivalent"
    return "inconclusive"


def _side(values: NDArray[np.float64], clusters: Sequence[str] | None, kind: Kind, seed: int, resamples: int) -> Score:
    """One run's score on the pairs, computed like its headline (clustered where the task declares clusters)."""
    if clusters is None:
        return summarize(values, kind=kind, seed=seed, resamples=resamples)
    return summarize_clustered(values, clusters, kind=kind, seed=seed, resamples=resamples)


def stratified_paired_bootstrap_ci(
    groups: Sequence[Pairs],
    *,
    seed: int,
    resamples: int,
    confidence: float = 0.95,
    clusters: Sequence[Sequence[str]] | None = None,
) -> Score:
    """Macro average over subtasks of mean(other - base), with a percentile interval from a paired bootstrap
    that redraws pairs within each subtask (subtask sizes stay fixed, as in the headline they average), or
    whole clusters within each subtask when `clusters` gives each group's labels.

    The stderr is the analytic sqrt(sum se_s^2) / k with each subtask's naive or clustered stderr (None when
    a subtask has fewer than two pairs, or two clusters).
    """
    differences = [np.asarray(other - base, dtype=np.float64) for base, other in groups]
    n = sum(int(d.size) for d in differences)
    if not differences or any(d.size == 0 for d in differences):
        return Score(value=None, stderr=None, ci_low=None, ci_high=None, n=n, ci_method=None, confidence=confidence)
    value = math.fsum(float(d.mean()) for d in differences) / len(differences)
    if clusters is None:
        errors = [float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else None for d in differences]
    else:
        errors = [clustered_stderr(d, labels) for d, labels in zip(differences, clusters, strict=True)]
    stderr = None if None in errors else math.sqrt(math.fsum(e**2 for e in errors if e is not None)) / len(errors)
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for i, d in enumerate(differences):
        if clusters is not None:
            means += cluster_bootstrap_means(d, clusters[i], resamples, seed + 1 + i)
            continue
        distinct, counts = np.unique(d, return_counts=True)  # scores are discrete: draw counts, not indices
        means += rng.multinomial(d.size, counts / d.size, size=resamples) @ distinct / d.size
    means /= len(differences)
    low, high = np.quantile(means, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    method = "stratified-bootstrap-percentile" if clusters is None else "stratified-cluster-bootstrap-percentile"
    return Score(
        value=value,
        stderr=stderr,
        ci_low=float(low),
        ci_high=float(high),
        n=n,
        ci_method=method,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def adjust(rows: Sequence[PairedTaskComparison], alpha: float) -> list[PairedTaskComparison]:
    """Holm-Bonferroni over the tasks that have a p-value; a row is significant when Holm rejects it at alpha.

    Each tested row then gets its verdict.
    """
    tested = [i for i, row in enumerate(rows) if row.p_value is not None]
    holm = holm_bonferroni([cast(float, rows[i].p_value) for i in tested], alpha=alpha)
    adjusted = list(rows)
    for i, p_adjusted, reject in zip(tested, holm.adjusted, holm.reject, strict=True):
        row = rows[i].model_copy(update={"p_adjusted": p_adjusted, "significant": reject})
        adjusted[i] = row.model_copy(update={"verdict": verdict(row, alpha)})
    return adjusted
