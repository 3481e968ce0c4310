"""Writing runs compared on what the judge decided: rubric grades per category and overall, and pairwise win rates.

Answers pair by doc hash. Grades only compare when the same judges graded with the same rubric files and
repeats; anything else is reported as a mismatch, like a changed prompt file.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from instructeval.compare._pairing import PairedScores, SampleKey, keyed, paired
from instructeval.errors import InstructEvalError
from instructeval.judge.pairwise import JUDGMENTS_FIELD as PAIRWISE_FIELD
from instructeval.judge.pairwise import combine_orders, judged_pairs
from instructeval.judge.pointwise import JUDGMENTS_FIELD as POINTWISE_FIELD
from instructeval.judge.pointwise import answer_grades
from instructeval.results import read_samples
from instructeval.run import LoadedRun
from instructeval.stats import Kind
from instructeval.writing.report import PairwiseReport, WritingReport

HEAD_TO_HEAD = "preferred head to head"
WIN_RATE = "win rate vs reference"
Values = dict[SampleKey, float]


def pointwise_report(run: LoadedRun, task: str) -> WritingReport | None:
    """The run's pointwise grading of `task`, if it has one."""
    report = run.results.writing.pointwise if run.results.writing else None
    return report if report is not None and report.task == task else None


def pairwise_report(run: LoadedRun, task: str) -> PairwiseReport | None:
    """The run's pairwise grading of `task` against a reference run, if it has one."""
    report = run.results.writing.pairwise if run.results.writing else None
    return report if report is not None and report.task == task else None


def is_graded(run: LoadedRun, task: str) -> bool:
    return pointwise_report(run, task) is not None or pairwise_report(run, task) is not None


def judging_mismatches(base: LoadedRun, other: LoadedRun, task: str) -> list[str]:
    """Every way the two runs' answers of `task` were judged differently (empty when the grades compare)."""
    found = []
    first, second = pointwise_report(base, task), pointwise_report(other, task)
    if first and second:
        rubrics = sorted(set(first.rubrics) | set(second.rubrics))
        found += _differences(
            task,
            [
                ("judges", ", ".join(first.judges), ", ".join(second.judges)),
                ("judge repeats", str(first.repeats), str(second.repeats)),
                ("judge temperature", str(first.temperature), str(second.temperature)),
                *((f"rubric {name} sha256", _rubric_hash(first, name), _rubric_hash(second, name)) for name in rubrics),
            ],
        )
    left, right = pairwise_report(base, task), pairwise_report(other, task)
    if left and right and not _is_reference(right, base.path):
        found += _differences(
            task,
            [
                ("pairwise judges", ", ".join(left.judges), ", ".join(right.judges)),
                ("pairwise judge repeats", str(left.repeats), str(right.repeats)),
                ("pairwise rubric sha256", left.rubric.sha256[:12], right.rubric.sha256[:12]),
                ("pairwise reference run", left.reference_run, right.reference_run),
            ],
        )
    return found


def _differences(task: str, items: list[tuple[str, str, str]]) -> list[str]:
    return [f"{task} {what} {left} != {right}" for what, left, right in items if left != right]


def _rubric_hash(report: WritingReport, name: str) -> str:
    info = report.rubrics.get(name)
    return info.sha256[:12] if info else "absent"


def _is_reference(report: PairwiseReport, run_dir: Path) -> bool:
    return Path(report.reference_run).resolve() == run_dir.resolve()


def graded_pairs(base: LoadedRun, other: LoadedRun, task: str) -> list[PairedScores]:
    """Per rubric (overall, then per category) the answers' grades, and the pairwise win rates; [] if ungraded.

    A run judged pairwise against the base run gives the head-to-head rates: how often each run's answer
    was preferred (both orders agreeing). Two runs judged against the same reference compare win rates.
    """
    if not is_graded(base, task) and not is_graded(other, task):
        return []
    found = []
    first, second = pointwise_report(base, task), pointwise_report(other, task)
    if first and second:
        base_rows, other_rows = _rows(base, task), _rows(other, task)
        for rubric in first.rubrics:
            found += _by_category(
                task,
                rubric,
                base_rows,
                _grades(base_rows, first.judges, rubric),
                _grades(other_rows, second.judges, rubric),
            )
    head_to_head = pairwise_report(other, task)
    if head_to_head and _is_reference(head_to_head, base.path):
        rows = _rows(other, task)
        found += _by_category(task, HEAD_TO_HEAD, rows, _rates(rows, "loss"), _rates(rows, "win"))
    elif head_to_head and pairwise_report(base, task):
        base_rows = _rows(base, task)
        found += _by_category(task, WIN_RATE, base_rows, _rates(base_rows, "win"), _rates(_rows(other, task), "win"))
    if not found:
        raise InstructEvalError(
            f"{task}: only one of {base.path} and {other.path} was graded the same way: grade both with "
            f"`instructeval judge <run>` (or pairwise against the same --reference), or compare --metric answer_words"
        )
    return found


def _rows(run: LoadedRun, task: str) -> list[tuple[SampleKey, dict[str, Any]]]:
    return keyed(read_samples(run.path, task))


def _records(sample: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [{**record, "doc_id": str(sample["doc_id"])} for record in sample.get(field) or []]


def _grades(rows: list[tuple[SampleKey, dict[str, Any]]], judges: list[str], rubric: str) -> Values:
    """Each answer's grade for the rubric, as the writing report computes it."""
    grades = {}
    for key, sample in rows:
        value = answer_grades(_records(sample, POINTWISE_FIELD), judges, rubric).get(str(sample["doc_id"]))
        if value is not None:
            grades[key] = value
    return grades


def _rates(rows: list[tuple[SampleKey, dict[str, Any]]], outcome: str) -> Values:
    """Per answer, the share of its judged pairs (judge x repeat) with this outcome; unscored pairs left out."""
    rates = {}
    for key, sample in rows:
        pairs = judged_pairs(_records(sample, PAIRWISE_FIELD)).values()
        outcomes = [o for p in pairs if (o := combine_orders(p["model_first"], p["reference_first"])) is not None]
        if outcomes:
            rates[key] = statistics.fmean(o == outcome for o in outcomes)
    return rates


def _by_category(
    task: str, metric: str, rows: list[tuple[SampleKey, dict[str, Any]]], first: Values, second: Values
) -> list[PairedScores]:
    """The overall pairing, then one per category in first-seen order (when there are several)."""
    kind: Kind | None = "bounded" if metric not in (HEAD_TO_HEAD, WIN_RATE) else None
    found = [paired(task, metric, first, second, kind=kind)]
    categories = list(dict.fromkeys(_category(sample) for _key, sample in rows))
    for name in categories if len(categories) > 1 else []:
        keys = {key for key, sample in rows if _category(sample) == name}
        found.append(
            paired(
                task,
                metric,
                {k: v for k, v in first.items() if k in keys},
                {k: v for k, v in second.items() if k in keys},
                group=name,
                kind=kind,
            )
        )
    return found


def _category(sample: dict[str, Any]) -> str:
    return str(sample.get("category", ""))
