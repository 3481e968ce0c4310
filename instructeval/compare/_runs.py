"""`compare`: pair the base run with each other run task by task, test, correct, and write comparison files.

Judged tasks (writing) compare the judge's grades and pairwise win rates, knowledge-injection results compare
per probe; one knowledge run alone compares its methods against one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from instructeval.compare._flips import FlipFinder
from instructeval.compare._knowledge import (
    checkpoint_pairs,
    measured,
    method_pairs,
    probe_mismatches,
    shared_measurements,
)
from instructeval.compare._pairing import (
    PairedScores,
    pair_samples,
    protocol_mismatches,
    resolve_metric,
    shared_tasks,
)
from instructeval.compare._statistics import adjust, compare_task
from instructeval.compare._writing import graded_pairs, judging_mismatches
from instructeval.errors import InstructEvalError
from instructeval.registry import TaskInfo, all_tasks
from instructeval.results import Comparison, ModelKey
from instructeval.run import LoadedRun, load_run, write_json_atomic
from instructeval.stats import DEFAULT_RESAMPLES

BASE_METHOD = "base"
DEFAULT_MARGIN = 0.02
"""Equivalence margin in the metric's units: two points of accuracy."""


@dataclass(frozen=True)
class CompareOptions:
    """Everything `instructeval compare` accepts; `runs[0]` is the base.

    With a single knowledge-injection run, each of its methods is compared against `base_method`.
    """

    runs: tuple[Path, ...]
    metric: str | None = None
    alpha: float = 0.05
    force: bool = False
    seed: int = 1234
    resamples: int = DEFAULT_RESAMPLES
    base_method: str | None = None
    margin: float = DEFAULT_MARGIN


@dataclass(frozen=True)
class CompareOutcome:
    """One base-vs-other comparison, where it was written, and the tasks it left out (with why)."""

    comparison: Comparison
    path: Path
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class _Plan:
    other: LoadedRun
    tasks: list[str]
    knowledge: list[tuple[str, str]]
    mismatches: list[str]


def comparison_path(base: Path, other: Path) -> Path:
    """Beside the other run's results: <other>/comparison-vs-<base model folder>-<base run folder>.json."""
    return other / f"comparison-vs-{base.resolve().parent.name}-{base.resolve().name}.json"


def method_comparison_path(run: Path, base_method: str, method: str) -> Path:
    """Inside the run: <run>/comparison-methods-<method>-vs-<base method>.json."""
    return run / f"comparison-methods-{method}-vs-{base_method}.json"


def compare_runs(options: CompareOptions) -> list[CompareOutcome]:
    """Compare each run after the first against the first; refuse on protocol mismatches unless forced."""
    _check(options)
    if len(options.runs) == 1:
        return compare_methods(load_run(options.runs[0]), options)
    if options.base_method is not None:
        raise InstructEvalError(
            "--base-method compares the methods of one knowledge-injection run: pass a single run folder"
        )
    base, *others = (load_run(path) for path in options.runs)
    plans = [_plan(base, other) for other in others]
    _refuse_mismatches(plans, options.force, several=len(others) > 1)
    return [_compare_pair(base, plan, options) for plan in plans]


def _check(options: CompareOptions) -> None:
    if not options.runs:
        raise InstructEvalError("compare needs at least two run folders: the base first, then the runs to compare")
    if not 0.0 < options.alpha < 1.0:
        raise InstructEvalError(f"--alpha {options.alpha} is not a level: pass a value between 0 and 1, e.g. 0.05")
    if not options.margin > 0.0:
        raise InstructEvalError(f"--margin {options.margin} is not a margin: pass a positive difference, e.g. 0.02")
    if options.resamples < 1:
        raise InstructEvalError(f"--resamples {options.resamples} is not valid: pass a positive number, e.g. 10000")


def _plan(base: LoadedRun, other: LoadedRun) -> _Plan:
    tasks = shared_tasks(base.results, other.results)
    knowledge = shared_measurements(base, other)
    if not tasks and not knowledge:
        raise InstructEvalError(
            f"{base.path} and {other.path} have no task or knowledge measurement in common: "
            "evaluate both on the same --tasks (or inject the same --knowledge set with the same --method)"
        )
    registry = all_tasks()
    mismatches = protocol_mismatches(base.results, other.results, tasks)
    for name in tasks:
        if _judged(registry.get(name)):
            mismatches += judging_mismatches(base, other, name)
    mismatches += probe_mismatches(base, other, knowledge)
    return _Plan(other, tasks, knowledge, mismatches)


def _judged(info: TaskInfo | None) -> bool:
    return info is not None and info.judged is not None


