"""What two runs share: the tasks both measured the same way, the metric to compare, and per-example scores."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from instructeval.errors import InstructEvalError
from instructeval.results import RunResults, TaskResult, read_samples
from instructeval.stats import Kind

SampleKey = tuple[str, str, int]
"""(subtask, doc_hash, occurrence): the occurrence tells apart identical examples within one subtask."""


def shared_tasks(base: RunResults, other: RunResults) -> list[str]:
    """Tasks present in both runs, in the base run's order."""
    return [name for name in base.tasks if name in other.tasks]


def protocol_mismatches(base: RunResults, other: RunResults, tasks: list[str]) -> list[str]:
    """Every way the shared tasks were measured differently: data, prompt files, protocol, chat template, and
    greedy answers against a self-consistency vote (or votes of two sizes)."""
    found = []
    for name in tasks:
        first, second = base.tasks[name], other.tasks[name]
        for what, left, right in (
            ("protocol", _protocol(first), _protocol(second)),
            ("data_hash", first.data_hash, second.data_hash),
            ("prompt_hash", first.prompt_hash, second.prompt_hash),
            ("chat_template", _chat(first), _chat(second)),
            ("self_consistency", _votes(first), _votes(second)),
        ):
            if left != right:
                found.append(f"{name} {what} {_short(left)} != {_short(right)}")
    return found


def _protocol(task: TaskResult) -> str:
    return f"{task.protocol}@{task.protocol_version}"


def _votes(task: TaskResult) -> str:
    return f"maj@{task.self_consistency}" if task.self_consistency else "greedy"


def _chat(task: TaskResult) -> str:
    return "on" if task.chat_template_applied else "off"


def _short(value: str) -> str:
    return value[:12] if len(value) == 64 else value


def resolve_metric(task: TaskResult, requested: str | None) -> str | None:
    """The `metric,filter` key to compare: the task's primary metric, or the one `requested` names.

    A bare name ("acc") matches "acc,<any filter>"; None when the task has no such metric.
    """
    if requested is None:
        return task.primary_metric
    if requested in task.metrics:
        return requested
    matches = [key for key in task.metrics if key.split(",")[0] == requested]
    if task.primary_metric in matches or len(matches) == 1:
        return task.primary_metric if task.primary_metric in matches else matches[0]
    if matches:
        raise InstructEvalError(
            f"--metric {requested} is ambiguous for {task.task} ({', '.join(matches)}): pass the full metric,filter"
        )
    return None


@dataclass(frozen=True)
class PairedScores:
    """One task's per-example scores of both runs on the examples both scored, in the same order.

    `group` names the breakdown group the scores cover (None: the whole task); `kind` fixes how each side's
    interval is computed (None: inferred from the values); `clusters` holds each pair's cluster where the task
    declares one (None otherwise); `keys` the pairing key of each pair.
    """

    task: str
    metric: str
    subtasks: tuple[str, ...]
    base: NDArray[np.float64]
    other: NDArray[np.float64]
    group: str | None = None
    kind: Kind | None = None
    clusters: tuple[str, ...] | None = None
    keys: tuple[SampleKey, ...] = ()

    def by_subtask(self) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
        """(base, other) score arrays per subtask, in first-seen order."""
        labels = np.asarray(self.subtasks)
        return [(self.base[labels == name], self.other[labels == name]) for name in dict.fromkeys(self.subtasks)]

    def clusters_by_subtask(self) -> list[tuple[str, ...]] | None:
        """Each subtask's clusters, in the order of `by_subtask` (None when the task declares none)."""
        if self.clusters is None:
            return None
        return [
            tuple(c for c, s in zip(self.clusters, self.subtasks, strict=True) if s == name)
            for name in dict.fromkeys(self.subtasks)
        ]


def pair_samples(base: Path, other: Path, task: str, metric: str) -> PairedScores:
    """Align two runs' samples of one task by (subtask, doc hash); examples either run did not score drop out.

    Where the task declares a cluster, the base run's cluster of each pair goes with it.
    """
    rows = keyed(read_samples(base, task))
    clusters = {key: str(row["cluster"]) for key, row in rows if row.get("cluster") is not None}
    return paired(task, metric, _scores(rows, metric), sample_scores(other, task, metric), clusters=clusters or None)


def paired(
    task: str,
    metric: str,
    first: dict[SampleKey, float],
    second: dict[SampleKey, float],
    *,
    group: str | None = None,
    kind: Kind | None = None,
    clusters: dict[SampleKey, str] | None = None,
) -> PairedScores:
    """The examples both sides scored, in the first side's order; `clusters` is kept only if it covers them all."""
    keys = [key for key in first if key in second]
    labels = tuple(clusters[key] for key in keys) if clusters and all(key in clusters for key in keys) else None
    return PairedScores(
        task=task,
        metric=metric,
        subtasks=tuple(key[0] for key in keys),
        base=np.array([first[key] for key in keys], dtype=np.float64),
        other=np.array([second[key] for key in keys], dtype=np.float64),
        group=group,
        kind=kind,
        clusters=labels,
        keys=tuple(keys),
    )


def keyed(rows: list[dict[str, Any]]) -> list[tuple[SampleKey, dict[str, Any]]]:
    """Each sample with its pairing key (subtask, doc hash, occurrence)."""
    seen: Counter[tuple[str, str]] = Counter()
    found = []
    for row in rows:
        example = (str(row["subtask"]), str(row["doc_hash"]))
        found.append(((*example, seen[example]), row))
        seen[example] += 1
    return found


def sample_scores(run_dir: Path, task: str, metric: str) -> dict[SampleKey, float]:
    """Per-example values of one metric, by pairing key; examples without a value are left out."""
    return _scores(keyed(read_samples(run_dir, task)), metric)


def _scores(rows: list[tuple[SampleKey, dict[str, Any]]], metric: str) -> dict[SampleKey, float]:
    scores: dict[SampleKey, float] = {}
    for key, row in rows:
        value = row["scores"].get(metric)
        if value is not None:
            scores[key] = float(value)
    return scores
