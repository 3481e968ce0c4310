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
    samples_path,
)
from instructeval.samples import read_records
from instructeval.score import Score
from instructeval.stats import difference_of_independent_means, two_sample_test
from instructeval.summary import metric_kind, task_scores


def rescore_clean(run_dir: Path, results: RunResults, overlap: ContaminationResult) -> ContaminationResult:
    """Every task of the run that the overlap report checked, scored as the run scores it, on each subset."""
    tasks = dict(overlap.tasks)
    for name, task_result in results.tasks.items():
        checked = tasks.get(name)
        if checked is None:
            continue
        records = read_records(samples_path(run_dir, name))
        by_subtask: dict[str, list[str]] = defaultdict(list)
        for record in records:
            by_subtask[record.subtask].append(record.doc_hash)
        if any(checked.subtask_data_hashes.get(s) != data_hash(h) for s, h in by_subtask.items()):
            raise InstructEvalError(
                f"the overlap report checked other {name} examples than {run_dir} scored (another --limit or data "
                f"folder): check the run's own examples with `instructeval contamination --run {run_dir} --corpus ...`"
            )
        info = all_tasks().get(name)
        aggregation = info.aggregation if info else "micro"
        tasks[name] = checked.model_copy(
            update={
                "clean_subset": _clean_subset(
                    records, checked, task_result.primary_metric, aggregation, results.run.seed
                )
            }
        )
    return overlap.model_copy(update={"tasks": tasks})


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
