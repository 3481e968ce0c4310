"""`plan`: how many examples a base-vs-tuned comparison needs to detect a given paired difference.

The paired t-test on per-example differences needs n = f(sd of one difference, effect, alpha, power) pairs
(`stats.pairs_needed`). The sd comes from a baseline run when one is given (its comparison file's observed
differences, or else its own per-example spread with the two runs' errors taken as independent), and is the
worst case of a 0/1 score otherwise. Clustered tasks multiply n by the baseline's design effect.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instructeval.data.source import DataSource
from instructeval.errors import InstructEvalError
from instructeval.registry import TaskInfo
from instructeval.results import Comparison
from instructeval.run import load_run
from instructeval.score import Score
from instructeval.stats import POWER, minimum_detectable_effect, pairs_needed

WORST_CASE_SD = math.sqrt(0.5)
"""The largest sd of one paired difference of scores in [0, 1] from two runs with independent errors: each
score's variance is at most 1/4 (a 0/1 score at accuracy 0.5), so the difference's is at most 1/2."""


@dataclass(frozen=True)
class TaskPlan:
    """One task's answer: the pairs needed, the `--limit` that gives them, and where the numbers came from."""

    task: str
    metric: str
    available: int
    sd: float
    sd_source: str  # worst case, comparison (the baseline's comparison file) or baseline (its own spread)
    design_effect: float
    needed: int
    limit: int | None
    reachable: bool
    mde_at_full_size: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return dict(self.__dict__)


def plan_task(
    info: TaskInfo,
    sizes: dict[str, int],
    effect: float,
    *,
    baseline: Path | None = None,
    alpha: float = 0.05,
    power: float = POWER,
) -> TaskPlan:
    """The plan for one task given its subtasks' sizes; `baseline` (a run folder) supplies sd and design effect."""
    metric, sd, source, design_effect = _spread(info, baseline)
    needed = pairs_needed(sd, effect, alpha, power, design_effect)
    available = sum(sizes.values())
    limit = limit_for(sizes, needed)
    full = available / design_effect
    mde = minimum_detectable_effect(sd / math.sqrt(full), full - 1, alpha, power) if full > 1 else None
    return TaskPlan(info.name, metric, available, sd, source, design_effect, needed, limit, limit is not None, mde)


def limit_for(sizes: dict[str, int], needed: int) -> int | None:
    """The smallest --limit L (first L examples of each subtask) with sum(min(L, size)) >= needed; None if none."""
    if sum(sizes.values()) < needed:
        return None
    low, high = 0, max(sizes.values())
    while low + 1 < high:
        middle = (low + high) // 2
        if sum(min(middle, size) for size in sizes.values()) >= needed:
            high = middle
        else:
            low = middle
    return high


def _spread(info: TaskInfo, baseline: Path | None) -> tuple[str, float, str, float]:
    """(metric, sd of one paired difference, where it came from, design effect)."""
    if baseline is None:
        if info.judged is not None:
            raise InstructEvalError(
                f"{info.name} is graded by a judge on its own scale: pass --baseline RUN (a judged run) to plan it"
            )
        return info.primary_metric, WORST_CASE_SD, "worst case", 1.0
    run = load_run(baseline)
    task = run.results.tasks.get(info.name)
    if task is None:
        raise InstructEvalError(f"--baseline {baseline} has no {info.name}: run it on that task, or leave it out")
    score = task.metrics[task.primary_metric]
    design_effect = _design_effect(score)
    observed = _observed_difference_sd(baseline, info.name, task.primary_metric)
    if observed is not None:
        return task.primary_metric, observed, "comparison", design_effect
    naive = score.naive or score
    if naive.stderr is None or naive.stderr == 0.0:
        raise InstructEvalError(
            f"--baseline {baseline}: {info.name} has no spread to plan from (n = {score.n}); use a larger run"
        )
    sd = math.sqrt(2.0) * naive.stderr * math.sqrt(naive.n)
    return task.primary_metric, sd, "baseline", design_effect


def _design_effect(score: Score) -> float:
    """Clustered over naive variance of the baseline's headline (1 when the task declares no clusters)."""
    if score.naive is None or not score.stderr or not score.naive.stderr:
        return 1.0
    return max(1.0, (score.stderr / score.naive.stderr) ** 2)


def _observed_difference_sd(baseline: Path, task: str, metric: str) -> float | None:
    """The sd of one paired difference in the newest comparison file of `baseline` that covers the task."""
    for path in sorted(baseline.glob("comparison-vs-*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        comparison = Comparison.model_validate_json(path.read_text(encoding="utf-8"))
        for row in comparison.tasks:
            difference = row.difference.naive or row.difference
            if row.task == task and row.group is None and row.metric == metric and difference.stderr:
                return difference.stderr * math.sqrt(row.n_paired)
    return None


def subtask_sizes(info: TaskInfo, source: DataSource) -> dict[str, int]:
    """Each subtask's test examples, read through lm-eval exactly as a run reads them."""
    from lm_eval.tasks import TaskManager

    from instructeval.paths import TASKS_DIR

    metadata = {"data_source": source.kind, "data_dir": str(source.root) if source.root else None, "limit": None}
    logger = logging.getLogger("lm_eval")
    level = logger.level
    logger.setLevel(logging.ERROR)  # lm-eval notes each task's metadata kwargs at WARNING
    try:
        manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
        loaded = manager.load(list(info.lm_eval_names))
    finally:
        logger.setLevel(level)
    return {name: len(task.eval_docs) for name, task in loaded["tasks"].items()}
