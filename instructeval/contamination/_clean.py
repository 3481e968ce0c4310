"""A finished run re-scored on each task's clean subset: full, clean and dirty scores and dirty - clean."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from instructeval.contamination._check import data_hash
from instructeval.errors import InstructEvalError
from instructeval.registry import all_tasks
from instructeval.results import (
    CleanSubsetScore,
    ContaminationResult,
    RunResults,
    SampleRecord,
    TaskContamination,
    read_records,
    samples_path,
)
from instructeval.score import Score
from instructeval.scoring import metric_kind, task_scores
from instructeval.stats import difference_of_independent_means, summarize, two_sample_test


def rescore_clean(run_dir: Path, results: RunResults, overlap: ContaminationResult) -> ContaminationResult:
    """Every task of the run that the overlap report checked, narrowed to the subtasks the run scored, and scored
    as the run scores it on all, clean and dirty examples."""
    tasks = {}
    for name, task_result in results.tasks.items():
        checked = overlap.tasks.get(name)
        if checked is None:
            continue
        records = read_records(samples_path(run_dir, name))
        by_subtask: dict[str, list[str]] = defaultdict(list)
        for record in records:
            by_subtask[record.subtask].append(record.doc_hash)
        if any(
            (s := checked.subtasks.get(subtask)) is None or s.data_hash != data_hash(hashes)
            for subtask, hashes in by_subtask.items()
        ):
            raise InstructEvalError(
                f"the overlap report checked other {name} examples than {run_dir} scored (another --limit or data "
                f"folder): check the run's own examples with `instructeval contamination --run {run_dir} --corpus ...`"
            )
        checked = _narrowed(checked, set(by_subtask))
        info = all_tasks().get(name)
        aggregation = info.aggregation if info else "micro"
        tasks[name] = checked.model_copy(
            update={
                "clean_subset": _clean_subset(
                    records, checked, task_result.primary_metric, aggregation, results.run.seed
                )
            }
        )
    if not tasks:
        raise InstructEvalError(
            f"the overlap report checked none of {run_dir}'s tasks ({', '.join(results.tasks)}): check them with "
            f"`instructeval contamination --run {run_dir} --corpus ...`"
        )
    return overlap.model_copy(update={"tasks": tasks})


def _narrowed(checked: TaskContamination, subtasks: set[str]) -> TaskContamination:
    """The overlap of the given subtasks only (a report on all of MMLU, a run on some subjects)."""
    kept = {name: part for name, part in checked.subtasks.items() if name in subtasks}
    contaminated = [e for e in checked.contaminated if e.subtask in subtasks]
    checkable = sum(part.checkable for part in kept.values())
    flags = [1.0] * len(contaminated) + [0.0] * (checkable - len(contaminated))
    return checked.model_copy(
        update={
            "examples": sum(part.examples for part in kept.values()),
            "checkable": checkable,
            "subtasks": kept,
            "contaminated": contaminated,
            "contaminated_share": summarize(flags, kind="binary"),
        }
    )


def _clean_subset(
    records: list[SampleRecord], checked: TaskContamination, metric: str, aggregation: str, seed: int
) -> CleanSubsetScore:
    dirty_keys = {(example.subtask, example.doc_hash) for example in checked.contaminated}
    dirty = [r for r in records if (r.subtask, r.doc_hash) in dirty_keys]
    clean = [r for r in records if (r.subtask, r.doc_hash) not in dirty_keys]
    scores = [_score(subset, metric, aggregation, seed) for subset in (records, clean, dirty)]
    difference = difference_of_independent_means(scores[1], scores[2])
    values = [[v for r in subset if (v := r.scores.get(metric)) is not None] for subset in (clean, dirty)]
    test = two_sample_test(values[1], values[0], metric_kind(values[0] + values[1]))
    return CleanSubsetScore(
        metric=metric,
        full=scores[0],
        clean=scores[1],
        dirty=scores[2],
        dirty_minus_clean=difference,
        test=test.name,
        p_value=test.p_value if test.statistic is not None else None,
    )


def _score(records: list[SampleRecord], metric: str, aggregation: str, seed: int) -> Score:
    return task_scores(records, aggregation, seed).get(metric) or Score(value=None, n=0)
