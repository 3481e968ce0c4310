"""Paired comparison of runs on the same examples: `compare_runs(CompareOptions(runs=(base, other, ...)))`.

One knowledge-injection run alone compares its methods: `compare_runs(CompareOptions(runs=(run,)))`.
"""

from instructeval.compare._pairing import PairedScores, pair_samples, protocol_mismatches, resolve_metric
from instructeval.compare._plan import TaskPlan, limit_for, plan_task, subtask_sizes
from instructeval.compare._render import (
    comparison_markdown,
    comparison_table,
    comparisons_json,
    regressions,
    row_label,
)
from instructeval.compare._runs import (
    DEFAULT_MARGIN,
    CompareOptions,
    CompareOutcome,
    compare_methods,
    compare_runs,
    comparison_path,
    method_comparison_path,
)
from instructeval.compare._statistics import adjust, compare_task, stratified_paired_bootstrap_ci

__all__ = [
    "DEFAULT_MARGIN",
    "CompareOptions",
    "CompareOutcome",
    "PairedScores",
    "TaskPlan",
    "adjust",
    "compare_methods",
    "compare_runs",
    "compare_task",
    "comparison_markdown",
    "comparison_path",
    "comparison_table",
    "comparisons_json",
    "limit_for",
    "method_comparison_path",
    "pair_samples",
    "plan_task",
    "protocol_mismatches",
    "regressions",
    "resolve_metric",
    "row_label",
    "stratified_paired_bootstrap_ci",
    "subtask_sizes",
]