def _refuse_mismatches(plans: list[_Plan], force: bool, *, several: bool) -> None:
    found = [f"{plan.other.path}: {m}" if several else m for plan in plans for m in plan.mismatches]
    if found and not force:
        raise InstructEvalError(
            f"the runs did not measure the same thing ({'; '.join(found)}): "
            "rerun with the same data, task files and judging, or pass --force (recorded in the comparison file)"
        )


def _compare_pair(base: LoadedRun, plan: _Plan, options: CompareOptions) -> CompareOutcome:
    other = plan.other
    registry = all_tasks()
    pairs: list[tuple[PairedScores, bool]] = []
    skipped = []
    for name in plan.tasks:
        info = registry.get(name)
        if _judged(info) and options.metric is None:
            graded = graded_pairs(base, other, name)
            if not graded:
                skipped.append(f"{name} (neither run was graded: run `instructeval judge <run>` on both)")
            pairs += [(p, False) for p in graded]
            continue
        metric = resolve_metric(base.results.tasks[name], options.metric)
        if metric is None:
            skipped.append(f"{name} (no metric {options.metric})")
            continue
        macro = info is not None and info.aggregation == "macro"
        pairs.append((pair_samples(base.path, other.path, name, metric), macro))
    pairs += [(p, False) for p in checkpoint_pairs(base, other, plan.knowledge, scorer=options.metric)]
    only = sorted(set(base.results.tasks) ^ set(other.results.tasks))
    skipped += [f"{name} (only in {base.path if name in base.results.tasks else other.path})" for name in only]
    unshared = sorted(set(measured(base)) ^ set(measured(other)))
    skipped += [f"knowledge:{kset} {method} (only in one run)" for kset, method in unshared]
    if not pairs and options.metric is None:
        raise InstructEvalError(f"nothing to compare: {'; '.join(skipped)}")
    if not pairs:
        raise InstructEvalError(f"no shared task has the metric {options.metric}: pick one the tasks report")
    flips = FlipFinder(base.path, other.path)
    comparison = _comparison(base, other, base.key, other.key, pairs, plan.mismatches, options, flips)
    path = comparison_path(base.path, other.path)
    write_json_atomic(path, comparison.model_dump(mode="json"))
    return CompareOutcome(comparison, path, tuple(skipped))


def compare_methods(run: LoadedRun, options: CompareOptions) -> list[CompareOutcome]:
    """Each knowledge-injection method of one run against its base method, probe by probe."""
    methods = list(dict.fromkeys(method for _kset, method in measured(run)))
    if len(methods) < 2:
        raise InstructEvalError(
            f"compare needs at least two run folders (base first), or one knowledge-injection run made with "
            f"two or more --method; {run.path} alone has nothing to compare"
        )
    base_method = options.base_method or (BASE_METHOD if BASE_METHOD in methods else methods[0])
    if base_method not in methods:
        raise InstructEvalError(f"--base-method {base_method} is not in {run.path}: pick one of {', '.join(methods)}")
    outcomes = []
    for method in (m for m in methods if m != base_method):
        pairs = [(p, False) for p in method_pairs(run, base_method, method, scorer=options.metric)]
        if not pairs:
            continue
        labels = (run.key.model_copy(update={"method": base_method}), run.key.model_copy(update={"method": method}))
        comparison = _comparison(run, run, *labels, pairs, [], options)
        path = method_comparison_path(run.path, base_method, method)
        write_json_atomic(path, comparison.model_dump(mode="json"))
        outcomes.append(CompareOutcome(comparison, path, ()))
    if not outcomes:
        scored = f" scored by {options.metric}" if options.metric else ""
        raise InstructEvalError(
            f"no knowledge set of {run.path} was measured{scored} with {base_method} and another method"
        )
    return outcomes


def _comparison(
    base: LoadedRun,
    other: LoadedRun,
    base_key: ModelKey,
    other_key: ModelKey,
    pairs: list[tuple[PairedScores, bool]],
    mismatches: list[str],
    options: CompareOptions,
    flips: FlipFinder | None = None,
) -> Comparison:
    rows = [
        compare_task(
            p, macro=macro, seed=options.seed, resamples=options.resamples, alpha=options.alpha, margin=options.margin
        ).model_copy(update={"flipped": flips(p) if flips else []})
        for p, macro in pairs
    ]
    return Comparison(
        base_run=str(base.path),
        other_run=str(other.path),
        base_model=base_key.label,
        other_model=other_key.label,
        base=base_key,
        other=other_key,
        alpha=options.alpha,
        margin=options.margin,
        forced=bool(mismatches),
        mismatches=mismatches,
        tasks=adjust(rows, options.alpha),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
