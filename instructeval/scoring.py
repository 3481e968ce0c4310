"""Per-sample records -> a task's scores with uncertainty: overall (micro or macro) and per breakdown group."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from instructeval.results import SampleRecord
from instructeval.score import Score
from instructeval.stats import Kind, macro_average, summarize, summarize_clustered

UNIT_INTERVAL = (0.0, 1.0)


def metric_kind(values: Sequence[float]) -> Kind:
    """binary for 0/1 outcomes, bounded for scores in [0, 1], continuous otherwise (picks the CI method)."""
    if all(v in (0.0, 1.0) for v in values):
        return "binary"
    if all(0.0 <= v <= 1.0 for v in values):
        return "bounded"
    return "continuous"


def estimate(values: Sequence[float], seed: int, clusters: Sequence[str] | None = None) -> Score:
    """Mean, stderr and 95 % CI of one metric's per-sample values; clustered when each has a cluster."""
    if clusters is not None:
        return summarize_clustered(list(values), clusters, kind=metric_kind(values), seed=seed)
    return summarize(list(values), kind=metric_kind(values), seed=seed)


def _values(records: Sequence[SampleRecord], metric: str) -> list[float]:
    return [v for r in records if (v := r.scores.get(metric)) is not None]


def _clusters(records: Sequence[SampleRecord], metric: str) -> list[str] | None:
    """The clusters of the records that have a value of `metric`, or None when the task declares none."""
    clusters = [r.cluster for r in records if r.scores.get(metric) is not None]
    if not clusters or any(c is None for c in clusters):
        return None
    return [str(c) for c in clusters]


def metric_estimate(records: Sequence[SampleRecord], metric: str, seed: int) -> Score:
    """One metric over the records: clustered where the task declares a cluster, naive otherwise."""
    return estimate(_values(records, metric), seed, _clusters(records, metric))


def metric_names(records: Sequence[SampleRecord]) -> list[str]:
    """Every metric key present in the records, in first-seen order."""
    return list(dict.fromkeys(key for r in records for key in r.scores))


def task_scores(records: Sequence[SampleRecord], aggregation: str, seed: int) -> dict[str, Score]:
    """Headline scores: micro pools every example; macro averages the subtasks' means (BBH, MGSM).

    Where the task declares a cluster (DROP: the passage), stderr and CI are the clustered ones, and each score
    keeps the naive ones under `naive`.
    """
    scores: dict[str, Score] = {}
    by_subtask: dict[str, list[SampleRecord]] = defaultdict(list)
    for record in records:
        by_subtask[record.subtask].append(record)
    for metric in metric_names(records):
        if aggregation == "macro" and len(by_subtask) > 1:
            parts = [metric_estimate(group, metric, seed) for group in by_subtask.values()]
            bounded = metric_kind(_values(records, metric)) != "continuous"
            scores[metric] = macro_average(parts, bounds=UNIT_INTERVAL if bounded else None)
        else:
            scores[metric] = metric_estimate(records, metric, seed)
    return scores


def breakdowns(records: Sequence[SampleRecord], seed: int) -> dict[str, dict[str, dict[str, Score]]]:
    """Per breakdown kind (subject, category, language...) and group: every metric's score."""
    grouped: dict[str, dict[str, list[SampleRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        for kind, group in record.groups.items():
            grouped[kind][group].append(record)
    return {
        kind: {
            group: {metric: metric_estimate(members, metric, seed) for metric in metric_names(members)}
            for group, members in sorted(groups.items())
        }
        for kind, groups in grouped.items()
    }
